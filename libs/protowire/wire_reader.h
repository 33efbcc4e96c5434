// Reading protobuf wire format by hand with exactly the limits of protobuf 3.21's C++ parser,
// so that a decoder built on it accepts and refuses the same bytes generated code does:
//   - a tag takes at most 5 bytes and is taken modulo 2^32; other varints take at most 10
//     bytes and are taken modulo 2^64 (an overlong last byte is not an error);
//   - a length takes at most 5 bytes and is below 2 GiB - 16;
//   - every field lies wholly inside its message;
//   - messages and groups nest at most 100 deep (CodedInputStream's default limit);
//   - proto3 strings are valid UTF-8 (no overlong forms, surrogates, or code points above
//     U+10FFFF);
//   - an unknown field is skipped whatever its wire type, except that field number 0, wire
//     types 6 and 7, an end-group tag outside its group and a group left open are errors.
#ifndef PUSHGATE_LIBS_PROTOWIRE_WIRE_READER_H_
#define PUSHGATE_LIBS_PROTOWIRE_WIRE_READER_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/base/config.h"
#include "absl/base/optimization.h"
#include "absl/strings/string_view.h"
#include "libs/protowire/wire_format.h"

namespace pushgate {
namespace protowire {

static_assert(ABSL_IS_LITTLE_ENDIAN, "fixed-width wire values are read by memcpy");

// protobuf's default recursion limit.
constexpr int kMaxDepth = 100;

// Whether no byte has its high bit set.
inline bool IsAscii(absl::string_view bytes) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  uint64_t high_bits = 0;
  for (; end - p >= 8; p += 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    high_bits |= word;
  }
  for (; p < end; ++p) high_bits |= static_cast<uint8_t>(*p);
  return (high_bits & 0x8080808080808080ull) == 0;
}

// A cursor over the bytes of one message. Each Read or Skip either consumes a whole item and
// returns true, or returns false with error() saying what is wrong; after a failure the reader
// is not used again.
class WireReader {
 public:
  WireReader() = default;
  // `bytes` is a message `depth` levels below the outermost one (0).
  WireReader(absl::string_view bytes, int depth)
      : pos_(bytes.data()), end_(bytes.data() + bytes.size()), field_start_(pos_), depth_(depth) {}

  bool done() const { return pos_ == end_; }
  // Where the next field starts.
  const char* position() const { return pos_; }
  // Where the tag of the field being read starts, or where a failure was found inside a group.
  const char* field_start() const { return field_start_; }
  const char* error() const { return error_; }

  // The next field's tag. Whether its field number and wire type are valid is left to
  // SkipField: a tag the caller knows is valid.
  bool ReadTag(uint32_t* tag) {
    field_start_ = pos_;
    if (ABSL_PREDICT_TRUE(pos_ < end_ && static_cast<uint8_t>(*pos_) < 0x80)) {
      *tag = static_cast<uint8_t>(*pos_++);
      return true;
    }
    return ReadTagSlow(tag);
  }

  bool ReadVarint(uint64_t* value) {
    if (ABSL_PREDICT_TRUE(pos_ < end_ && static_cast<uint8_t>(*pos_) < 0x80)) {
      *value = static_cast<uint8_t>(*pos_++);
      return true;
    }
    return ReadVarintSlow(value);
  }

  bool ReadDouble(double* value) {
    if (ABSL_PREDICT_FALSE(end_ - pos_ < 8)) return Fail("8-byte value runs past its message");
    std::memcpy(value, pos_, sizeof(*value));
    pos_ += 8;
    return true;
  }

  // The payload of a length-delimited field.
  bool ReadBytes(absl::string_view* bytes) {
    size_t size;
    if (!ReadSize(&size)) return false;
    *bytes = absl::string_view(pos_, size);
    pos_ += size;
    return true;
  }

  // A proto3 string: bytes that must be valid UTF-8.
  bool ReadUtf8(absl::string_view* text) {
    absl::string_view bytes;
    if (!ReadBytes(&bytes)) return false;
    // Label names and values are short and nearly always ASCII: checking that inline costs
    // far less than the full check, which was a third of a push's decoding.
    if (ABSL_PREDICT_FALSE(!IsAscii(bytes)) && !CheckUtf8(bytes)) return false;
    *text = bytes;
    return true;
  }

  // A length-delimited field holding a message, to be read by `nested`.
  bool ReadMessage(WireReader* nested) {
    if (ABSL_PREDICT_FALSE(depth_ >= kMaxDepth)) return Fail(kTooDeep);
    absl::string_view bytes;
    if (!ReadBytes(&bytes)) return false;
    *nested = WireReader(bytes, depth_ + 1);
    return true;
  }

  // Skips the value of a field the caller does not know (or knows with another wire type),
  // after its tag, checking it as protobuf checks unknown fields.
  bool SkipField(uint32_t tag);

  // Check and skip packed repeated scalars, after their tag.
  bool SkipPackedVarints();
  bool SkipPackedFixed64();

 private:
  static constexpr const char* kTooDeep = "messages and groups nested more than 100 deep";

  bool Fail(const char* error) {
    error_ = error;
    return false;
  }

  bool ReadSize(size_t* size) {
    if (ABSL_PREDICT_TRUE(pos_ < end_ && static_cast<uint8_t>(*pos_) < 0x80)) {
      const size_t value = static_cast<uint8_t>(*pos_++);
      if (ABSL_PREDICT_FALSE(value > static_cast<size_t>(end_ - pos_))) return FailSize();
      *size = value;
      return true;
    }
    return ReadSizeSlow(size);
  }

  // A varint of at most `max_bytes` bytes, of which only the bits that fit in UInt are kept
  // (protobuf drops the others without complaint); the errors name what is read.
  template <typename UInt>
  bool ReadBase128(int max_bytes, UInt* value, const char* runs_past, const char* too_long);
  bool ReadTagSlow(uint32_t* tag);
  bool ReadVarintSlow(uint64_t* value);
  bool ReadSizeSlow(size_t* size);
  bool FailSize();
  bool CheckUtf8(absl::string_view bytes);
  bool SkipBytes(size_t n);
  bool SkipGroup(uint32_t field);

  const char* pos_ = nullptr;
  const char* end_ = nullptr;
  const char* field_start_ = nullptr;
  int depth_ = 0;
  const char* error_ = nullptr;
};

}  // namespace protowire
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PROTOWIRE_WIRE_READER_H_
