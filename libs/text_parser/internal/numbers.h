// Number parsing for the text parser: sample values and quantile/le bounds as Go's
// strconv.ParseFloat reads them, and timestamps as strconv.ParseInt does. Split out of the
// parser so that the exactness of the fast path can be tested against strtod on its own.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_NUMBERS_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_NUMBERS_H_

#include <cstdint>

#include "absl/base/optimization.h"
#include "absl/strings/string_view.h"

namespace pushgate {
namespace text_parser_internal {

// Every power of ten up to 1e22 is an exact double.
inline constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The shape nearly every exposed value has: `[+-]digits[.digits]` with at most 15 digits in
// all. Then the digits form an integer below 10^15 < 2^53 and the divisor 10^fraction_digits
// is a power of ten up to 1e15, both exact doubles, so the one IEEE division is correctly
// rounded: the result is exactly strtod's. Returns false for anything else (ParseFloat then
// takes the general path), never for a wrong answer. Inline: the parser calls it on every
// sample.
inline bool ParseShortDecimal(const char* p, const char* end, double* out) {
  bool neg = false;
  if (p != end && (*p == '-' || *p == '+')) neg = *p++ == '-';
  // 15 digits and a point at most; longer text goes the general way.
  if (p == end || end - p > 16) return false;
  uint64_t mantissa = 0;
  int digits = 0;
  const char* point = nullptr;
  for (const char* q = p; q != end; ++q) {
    const unsigned d = static_cast<unsigned char>(*q - '0');
    if (d < 10) {
      mantissa = mantissa * 10 + d;
      ++digits;
    } else if (*q == '.' && point == nullptr) {
      point = q;
    } else {
      return false;
    }
  }
  if (digits == 0 || digits > 15) return false;
  double v = static_cast<double>(mantissa);
  if (point != nullptr) v /= kPow10[end - point - 1];
  *out = neg ? -v : v;
  return true;
}

// ParseFloat without the inline shortcut: any input, out of line. ParseFloat calls it for what
// ParseShortDecimal leaves (exponents, long mantissas, inf and nan).
bool ParseFloatGeneral(absl::string_view s, double* out);

// What Go's strconv.ParseFloat(s, 64) accepts once `p`, `P` and `_` are refused (as the
// Prometheus text parser does): decimal floats with optional sign and exponent, and
// case-insensitive inf/infinity (signed or not) and nan (unsigned). Out-of-range magnitudes
// are an error (false), tiny ones round to zero. Results are correctly rounded: bit for bit
// what strtod gives for the same decimal text.
inline bool ParseFloat(absl::string_view s, double* out) {
  if (ABSL_PREDICT_TRUE(ParseShortDecimal(s.data(), s.data() + s.size(), out))) return true;
  return ParseFloatGeneral(s, out);
}

// Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, no overflow.
bool ParseInt64(absl::string_view s, int64_t* out);

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_NUMBERS_H_
