#include "libs/text_parser/internal/numbers.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/charconv.h"
#include "absl/strings/match.h"

namespace pushgate {
namespace text_parser_internal {
namespace {

inline bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

}  // namespace

bool ParseFloatGeneral(absl::string_view s, double* out) {
  const char* p = s.data();
  const char* const end = p + s.size();
  if (p == end) return false;
  bool neg = false;
  const bool signed_ = *p == '+' || *p == '-';
  if (signed_) {
    neg = *p == '-';
    if (++p == end) return false;
  }
  if (!IsDigit(*p) && *p != '.') {
    const absl::string_view word(p, end - p);
    if (absl::EqualsIgnoreCase(word, "inf") || absl::EqualsIgnoreCase(word, "infinity")) {
      *out =
          neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
      return true;
    }
    if (!signed_ && absl::EqualsIgnoreCase(word, "nan")) {
      *out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    return false;
  }

  // Scan the grammar and, on the way, collect up to 19 significant digits for the exact fast
  // path: a mantissa below 2^53 times an exactly representable power of ten is correctly
  // rounded by one IEEE multiplication or division.
  const char* q = p;
  uint64_t mantissa = 0;
  int significant = 0;
  int exp10 = 0;
  bool any_digit = false;
  bool truncated = false;
  for (; q < end && IsDigit(*q); ++q) {
    any_digit = true;
    const int d = *q - '0';
    if (mantissa == 0 && d == 0) continue;
    if (significant < 19) {
      mantissa = mantissa * 10 + d;
      ++significant;
    } else {
      ++exp10;
      truncated |= d != 0;
    }
  }
  if (q < end && *q == '.') {
    for (++q; q < end && IsDigit(*q); ++q) {
      any_digit = true;
      const int d = *q - '0';
      if (mantissa == 0 && d == 0) {
        --exp10;
      } else if (significant < 19) {
        mantissa = mantissa * 10 + d;
        ++significant;
        --exp10;
      } else {
        truncated |= d != 0;
      }
    }
  }
  if (!any_digit) return false;
  if (q < end && (*q == 'e' || *q == 'E')) {
    ++q;
    bool exp_neg = false;
    if (q < end && (*q == '+' || *q == '-')) exp_neg = *q++ == '-';
    if (q == end || !IsDigit(*q)) return false;
    int e = 0;
    for (; q < end && IsDigit(*q); ++q) {
      if (e < 100000) e = e * 10 + (*q - '0');
    }
    exp10 += exp_neg ? -e : e;
  }
  if (q != end) return false;

  if (mantissa == 0) {
    *out = neg ? -0.0 : 0.0;
    return true;
  }
  if (!truncated && significant <= 15 && exp10 >= -22 && exp10 <= 22) {
    double v = static_cast<double>(mantissa);
    v = exp10 < 0 ? v / kPow10[-exp10] : v * kPow10[exp10];
    *out = neg ? -v : v;
    return true;
  }
  double v = 0;
  const absl::from_chars_result r = absl::from_chars(p, end, v);
  if (r.ptr != end) return false;
  if (r.ec == std::errc::result_out_of_range) {
    // Overflow is Go's ErrRange; underflow rounds to zero without an error.
    if (std::isinf(v) || std::fabs(v) >= 1) return false;
    v = 0;
  } else if (r.ec != std::errc()) {
    return false;
  }
  *out = neg ? -v : v;
  return true;
}

bool ParseInt64(absl::string_view s, int64_t* out) {
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i == s.size()) return false;
  const uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
    const uint64_t d = s[i] - '0';
    if (v > (limit - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

}  // namespace text_parser_internal
}  // namespace pushgate
