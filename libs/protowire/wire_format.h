// Protobuf's wire format, the parts pushgate reads and writes by hand: wire types and tags.
// See wire_reader.h and wire_writer.h.
#ifndef PUSHGATE_LIBS_PROTOWIRE_WIRE_FORMAT_H_
#define PUSHGATE_LIBS_PROTOWIRE_WIRE_FORMAT_H_

#include <cstdint>

namespace pushgate {
namespace protowire {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// A field's key: its number and wire type.
constexpr uint32_t Tag(uint32_t field, WireType type) { return field << 3 | type; }

}  // namespace protowire
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PROTOWIRE_WIRE_FORMAT_H_
