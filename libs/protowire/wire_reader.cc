#include "libs/protowire/wire_reader.h"

#include <climits>

#include "libs/go_text/go_text.h"

namespace pushgate {
namespace protowire {

template <typename UInt>
bool WireReader::ReadBase128(int max_bytes, UInt* value, const char* runs_past,
                             const char* too_long) {
  UInt result = 0;
  for (int i = 0; i < max_bytes; ++i) {
    if (pos_ == end_) return Fail(runs_past);
    const uint8_t byte = static_cast<uint8_t>(*pos_++);
    result |= static_cast<UInt>(byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      *value = result;
      return true;
    }
  }
  return Fail(too_long);
}

bool WireReader::ReadTagSlow(uint32_t* tag) {
  return ReadBase128(5, tag, "tag runs past its message", "tag longer than 5 bytes");
}

bool WireReader::ReadVarintSlow(uint64_t* value) {
  return ReadBase128(10, value, "varint runs past its message", "varint longer than 10 bytes");
}

bool WireReader::ReadSizeSlow(size_t* size) {
  uint64_t value;
  if (!ReadBase128(5, &value, "length runs past its message", "length longer than 5 bytes")) {
    return false;
  }
  // protobuf keeps its limits in an int, with room for 16 bytes of look-ahead.
  if (value > static_cast<uint64_t>(INT_MAX - 16)) return Fail("length of 2 GiB or more");
  if (value > static_cast<uint64_t>(end_ - pos_)) return FailSize();
  *size = static_cast<size_t>(value);
  return true;
}

bool WireReader::FailSize() { return Fail("length runs past the end of its message"); }

bool WireReader::CheckUtf8(absl::string_view bytes) {
  if (!IsValidUtf8(bytes)) return Fail("string is not valid UTF-8");
  return true;
}

bool WireReader::SkipBytes(size_t n) {
  if (static_cast<size_t>(end_ - pos_) < n) {
    return Fail(n == 8 ? "8-byte value runs past its message"
                       : "4-byte value runs past its message");
  }
  pos_ += n;
  return true;
}

bool WireReader::SkipField(uint32_t tag) {
  const uint32_t field = tag >> 3;
  if (field == 0) return Fail("field number 0");
  switch (tag & 7) {
    case kVarint: {
      uint64_t ignored;
      return ReadVarint(&ignored);
    }
    case kFixed64:
      return SkipBytes(8);
    case kLengthDelimited: {
      absl::string_view ignored;
      return ReadBytes(&ignored);
    }
    case kStartGroup:
      return SkipGroup(field);
    case kEndGroup:
      return Fail("end-group tag without a group to close");
    case kFixed32:
      return SkipBytes(4);
    default:
      return Fail("wire type 6 or 7 (there are none)");
  }
}

bool WireReader::SkipGroup(uint32_t field) {
  // A group is not length-delimited: it ends at its end-group tag, inside this message.
  if (depth_ >= kMaxDepth) return Fail(kTooDeep);
  ++depth_;
  for (;;) {
    if (done()) return Fail("group without its end-group tag");
    uint32_t tag;
    if (!ReadTag(&tag)) return false;
    if (tag == Tag(field, kEndGroup)) break;
    if ((tag & 7) == kEndGroup && (tag >> 3) != 0) {
      return Fail("end-group tag of another field than the open group");
    }
    if (!SkipField(tag)) return false;
  }
  --depth_;
  return true;
}

bool WireReader::SkipPackedVarints() {
  absl::string_view bytes;
  if (!ReadBytes(&bytes)) return false;
  WireReader packed(bytes, depth_);
  while (!packed.done()) {
    uint64_t ignored;
    if (!packed.ReadVarint(&ignored)) return Fail(packed.error());
  }
  return true;
}

bool WireReader::SkipPackedFixed64() {
  absl::string_view bytes;
  if (!ReadBytes(&bytes)) return false;
  if (bytes.size() % 8 != 0) return Fail("packed 8-byte values: length not a multiple of 8");
  return true;
}

}  // namespace protowire
}  // namespace pushgate
