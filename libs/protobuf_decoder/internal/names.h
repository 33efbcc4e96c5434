// Name rules shared by the protobuf decoder's two paths: metric names are
// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*.
#ifndef PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_NAMES_H_
#define PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_NAMES_H_

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace pushgate {
namespace protobuf_decoder_internal {

inline bool IsValidMetricName(absl::string_view name) {
  if (name.empty() || !(absl::ascii_isalpha(name[0]) || name[0] == '_' || name[0] == ':')) {
    return false;
  }
  for (char c : name.substr(1)) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == ':')) return false;
  }
  return true;
}

inline bool IsValidLabelName(absl::string_view name) {
  if (name.empty() || !(absl::ascii_isalpha(name[0]) || name[0] == '_')) return false;
  for (char c : name.substr(1)) {
    if (!(absl::ascii_isalnum(c) || c == '_')) return false;
  }
  return true;
}

}  // namespace protobuf_decoder_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_NAMES_H_
