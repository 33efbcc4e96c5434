// Word-at-a-time scanning for the text parser: finding the end of a metric or label name, a
// label value or a sample value 8 bytes per step instead of one, and comparing names a word at
// a time. Most such tokens are shorter than 8 bytes, so the usual case is a single step with
// no loop branch to mispredict.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_SCAN_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_SCAN_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "absl/base/config.h"
#include "absl/numeric/bits.h"
#include "absl/strings/string_view.h"

namespace pushgate {
namespace text_parser_internal {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// The high bit of each byte of `word` that equals `c`. Only the lowest flagged byte is sure
// to be a match (a borrow can flag bytes above a real one), which is all a forward scan needs.
constexpr uint64_t BytesEqual(uint64_t word, unsigned char c) {
  const uint64_t x = word ^ (kOnes * c);
  return (x - kOnes) & ~x & kHighs;
}

// The high bit of each byte of `word` that equals `c`, exactly (no borrow between bytes), for
// use inside a class that is then negated.
constexpr uint64_t BytesEqualExact(uint64_t word, unsigned char c) {
  const uint64_t x = word ^ (kOnes * c);
  return ~(((x & ~kHighs) + ~kHighs) | x) & kHighs;
}

// The high bit of each byte of `word` in [lo, hi], exactly, for bytes below 0x80 (the caller
// masks the others out). Adding 0x80 - lo sets the high bit from lo up, adding 0x7f - hi from
// hi + 1 up; neither sum carries into the next byte.
constexpr uint64_t BytesInRange(uint64_t word, unsigned char lo, unsigned char hi) {
  const uint64_t low7 = word & ~kHighs;
  return (low7 + kOnes * (0x80 - lo)) & ~(low7 + kOnes * (0x7f - hi)) & kHighs;
}

// The high bit of each byte of `word` that is a label name character, [a-zA-Z0-9_].
constexpr uint64_t LabelCharBytes(uint64_t word) {
  const uint64_t ascii = ~word & kHighs;
  // Setting 0x20 folds A-Z onto a-z and moves no other byte into a-z.
  const uint64_t letters = BytesInRange(word | (kOnes * 0x20), 'a', 'z');
  return (letters | BytesInRange(word, '0', '9') | BytesEqualExact(word, '_')) & ascii;
}

// The scanners below find the first byte of a class, given as a struct with
//   static unsigned VectorHits(__m128i v): bit i set where byte i of `v` is in the class (with
//       SSE2: x86-64 always has it),
//   static uint64_t WordHits(uint64_t w): the high bit of every byte of the 8-byte
//       little-endian word `w` in the class (exact for the lowest one),
//   static bool Byte(unsigned char c): whether `c` is.
//
// The first byte in [p, limit) of the class, or limit. 16 bytes, then 8 bytes are read at a
// time while they fit before `readable_end` (>= limit), which may lie past `limit`: a token near
// the end of a line is still found in one step, and bytes past `limit` are read but never
// reported.
template <typename Class>
inline const char* FindFirst(const char* p, const char* limit, const char* readable_end) {
#ifdef __SSE2__
  while (p < limit && readable_end - p >= 16) {
    const unsigned hits = Class::VectorHits(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    if (hits != 0) {
      const char* hit = p + absl::countr_zero(hits);
      return hit < limit ? hit : limit;
    }
    p += 16;
  }
#endif
#ifdef ABSL_IS_LITTLE_ENDIAN
  while (p < limit && readable_end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    const uint64_t hits = Class::WordHits(word);
    if (hits != 0) {
      const char* hit = p + (absl::countr_zero(hits) >> 3);
      return hit < limit ? hit : limit;
    }
    p += 8;
  }
  if (p >= limit) return limit;
#endif
  while (p < limit && !Class::Byte(static_cast<unsigned char>(*p))) ++p;
  return p;
}

#ifdef __SSE2__
// Bytes of `v` equal to `c`: 0xff, others 0.
inline __m128i VectorEqual(__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); }
// Bytes of `v` in [lo, hi] (both below 0x80): 0xff. Signed compares suffice, bytes from 0x80
// up being negative.
inline __m128i VectorInRange(__m128i v, char lo, char hi) {
  return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(lo - 1))),
                       _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(hi + 1))));
}
// Bytes of `v` that are [a-zA-Z0-9_]: 0xff.
inline __m128i VectorLabelChars(__m128i v) {
  // Setting 0x20 folds A-Z onto a-z and moves no other byte into a-z.
  const __m128i letters = VectorInRange(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
  return _mm_or_si128(_mm_or_si128(letters, VectorInRange(v, '0', '9')), VectorEqual(v, '_'));
}
inline unsigned Hits(__m128i flags) { return static_cast<unsigned>(_mm_movemask_epi8(flags)); }
#endif

// What ends the plain run in a label value: '"', '\\', '\n' or a byte from 0x80 up. A caller
// that split the body into lines never meets the newline before its limit; one that scans the
// body as a whole stops there instead of running into the next line.
struct ValueStop {
#ifdef __SSE2__
  static unsigned VectorHits(__m128i v) {
    // movemask takes each byte's top bit: the compares' 0xff, and v's own bytes from 0x80 up.
    return Hits(_mm_or_si128(_mm_or_si128(VectorEqual(v, '"'), VectorEqual(v, '\\')),
                             _mm_or_si128(VectorEqual(v, '\n'), v)));
  }
#endif
  static uint64_t WordHits(uint64_t w) {
    return BytesEqual(w, '"') | BytesEqual(w, '\\') | BytesEqual(w, '\n') | (w & kHighs);
  }
  static bool Byte(unsigned char c) { return c == '"' || c == '\\' || c == '\n' || c >= 0x80; }
};

// What ends a label name: anything but [a-zA-Z0-9_].
struct NotLabelChar {
#ifdef __SSE2__
  static unsigned VectorHits(__m128i v) { return ~Hits(VectorLabelChars(v)) & 0xffff; }
#endif
  static uint64_t WordHits(uint64_t w) { return ~LabelCharBytes(w) & kHighs; }
  static bool Byte(unsigned char c) {
    return !((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') && c != '_';
  }
};

// What ends a metric name: anything but [a-zA-Z0-9_:].
struct NotMetricChar {
#ifdef __SSE2__
  static unsigned VectorHits(__m128i v) {
    return ~Hits(_mm_or_si128(VectorLabelChars(v), VectorEqual(v, ':'))) & 0xffff;
  }
#endif
  static uint64_t WordHits(uint64_t w) {
    return ~(LabelCharBytes(w) | BytesEqualExact(w, ':')) & kHighs;
  }
  static bool Byte(unsigned char c) { return NotLabelChar::Byte(c) && c != ':'; }
};

// Space and tab.
struct Blank {
#ifdef __SSE2__
  static unsigned VectorHits(__m128i v) {
    return Hits(_mm_or_si128(VectorEqual(v, ' '), VectorEqual(v, '\t')));
  }
#endif
  static uint64_t WordHits(uint64_t w) { return BytesEqual(w, ' ') | BytesEqual(w, '\t'); }
  static bool Byte(unsigned char c) { return c == ' ' || c == '\t'; }
};

// What ends a token in a body scanned as a whole: space, tab, '\r' and '\n'.
struct TokenStop {
#ifdef __SSE2__
  static unsigned VectorHits(__m128i v) {
    return Hits(_mm_or_si128(_mm_or_si128(VectorEqual(v, ' '), VectorEqual(v, '\t')),
                             _mm_or_si128(VectorEqual(v, '\r'), VectorEqual(v, '\n'))));
  }
#endif
  static uint64_t WordHits(uint64_t w) {
    return BytesEqual(w, ' ') | BytesEqual(w, '\t') | BytesEqual(w, '\r') | BytesEqual(w, '\n');
  }
  static bool Byte(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
};

// The end of the plain run in a label value (ValueStop).
inline const char* FindValueStop(const char* p, const char* limit, const char* readable_end) {
  return FindFirst<ValueStop>(p, limit, readable_end);
}

// FindValueStop for the fast path, which asks for the ends of a line's label values one after
// the other, each from where the last one ended. Scanning from each answer makes every question
// wait for the last one's load. This classifies the 64 bytes from where the labels start (then
// from where a question falls past them) with four loads that wait for nothing, and answers the
// questions inside with a shift and a bit count.
class ValueStopFinder {
 public:
  // For a body ending at `end`; first questions expected at `from` or a little after.
  ValueStopFinder(const char* from, const char* end) : end_(end) { Classify(from); }

  // FindValueStop(p, end, end): the first ValueStop byte at or after `p`, or the end.
  const char* Next(const char* p) {
    uint64_t hits = 0;
    if (window_ != nullptr && static_cast<size_t>(p - window_) < 64) hits = stops_ >> (p - window_);
    if (hits == 0 && Classify(p)) hits = stops_;
    return hits != 0 ? p + absl::countr_zero(hits) : FindValueStop(p, end_, end_);
  }

 private:
  // Describes the 64 bytes from `p` if they lie in the body.
  bool Classify(const char* p) {
#ifdef __SSE2__
    if (end_ - p < 64) return false;
    window_ = p;
    stops_ = 0;
    for (int k = 0; k < 4; ++k) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
      stops_ |= static_cast<uint64_t>(ValueStop::VectorHits(bytes)) << (16 * k);
    }
    return true;
#else
    return false;
#endif
  }

  const char* const end_;
  const char* window_ = nullptr;  // where the 64 bytes stops_ describes begin, if any
  uint64_t stops_ = 0;            // bit i: window_[i] is a ValueStop
};

// The end of a label name: the first byte that is not [a-zA-Z0-9_].
inline const char* FindLabelNameEnd(const char* p, const char* limit, const char* readable_end) {
  return FindFirst<NotLabelChar>(p, limit, readable_end);
}

// The end of a metric name: the first byte that is not [a-zA-Z0-9_:].
inline const char* FindMetricNameEnd(const char* p, const char* limit, const char* readable_end) {
  return FindFirst<NotMetricChar>(p, limit, readable_end);
}

// The end of a token in a body scanned as a whole: the first space, tab, '\r' or '\n'.
inline const char* FindTokenEnd(const char* p, const char* limit, const char* readable_end) {
  return FindFirst<TokenStop>(p, limit, readable_end);
}

// The first space or tab.
inline const char* FindBlank(const char* p, const char* limit, const char* readable_end) {
  return FindFirst<Blank>(p, limit, readable_end);
}

// Whether the `n` bytes at `a` and `b` are the same. The parser compares names of a few to a
// few dozen bytes on every sample; inline word compares cost less than a call to memcmp.
inline bool EqualBytes(const char* a, const char* b, size_t n) {
  const auto load64 = [](const char* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  const auto load32 = [](const char* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  if (n >= 8) {
    // Whole words, then the last 8 bytes, overlapping what was compared.
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (load64(a + i) != load64(b + i)) return false;
    }
    return load64(a + n - 8) == load64(b + n - 8);
  }
  if (n >= 4) return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
  // 0 to 3 bytes.
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Whether `a` and `b` hold the same bytes: string_view's == without the call to memcmp.
inline bool SameText(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && EqualBytes(a.data(), b.data(), a.size());
}

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_SCAN_H_
