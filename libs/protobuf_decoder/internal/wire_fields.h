// Walking the fields of a protobuf message in wire form, as the fast path and the limit
// counts (wire_counts.h) both do.
#ifndef PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_WIRE_FIELDS_H_
#define PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_WIRE_FIELDS_H_

#include <cstdint>

#include "libs/protowire/wire_reader.h"

namespace pushgate {
namespace protobuf_decoder_internal {

// Reads the fields of `message` in turn: `read(field, wire_type, &message)` reads (or skips)
// the value of the field whose tag was just read and returns false to stop. Tags are read with
// protobuf's own limits (see wire_reader.h). False if `read` stopped or the data is not wire
// format.
template <typename ReadValue>
bool ForEachField(protowire::WireReader message, ReadValue read) {
  while (!message.done()) {
    uint32_t tag;
    if (!message.ReadTag(&tag) || !read(tag >> 3, tag & 7, &message)) return false;
  }
  return true;
}

// Passes over a field's value, checked as protobuf checks unknown fields.
inline bool Skip(uint32_t field, uint32_t wire_type, protowire::WireReader* in) {
  return in->SkipField(field << 3 | wire_type);
}

}  // namespace protobuf_decoder_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_WIRE_FIELDS_H_
