// Number parsing for the text parser: sample values and quantile/le bounds as Go's
// strconv.ParseFloat reads them, and timestamps as strconv.ParseInt does. Split out of the
// parser so that the exactness of the fast path can be tested against strtod on its own.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_NUMBERS_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_NUMBERS_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace pushgate {
namespace text_parser_internal {

// What Go's strconv.ParseFloat(s, 64) accepts once `p`, `P` and `_` are refused (as the
// Prometheus text parser does): decimal floats with optional sign and exponent, and
// case-insensitive inf/infinity (signed or not) and nan (unsigned). Out-of-range magnitudes
// are an error (false), tiny ones round to zero. Results are correctly rounded: bit for bit
// what strtod gives for the same decimal text.
bool ParseFloat(absl::string_view s, double* out);

// Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, no overflow.
bool ParseInt64(absl::string_view s, int64_t* out);

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_NUMBERS_H_
