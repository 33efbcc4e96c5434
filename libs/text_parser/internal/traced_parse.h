// For TextShapeCache: ParseTextToWire that also says, for every sample line, where its value
// is written in the body and where it went in the output.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_TRACED_PARSE_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_TRACED_PARSE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/text_parser/internal/model.h"
#include "libs/text_parser/text_parser.h"

namespace pushgate {
namespace text_parser_internal {

// ParseTextToWire(body, limits, out, series), and on success `slots` holds one ValueSlot per
// sample line in body order, its wire offsets counted from where `out` ended before the call.
// `body` must be shorter than 4 GiB.
absl::Status ParseTextToWireTraced(absl::string_view body, const TextParserLimits& limits,
                                   std::string* out, size_t* series, std::vector<ValueSlot>* slots);

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_TRACED_PARSE_H_
