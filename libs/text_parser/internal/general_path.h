// For tests only: the text parser with its fast path for plain sample lines
// (plain_sample.h) turned off, so that tests and the fuzzer can check that the fast path
// changes nothing.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_GENERAL_PATH_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_GENERAL_PATH_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/text_parser/text_parser.h"

namespace pushgate {
namespace text_parser_internal {

// ParseTextToWire with every line read by the general parser.
absl::Status ParseTextToWireGeneralPathOnly(absl::string_view body, const TextParserLimits& limits,
                                            std::string* out, size_t* series = nullptr);

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_GENERAL_PATH_H_
