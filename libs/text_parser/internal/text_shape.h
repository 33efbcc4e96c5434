// A text push's shape: its text with the values left open, and what it parses to. A push
// whose text is the same but for its values (a job pushing the same metrics again) is written
// from the shape without being parsed: its texts are compared, its values parsed and placed.
//
// Why that gives exactly what parsing would: a value that ParseFloat takes is made of
// [0-9a-zA-Z.+-] only, so replacing one value's text by another's leaves every line, token and
// label of the body as it was, and every decision the parser takes the same, but the numbers.
// The encoding then differs only in the values' 8-byte fields, except that a proto3 double
// field is left out for 0: the layout holds while each such value stays 0, or stays not 0.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_TEXT_SHAPE_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_TEXT_SHAPE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/text_parser/internal/model.h"
#include "libs/text_parser/text_parser.h"

namespace pushgate {
namespace text_parser_internal {

struct TextShape {
  std::string body;  // the push it was made from
  std::string wire;  // what ParseTextToWire appended for it
  size_t series = 0;
  std::vector<ValueSlot> slots;  // one per sample line, in body order
  // Of the text between the values and of how each value is used: shapes of pushes that
  // differ only in their values hash alike (see SameSkeleton).
  size_t skeleton_hash = 0;

  // Memory it holds.
  size_t bytes() const;
};

// Whether the two shapes were made from pushes that differ only in their values, each value
// used alike: then a push that fits one fits the other, and both write it the same.
bool SameSkeleton(const TextShape& a, const TextShape& b);

// ParseTextToWire(body, limits, out, series); on success also makes `shape` of the push.
absl::Status ParseAndMakeShape(absl::string_view body, const TextParserLimits& limits,
                               std::string* out, size_t* series, TextShape* shape);

// When `body` is `shape.body` with other values (every sample's value text replaced by text
// that ParseFloat takes and that holds no blank, '\r' or '\n'; each value whose field is left
// out for 0 still 0, each value written for not being 0 still not 0), appends exactly what
// ParseTextToWire(body, limits, out, series) would with the limits the shape was made with,
// sets `*series` (when given) and returns true. Otherwise returns false with `out` as it was.
bool WriteFromShape(const TextShape& shape, absl::string_view body, std::string* out,
                    size_t* series);

// For tests and benchmarks: `shape.body` with the text of sample line k's value replaced by
// value_text(k, its text there), so another push of the same shape (or, with text that is not
// a value, one that looks like it).
std::string ReplaceValues(const TextShape& shape,
                          absl::FunctionRef<std::string(size_t, absl::string_view)> value_text);

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_TEXT_SHAPE_H_
