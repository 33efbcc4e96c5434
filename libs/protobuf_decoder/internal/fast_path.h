// The protobuf decoder's fast path: the push most clients send, transcoded from the
// io.prometheus.client wire format straight into pushgate.v1 wire format, without building
// either side's messages.
//
// The general path (parse into client messages, convert, serialize) is the single source of
// truth: the fast path takes a body only when it is sure to write byte for byte what the
// general path would, and declines everything else, errors included, for the general path
// to decode or refuse. It takes families that
//   - are each named once in the push, with a valid name, UTF-8 help and a known type;
//   - hold metrics carrying only their family's type field (counter, gauge, untyped,
//     summary or histogram), at most once each;
//   - have labels that pass every check and limit, at most 32 per metric (more are checked
//     with a set by the general path);
//   - have no exemplars and no native-histogram fields, and buckets already in order of
//     their (non-NaN) upper bounds;
// in wire data that protobuf's parser would read field for field (libs/protowire reads it with
// protobuf's limits), where no known field comes with an unexpected wire type and no length
// prefix is longer than 5 bytes, and no field this schema does not know: protobuf's parser
// builds each unknown field (some 60 bytes for two of wire), so the general path counts them
// against the sample limit. Created timestamps holding only seconds and nanos, and a family's
// unit, are passed over, as the general path ignores them.
#ifndef PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_FAST_PATH_H_
#define PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_FAST_PATH_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "libs/text_parser/text_parser.h"

namespace pushgate {
namespace protobuf_decoder_internal {

// Appends to `out` what DecodeProtobufPushToWire would for `body` and sets `*series` to the
// number of series written, returning true; or returns false with `out` as it was.
bool TranscodeCommonPush(absl::string_view body, const TextParserLimits& limits, std::string* out,
                         size_t* series);

}  // namespace protobuf_decoder_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_FAST_PATH_H_
