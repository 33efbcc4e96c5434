#include "libs/line_protocol/line_protocol.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "absl/base/attributes.h"
#include "absl/base/config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace pushgate {
namespace {

// Below 2^53 every integer is a double and the shortest fixed form std::to_chars picks has
// the shortest round-trip digits; from there on it may print the exact binary value instead
// (12345678901234567168 rather than 12345678901234567000).
constexpr double kExactIntegerLimit = 9007199254740992.0;

// The longest plain decimal of a finite double: "-0." + 323 zeros + 17 digits (denormals), or
// a sign and 309 digits (DBL_MAX).
constexpr size_t kMaxPlainFloatChars = 344;

// Room for any plain decimal of a value that is 0 or in [1e-5, 1e16): at most 17 significant
// digits, four zeros after "0.", a point and a sign.
constexpr size_t kShortPlainFloatChars = 32;

// Sign and 19 digits of an int64, a space before and a newline after.
constexpr size_t kTimestampChars = 22;

// "00" "01" ... "99": two digits per division, since every timestamp has 19 of them.
constexpr char kDigitPairs[] =
    "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243"
    "4445464748495051525354555657585960616263646566676869707172737475767778798081828384858687"
    "888990919293949596979899";

// Comparisons rather than a division loop: they do not depend on each other.
int DecimalDigits(uint32_t v) {
  return 1 + (v >= 10) + (v >= 100) + (v >= 1000) + (v >= 10000) + (v >= 100000) + (v >= 1000000) +
         (v >= 10000000);
}

// Writes v (< 10^8) without leading zeros.
char* WriteSmall(uint32_t v, char* p) {
  const int n = DecimalDigits(v);
  char* q = p + n;
  while (v >= 100) {
    q -= 2;
    std::memcpy(q, kDigitPairs + 2 * (v % 100), 2);
    v /= 100;
  }
  if (v >= 10) {
    std::memcpy(q - 2, kDigitPairs + 2 * v, 2);
  } else {
    q[-1] = static_cast<char>('0' + v);
  }
  return p + n;
}

// The 8 digits of v (< 10^8), with leading zeros, as a word that holds them in memory order.
// Built in a register so that they are stored at once: reading back digits stored pair by
// pair stalls (the store buffer cannot forward several stores to one load).
uint64_t EightDigits(uint32_t v) {
  uint64_t digits = 0;
  for (int pair = 3; pair >= 0; --pair) {  // from the right
    uint16_t two;
    std::memcpy(&two, kDigitPairs + 2 * (v % 100), 2);
    v /= 100;
#ifdef ABSL_IS_BIG_ENDIAN
    digits |= static_cast<uint64_t>(two) << (16 * (3 - pair));
#else
    digits |= static_cast<uint64_t>(two) << (16 * pair);
#endif
  }
  return digits;
}

// Writes exactly 8 digits of v (< 10^8), with leading zeros.
char* WriteEight(uint32_t v, char* p) {
  const uint64_t digits = EightDigits(v);
  std::memcpy(p, &digits, 8);
  return p + 8;
}

// 32-bit arithmetic on 8-digit chunks: a 19-digit timestamp is three chunks.
char* WriteUint(uint64_t u, char* p) {
  constexpr uint64_t k1e8 = 100000000;
  if (u < k1e8) return WriteSmall(static_cast<uint32_t>(u), p);
  if (u < k1e8 * k1e8) {
    p = WriteSmall(static_cast<uint32_t>(u / k1e8), p);
    return WriteEight(static_cast<uint32_t>(u % k1e8), p);
  }
  p = WriteSmall(static_cast<uint32_t>(u / (k1e8 * k1e8)), p);
  const uint64_t rest = u % (k1e8 * k1e8);
  p = WriteEight(static_cast<uint32_t>(rest / k1e8), p);
  return WriteEight(static_cast<uint32_t>(rest % k1e8), p);
}

char* WriteInt(int64_t i, char* p) {
  if (i < 0) {
    *p++ = '-';
    return WriteUint(0 - static_cast<uint64_t>(i), p);
  }
  return WriteUint(static_cast<uint64_t>(i), p);
}

char* WriteNonFinite(double v, char* p) {
  const char* text = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  const size_t n = std::strlen(text);
  std::memcpy(p, text, n);
  return p + n;
}

// Splits std::to_chars scientific output ("-1.2345e+06") into its sign, mantissa digits and
// decimal exponent.
struct Scientific {
  bool negative = false;
  char digits[24];
  int num_digits = 0;
  int exponent = 0;
};

Scientific ParseScientific(const char* s, const char* end) {
  Scientific sci;
  if (s < end && *s == '-') {
    sci.negative = true;
    ++s;
  }
  for (; s < end && *s != 'e'; ++s) {
    if (*s != '.' && sci.num_digits < static_cast<int>(sizeof(sci.digits))) {
      sci.digits[sci.num_digits++] = *s;
    }
  }
  if (s < end) {
    ++s;  // 'e'
    bool negative_exponent = false;
    if (s < end && (*s == '-' || *s == '+')) negative_exponent = *s++ == '-';
    int exponent = 0;
    for (; s < end; ++s) exponent = exponent * 10 + (*s - '0');
    sci.exponent = negative_exponent ? -exponent : exponent;
  }
  return sci;
}

char* WritePlain(const Scientific& sci, char* p) {
  if (sci.negative) *p++ = '-';
  const int n = sci.num_digits;
  const int point = sci.exponent + 1;  // digits before the decimal point
  if (point <= 0) {
    *p++ = '0';
    *p++ = '.';
    std::memset(p, '0', -point);
    p += -point;
    std::memcpy(p, sci.digits, n);
    return p + n;
  }
  if (point >= n) {
    std::memcpy(p, sci.digits, n);
    p += n;
    std::memset(p, '0', point - n);
    return p + (point - n);
  }
  std::memcpy(p, sci.digits, point);
  p += point;
  *p++ = '.';
  std::memcpy(p, sci.digits + point, n - point);
  return p + (n - point);
}

// Needs kMaxPlainFloatChars of room at `p`.
char* WriteFloatNoExponent(double v, char* p) {
  if (!std::isfinite(v)) return WriteNonFinite(v, p);
  // Most metric values are small integers; skip the general algorithm for them.
  if (std::fabs(v) < kExactIntegerLimit && v == std::trunc(v) && !(v == 0 && std::signbit(v))) {
    return WriteInt(static_cast<int64_t>(v), p);
  }
  char buf[64];
  std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  if (std::memchr(buf, 'e', r.ptr - buf) == nullptr) {
    if (std::fabs(v) < kExactIntegerLimit) {
      std::memcpy(p, buf, r.ptr - buf);
      return p + (r.ptr - buf);
    }
    r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  }
  return WritePlain(ParseScientific(buf, r.ptr), p);
}

// How the encoder writes each byte of a name or tag value.
enum ByteClass : uint8_t { kCopy = 0, kEscape = 1, kNewline = 2 };

struct EscapeTables {
  std::array<uint8_t, 256> measurement{};
  std::array<uint8_t, 256> key_or_value{};
};

const EscapeTables& Tables() {
  static const EscapeTables tables = [] {
    EscapeTables t;
    t.measurement[','] = t.measurement[' '] = kEscape;
    t.key_or_value[','] = t.key_or_value[' '] = t.key_or_value['='] = kEscape;
    t.measurement['\n'] = t.key_or_value['\n'] = kNewline;
    return t;
  }();
  return tables;
}

// A backslash at the end of a string would escape the separator after it, and line protocol
// has no way to write it.
absl::string_view TrimTrailingBackslashes(absl::string_view s) {
  while (!s.empty() && s.back() == '\\') s.remove_suffix(1);
  return s;
}

constexpr uint64_t kOnes = 0x0101010101010101ULL;

// Nonzero when some byte of `x` equals the byte repeated in `pattern` (exact, no false hits).
inline uint64_t HasByte(uint64_t x, uint64_t pattern) {
  const uint64_t y = x ^ pattern;
  return (y - kOnes) & ~y & (kOnes << 7);
}

// Whether any of the 16 bytes of two words needs escaping; '=' only outside measurements.
// With SSE2 (every x86-64) one comparison per special byte covers both words, which is
// what makes the common 5 to 16 byte names and values cheap.
template <bool kMeasurement>
inline bool NeedsEscape(uint64_t a, uint64_t b) {
#ifdef __SSE2__
  const __m128i x = _mm_set_epi64x(static_cast<int64_t>(b), static_cast<int64_t>(a));
  __m128i hit =
      _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(',')), _mm_cmpeq_epi8(x, _mm_set1_epi8(' ')));
  hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8('\n')));
  if (!kMeasurement) hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8('=')));
  return _mm_movemask_epi8(hit) != 0;
#else
  auto word_hit = [](uint64_t x) {
    uint64_t hit = HasByte(x, kOnes * ',') | HasByte(x, kOnes * ' ') | HasByte(x, kOnes * '\n');
    if (!kMeasurement) hit |= HasByte(x, kOnes * '=');
    return hit;
  };
  return (word_hit(a) | word_hit(b)) != 0;
#endif
}

// Writes `s` escaped, byte by byte.
template <bool kMeasurement>
char* WriteEscapedSlow(absl::string_view s, char* p) {
  const std::array<uint8_t, 256>& table =
      kMeasurement ? Tables().measurement : Tables().key_or_value;
  for (const char c : s) {
    const uint8_t cls = table[static_cast<unsigned char>(c)];
    if (cls == kCopy) {
      *p++ = c;
    } else {
      *p++ = '\\';
      *p++ = cls == kNewline ? ' ' : c;
    }
  }
  return p;
}

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Writes `s` (already trimmed) escaped; needs 2 * s.size() bytes of room at `p`. Nearly all
// names and values need no escaping, so the fast path checks and copies whole words (the
// last ones overlapping, as small memcpys do), 16 bytes per check, and only falls back to
// the byte loop when an escape is needed. Always inlined: it runs for every name and value of
// every line, where a call cost a tenth of the encoder's time.
template <bool kMeasurement>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline char* WriteEscaped(absl::string_view s, char* p) {
  const char* in = s.data();
  const size_t n = s.size();
  if (n > 16) {
    for (size_t i = 0; i < n; i += 16) {
      const size_t at = std::min(i, n - 16);  // the last block overlaps the one before
      const uint64_t a = Load64(in + at);
      const uint64_t b = Load64(in + at + 8);
      if (NeedsEscape<kMeasurement>(a, b)) return WriteEscapedSlow<kMeasurement>(s, p);
      std::memcpy(p + at, &a, 8);
      std::memcpy(p + at + 8, &b, 8);
    }
    return p + n;
  }
  if (n >= 8) {
    const uint64_t head = Load64(in);
    const uint64_t tail = Load64(in + n - 8);
    if (NeedsEscape<kMeasurement>(head, tail)) return WriteEscapedSlow<kMeasurement>(s, p);
    std::memcpy(p, &head, 8);
    std::memcpy(p + n - 8, &tail, 8);
    return p + n;
  }
  if (n >= 4) {
    const uint32_t head = Load32(in);
    const uint32_t tail = Load32(in + n - 4);
    if (NeedsEscape<kMeasurement>(head, tail)) return WriteEscapedSlow<kMeasurement>(s, p);
    std::memcpy(p, &head, 4);
    std::memcpy(p + n - 4, &tail, 4);
    return p + n;
  }
  if (n == 0) return p;
  // 1 to 3 bytes: first, middle and last cover them all; zero bytes never need escaping.
  const unsigned char a = in[0], b = in[n / 2], c = in[n - 1];
  if (NeedsEscape<kMeasurement>(a | b << 8 | c << 16, 0)) {
    return WriteEscapedSlow<kMeasurement>(s, p);
  }
  p[0] = a;
  p[n / 2] = b;
  p[n - 1] = c;
  return p + n;
}

// The first 8 bytes of a key as a big-endian number (zero-padded), so that comparing
// prefixes orders keys like comparing bytes does, except for ties. Loads whole words: keys
// are short, and a byte loop with a data-dependent trip count mispredicts.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint64_t KeyPrefix(absl::string_view key) {
  const char* in = key.data();
  const size_t n = key.size();
  uint64_t bytes;  // the key's first bytes in memory order, zeros after its end
  if (n >= 8) {
    bytes = Load64(in);
  } else if (n >= 4) {
    // Two overlapping words; the bytes they share are equal, so OR-ing them is exact.
    bytes = Load32(in) | static_cast<uint64_t>(Load32(in + n - 4)) << (8 * (n - 4));
  } else if (n > 0) {
    const uint64_t a = static_cast<unsigned char>(in[0]);
    const uint64_t b = static_cast<unsigned char>(in[n / 2]);
    const uint64_t c = static_cast<unsigned char>(in[n - 1]);
    bytes = a | b << (8 * (n / 2)) | c << (8 * (n - 1));
  } else {
    bytes = 0;
  }
#ifdef ABSL_IS_BIG_ENDIAN
  return bytes;
#else
  return __builtin_bswap64(bytes);
#endif
}

// Insertion sort by key: points have a handful of tags and fields, and most keys differ
// within their first 8 bytes, so nearly every comparison is one integer comparison. A point
// with many tags (a push's thousands of info labels are on every point) is sorted in
// n log n: insertion sort there took a second per point.
template <typename Entry>
void SortByKey(Entry* e, size_t n) {
  auto less = [](const Entry& a, const Entry& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return a.key < b.key;
  };
  constexpr size_t kInsertionSortMax = 32;
  if (n > kInsertionSortMax) {
    std::sort(e, e + n, less);
    return;
  }
  for (size_t i = 1; i < n; ++i) {
    if (!less(e[i], e[i - 1])) continue;
    const Entry moving = e[i];
    size_t j = i;
    do {
      e[j] = e[j - 1];
      --j;
    } while (j > 0 && less(moving, e[j - 1]));
    e[j] = moving;
  }
}

}  // namespace

void AppendFloatNoExponent(double v, std::string* out) {
  char buf[kMaxPlainFloatChars];
  char* end = WriteFloatNoExponent(v, buf);
  out->append(buf, end - buf);
}

size_t PlainFloatBound(double v) {
  const double a = std::fabs(v);
  return (a == 0 || (a >= 1e-5 && a < 1e16)) ? kShortPlainFloatChars : kMaxPlainFloatChars;
}

std::string FormatBound(double v) {
  char buf[64];
  if (!std::isfinite(v)) return std::string(buf, WriteNonFinite(v, buf));
  const std::to_chars_result r =
      std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const Scientific sci = ParseScientific(buf, r.ptr);
  if (sci.exponent < -4 || sci.exponent >= 6) return std::string(buf, r.ptr);
  char plain[64];  // at most "-0.0000" and 17 digits in this exponent range
  return std::string(plain, WritePlain(sci, plain));
}

char* LineProtocolEncoder::WriteTimestamp(int64_t timestamp_ns, char* p) {
  // Fixed-size copies are one or two moves; Append reserved kTimestampChars for them. The
  // remembered text is copied out before fresh digits go into it, never right after: a load
  // of bytes just stored in pieces stalls until the stores complete.
  static_assert(sizeof(last_timestamp_text_) >= kTimestampChars);
  constexpr int64_t k1e8 = 100000000;
  const size_t size = last_timestamp_size_;
  if (size != 0 && timestamp_ns == last_timestamp_ns_) {
    // The common case: the push's receive time again.
    std::memcpy(p, last_timestamp_text_, kTimestampChars);
    return p + size;
  }
  if (size != 0 && timestamp_ns >= k1e8 && timestamp_ns / k1e8 == last_timestamp_ns_ / k1e8) {
    // Within 0.1 s of the last one (sample timestamps of one push): the leading digits are
    // the same, so only the last 8 (before the newline) change.
    const uint64_t digits = EightDigits(static_cast<uint32_t>(timestamp_ns % k1e8));
    std::memcpy(p, last_timestamp_text_, kTimestampChars);
    std::memcpy(p + size - 9, &digits, 8);
    std::memcpy(last_timestamp_text_ + size - 9, &digits, 8);
    last_timestamp_ns_ = timestamp_ns;
    return p + size;
  }
  char* end = p;
  *end++ = ' ';
  end = WriteInt(timestamp_ns, end);
  *end++ = '\n';
  std::memcpy(last_timestamp_text_, p, kTimestampChars);
  last_timestamp_ns_ = timestamp_ns;
  last_timestamp_size_ = end - p;
  return end;
}

template <typename PointT>
size_t LineProtocolEncoder::Prepare(const PointT& point, bool keep_non_finite, size_t* num_tags,
                                    size_t* num_fields) {
  size_t bound = 2 * TrimTrailingBackslashes(point.measurement).size() + kTimestampChars;

  // Entries are filled member by member into space sized up front: building an entry and
  // pushing it makes the compiler store the parts separately and reload them, which stalls.
  fields_.resize(point.fields.size());
  size_t fields = 0;
  uint32_t index = 0;
  for (const auto& field : point.fields) {
    const absl::string_view key = TrimTrailingBackslashes(field.first);
    const bool finite = std::isfinite(field.second);
    if ((!finite && !keep_non_finite) || key.empty()) {
      ++index;
      continue;
    }
    FieldEntry& entry = fields_[fields++];
    entry.prefix = KeyPrefix(key);
    entry.key = key;
    entry.value = field.second;
    entry.index = index++;
    bound += 2 * key.size() + 2 + (finite ? PlainFloatBound(field.second) : 0);
  }
  *num_fields = fields;
  if (fields == 0) return 0;

  tags_.resize(point.tags.size());
  size_t tags = 0;
  for (const auto& tag : point.tags) {
    const absl::string_view key = TrimTrailingBackslashes(tag.first);
    const absl::string_view value = TrimTrailingBackslashes(tag.second);
    if (key.empty() || value.empty()) continue;
    TagEntry& entry = tags_[tags++];
    entry.prefix = KeyPrefix(key);
    entry.key = key;
    entry.value = value;
    bound += 2 * (key.size() + value.size()) + 2;
  }
  *num_tags = tags;

  SortByKey(tags_.data(), tags);
  SortByKey(fields_.data(), fields);
  return bound;
}

char* LineProtocolEncoder::WriteSeriesKey(absl::string_view measurement, size_t num_tags,
                                          char* p) const {
  p = WriteEscaped<true>(TrimTrailingBackslashes(measurement), p);
  for (size_t i = 0; i < num_tags; ++i) {
    *p++ = ',';
    p = WriteEscaped<false>(tags_[i].key, p);
    *p++ = '=';
    p = WriteEscaped<false>(tags_[i].value, p);
  }
  return p;
}

// Writes what comes before the value of a line's field number `i` (from 0): its separator, key and
// '='.
inline char* WriteFieldKey(absl::string_view key, size_t i, char* p) {
  *p++ = i == 0 ? ' ' : ',';
  p = WriteEscaped<false>(key, p);
  *p++ = '=';
  return p;
}

template <typename PointT>
bool LineProtocolEncoder::AppendPoint(const PointT& point, std::string* out) {
  size_t num_tags, num_fields;
  const size_t bound = Prepare(point, /*keep_non_finite=*/false, &num_tags, &num_fields);
  if (num_fields == 0) return false;

  // Write through a pointer into space reserved for the worst case, then cut the string to
  // what was written: far cheaper than growing it piece by piece.
  const size_t start = out->size();
  out->resize(start + bound);
  char* p = WriteSeriesKey(point.measurement, num_tags, &(*out)[start]);
  for (size_t i = 0; i < num_fields; ++i) {
    p = WriteFieldKey(fields_[i].key, i, p);
    p = WriteFloatNoExponent(fields_[i].value, p);
  }
  p = WriteTimestamp(point.timestamp_ns, p);
  out->resize(p - out->data());
  return true;
}

void LineTemplates::ShrinkToFit() {
  text_.shrink_to_fit();
  fields_.shrink_to_fit();
  lines_.shrink_to_fit();
}

void LineProtocolEncoder::AddTemplate(const PointView& point, LineTemplates* templates) {
  const size_t begin = templates->text_.size();
  templates->lines_.push_back(
      {static_cast<uint32_t>(begin), static_cast<uint32_t>(templates->fields_.size())});
  size_t num_tags, num_fields;
  const size_t bound = Prepare(point, /*keep_non_finite=*/true, &num_tags, &num_fields);
  if (num_fields == 0) return;
  templates->text_.resize(begin + bound);
  char* const base = &templates->text_[0];
  char* p = WriteSeriesKey(point.measurement, num_tags, base + begin);
  for (size_t i = 0; i < num_fields; ++i) {
    p = WriteFieldKey(fields_[i].key, i, p);
    templates->fields_.push_back({static_cast<uint32_t>(p - base), fields_[i].index});
  }
  templates->text_.resize(p - base);
}

bool LineProtocolEncoder::AppendFromTemplate(const LineTemplates& templates, size_t line,
                                             const double* values, int64_t timestamp_ns,
                                             std::string* out) {
  const LineTemplates::Line& l = templates.lines_[line];
  const size_t fields_end = line + 1 < templates.lines_.size()
                                ? templates.lines_[line + 1].fields_begin
                                : templates.fields_.size();
  if (l.fields_begin == fields_end) return false;
  const LineTemplates::Field* const fields = templates.fields_.data();
  const size_t text_size = fields[fields_end - 1].text_end - l.text_begin;
  const size_t start = out->size();
  out->resize(start + text_size + (fields_end - l.fields_begin) * kShortPlainFloatChars +
              kTimestampChars);
  char* p = &(*out)[start];
  const char* text = templates.text_.data() + l.text_begin;
  for (size_t f = l.fields_begin; f < fields_end; ++f) {
    const char* const piece_end = templates.text_.data() + fields[f].text_end;
    std::memcpy(p, text, piece_end - text);
    p += piece_end - text;
    text = piece_end;
    const double value = values[fields[f].index];
    if (PlainFloatBound(value) > kShortPlainFloatChars) {
      // A rare long decimal: make room for it (p moves with the string's buffer).
      const size_t at = p - out->data();
      out->resize(out->size() + kMaxPlainFloatChars);
      p = &(*out)[at];
    }
    p = WriteFloatNoExponent(value, p);
  }
  p = WriteTimestamp(timestamp_ns, p);
  out->resize(p - out->data());
  return true;
}

bool LineProtocolEncoder::Append(const Point& point, std::string* out) {
  return AppendPoint(point, out);
}

bool LineProtocolEncoder::AppendView(const PointView& point, std::string* out) {
  return AppendPoint(point, out);
}

namespace {

// Reads one escaped token of a line starting at *pos and stops before the first unescaped
// byte in `stop` (or at the end). `escapable` are the bytes a backslash escapes here;
// `forbidden` are unescaped bytes that make the line invalid.
absl::Status ReadToken(absl::string_view line, size_t* pos, absl::string_view escapable,
                       absl::string_view stop, absl::string_view forbidden, std::string* out) {
  out->clear();
  size_t i = *pos;
  while (i < line.size()) {
    const char c = line[i];
    if (c == '\\' && i + 1 < line.size() &&
        escapable.find(line[i + 1]) != absl::string_view::npos) {
      out->push_back(line[i + 1]);
      i += 2;
      continue;
    }
    if (stop.find(c) != absl::string_view::npos) break;
    if (forbidden.find(c) != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unescaped '", absl::string_view(&c, 1), "' at column ", i + 1));
    }
    out->push_back(c);
    ++i;
  }
  *pos = i;
  return absl::OkStatus();
}

bool ParseFieldValue(absl::string_view text, double* value) {
  // std::from_chars would also take "inf", "nan" and hex digits; line protocol floats are
  // plain decimals.
  if (text.empty()) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return false;
    }
  }
  const std::from_chars_result r = std::from_chars(text.data(), text.data() + text.size(), *value);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

absl::Status ParseLine(absl::string_view line, Point* point) {
  constexpr absl::string_view kMeasurementEscapes = ", ";
  constexpr absl::string_view kKeyEscapes = ",= ";
  size_t pos = 0;
  if (absl::Status s = ReadToken(line, &pos, kMeasurementEscapes, ", ", "", &point->measurement);
      !s.ok()) {
    return s;
  }
  if (point->measurement.empty()) return absl::InvalidArgumentError("empty measurement");
  if (pos == line.size()) return absl::InvalidArgumentError("no fields");

  std::string key;
  std::string value;
  if (line[pos] == ',') {
    while (true) {
      ++pos;  // ','
      if (absl::Status s = ReadToken(line, &pos, kKeyEscapes, "=", ", ", &key); !s.ok()) return s;
      if (key.empty() || pos == line.size()) {
        return absl::InvalidArgumentError(absl::StrCat("bad tag at column ", pos + 1));
      }
      ++pos;  // '='
      if (absl::Status s = ReadToken(line, &pos, kKeyEscapes, ", ", "=", &value); !s.ok()) return s;
      if (value.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("empty value for tag \"", key, "\""));
      }
      for (const auto& tag : point->tags) {
        if (tag.first == key) {
          return absl::InvalidArgumentError(absl::StrCat("duplicate tag \"", key, "\""));
        }
      }
      point->tags.emplace_back(key, value);
      if (pos == line.size()) return absl::InvalidArgumentError("no fields");
      if (line[pos] == ' ') break;
    }
  }

  // line[pos] is the space before the fields.
  while (true) {
    ++pos;  // ' ' or ','
    if (absl::Status s = ReadToken(line, &pos, kKeyEscapes, "=", ", ", &key); !s.ok()) return s;
    if (key.empty() || pos == line.size()) {
      return absl::InvalidArgumentError(absl::StrCat("bad field at column ", pos + 1));
    }
    ++pos;  // '='
    const size_t end = std::min(line.find_first_of(", ", pos), line.size());
    double v;
    if (!ParseFieldValue(line.substr(pos, end - pos), &v)) {
      return absl::InvalidArgumentError(absl::StrCat("field \"", key, "\" has no float value: \"",
                                                     line.substr(pos, end - pos), "\""));
    }
    for (const auto& field : point->fields) {
      if (field.first == key) {
        return absl::InvalidArgumentError(absl::StrCat("duplicate field \"", key, "\""));
      }
    }
    point->fields.emplace_back(key, v);
    pos = end;
    if (pos == line.size()) return absl::InvalidArgumentError("no timestamp");
    if (line[pos] == ' ') break;
  }

  const absl::string_view ts = line.substr(pos + 1);
  if (ts == "NOW") {
    point->timestamp_ns = kNowTimestampNs;
    return absl::OkStatus();
  }
  const std::from_chars_result r =
      std::from_chars(ts.data(), ts.data() + ts.size(), point->timestamp_ns);
  if (ts.empty() || r.ec != std::errc() || r.ptr != ts.data() + ts.size()) {
    return absl::InvalidArgumentError(absl::StrCat("bad timestamp \"", ts, "\""));
  }
  return absl::OkStatus();
}

// Everything of a point but its timestamp, in a form where equal points give equal strings:
// sorted tags and fields, and field values as the bits of the double (with -0 made 0).
std::string ContentKey(const Point& point) {
  std::vector<std::pair<std::string, std::string>> tags = point.tags;
  std::sort(tags.begin(), tags.end());
  std::vector<std::pair<std::string, double>> fields = point.fields;
  std::sort(fields.begin(), fields.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string key;
  auto add = [&key](absl::string_view s) { absl::StrAppend(&key, s.size(), ":", s); };
  add(point.measurement);
  absl::StrAppend(&key, "|", tags.size(), "|");
  for (const auto& tag : tags) {
    add(tag.first);
    add(tag.second);
  }
  absl::StrAppend(&key, "|", fields.size(), "|");
  for (const auto& field : fields) {
    add(field.first);
    const double v = field.second == 0 ? 0.0 : field.second;
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    absl::StrAppend(&key, bits, ";");
  }
  return key;
}

// For error messages: the point as one readable line, NOW for kNowTimestampNs.
std::string DescribePoint(const Point& point) {
  std::vector<std::pair<std::string, std::string>> tags = point.tags;
  std::sort(tags.begin(), tags.end());
  std::vector<std::pair<std::string, double>> fields = point.fields;
  std::sort(fields.begin(), fields.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out = point.measurement;
  for (const auto& tag : tags) absl::StrAppend(&out, ",", tag.first, "=", tag.second);
  char separator = ' ';
  for (const auto& field : fields) {
    absl::StrAppend(&out, absl::string_view(&separator, 1), field.first, "=");
    AppendFloatNoExponent(field.second, &out);
    separator = ',';
  }
  if (point.timestamp_ns == kNowTimestampNs) {
    absl::StrAppend(&out, " NOW");
  } else {
    absl::StrAppend(&out, " ", point.timestamp_ns);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Point>> ParseLineProtocol(absl::string_view text) {
  std::vector<Point> points;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    const absl::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == absl::string_view::npos ? text.size() : newline + 1);
    if (line.empty() || line.front() == '#') continue;
    Point point;
    if (absl::Status s = ParseLine(line, &point); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": ", s.message(), ": ", line));
    }
    points.push_back(std::move(point));
  }
  return points;
}

absl::Status ComparePoints(const std::vector<Point>& expected, const std::vector<Point>& actual,
                           int64_t now_min_ns, int64_t now_max_ns) {
  // Content key -> indices of actual points not matched yet.
  std::multimap<std::string, size_t> unmatched_actual;
  for (size_t i = 0; i < actual.size(); ++i) unmatched_actual.emplace(ContentKey(actual[i]), i);

  // Points with fixed timestamps first: an actual point whose timestamp happens to fall into
  // the NOW window must not be taken by a NOW expectation that another one could satisfy.
  std::vector<size_t> unmatched_expected;
  std::vector<std::pair<size_t, std::string>> now_expected;
  for (size_t i = 0; i < expected.size(); ++i) {
    std::string key = ContentKey(expected[i]);
    if (expected[i].timestamp_ns == kNowTimestampNs) {
      now_expected.emplace_back(i, std::move(key));
      continue;
    }
    bool matched = false;
    for (auto [it, end] = unmatched_actual.equal_range(key); it != end; ++it) {
      if (actual[it->second].timestamp_ns == expected[i].timestamp_ns) {
        unmatched_actual.erase(it);
        matched = true;
        break;
      }
    }
    if (!matched) unmatched_expected.push_back(i);
  }
  std::vector<int64_t> now_values;
  for (const auto& [i, key] : now_expected) {
    bool matched = false;
    for (auto [it, end] = unmatched_actual.equal_range(key); it != end; ++it) {
      const int64_t ts = actual[it->second].timestamp_ns;
      if (ts >= now_min_ns && ts <= now_max_ns) {
        now_values.push_back(ts);
        unmatched_actual.erase(it);
        matched = true;
        break;
      }
    }
    if (!matched) unmatched_expected.push_back(i);
  }

  std::string problems;
  for (const size_t i : unmatched_expected) {
    absl::StrAppend(&problems, "\n  missing:    ", DescribePoint(expected[i]));
  }
  std::vector<size_t> extra;
  for (const auto& entry : unmatched_actual) extra.push_back(entry.second);
  std::sort(extra.begin(), extra.end());
  for (const size_t i : extra) {
    absl::StrAppend(&problems, "\n  unexpected: ", DescribePoint(actual[i]));
  }
  if (!now_values.empty() && std::adjacent_find(now_values.begin(), now_values.end(),
                                                std::not_equal_to<>()) != now_values.end()) {
    absl::StrAppend(&problems, "\n  the points expected at NOW carry different timestamps");
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::NotFoundError(
      absl::StrCat("points differ (NOW window [", now_min_ns, ", ", now_max_ns, "]):", problems));
}

}  // namespace pushgate
