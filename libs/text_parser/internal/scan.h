// Word-at-a-time scanning for the text parser: finding the end of a label value or of a
// sample value 8 bytes per step instead of one. Most such tokens are shorter than 8 bytes, so
// the usual case is a single step with no loop branch to mispredict.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_SCAN_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_SCAN_H_

#include <cstdint>
#include <cstring>

#include "absl/base/config.h"
#include "absl/numeric/bits.h"

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

// The first byte in [p, limit) that `word_hits` flags, or limit. `word_hits(w)` returns the
// high bit of every byte of the 8-byte little-endian word `w` that stops the scan (exact for
// the lowest one); `byte_stops(c)` says the same of one byte. Whole words are read while they
// fit before `readable_end` (>= limit), which may lie past `limit`: a token near the end of a
// line is still found in one step, and bytes past `limit` are read but never reported.
template <typename WordHits, typename ByteStops>
inline const char* FindFirst(const char* p, const char* limit, const char* readable_end,
                             WordHits word_hits, ByteStops byte_stops) {
#ifdef ABSL_IS_LITTLE_ENDIAN
  while (p < limit && readable_end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    const uint64_t hits = word_hits(word);
    if (hits != 0) {
      const char* hit = p + (absl::countr_zero(hits) >> 3);
      return hit < limit ? hit : limit;
    }
    p += 8;
  }
  if (p >= limit) return limit;
#endif
  while (p < limit && !byte_stops(static_cast<unsigned char>(*p))) ++p;
  return p;
}

// The end of the plain run in a label value: the first '"', '\\' or non-ASCII byte.
inline const char* FindValueStop(const char* p, const char* limit, const char* readable_end) {
  return FindFirst(
      p, limit, readable_end,
      [](uint64_t w) { return BytesEqual(w, '"') | BytesEqual(w, '\\') | (w & kHighs); },
      [](unsigned char c) { return c == '"' || c == '\\' || c >= 0x80; });
}

// The first space or tab.
inline const char* FindBlank(const char* p, const char* limit, const char* readable_end) {
  return FindFirst(
      p, limit, readable_end, [](uint64_t w) { return BytesEqual(w, ' ') | BytesEqual(w, '\t'); },
      [](unsigned char c) { return c == ' ' || c == '\t'; });
}

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_SCAN_H_
