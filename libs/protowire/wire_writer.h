// The few protobuf wire-format primitives pushgate's decoders need to write their output without
// building messages: sizes (so a caller can size each nested message bottom-up and the output
// once) and writers into a buffer that is already large enough. Only fields numbered 1-15 are
// used, so every tag is one byte.
//
// What is written follows protobuf's C++ serializer for proto3: fields in number order,
// strings and doubles outside a oneof omitted when empty / all-zero bits (+0.0 is omitted,
// -0.0 and NaN are written), doubles inside a oneof and set `optional` fields always written.
#ifndef PUSHGATE_LIBS_PROTOWIRE_WIRE_WRITER_H_
#define PUSHGATE_LIBS_PROTOWIRE_WIRE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/base/attributes.h"
#include "absl/base/config.h"
#include "absl/base/optimization.h"
#include "absl/numeric/bits.h"
#include "absl/strings/string_view.h"
#include "libs/protowire/wire_format.h"

namespace pushgate {
namespace protowire {

// Bytes of `v` as a varint (1 to 10).
inline size_t VarintSize(uint64_t v) {
  // Nearly every length and value here is below 128; the bit count costs more than the
  // branch (a profile had this at 7% of the parse without it).
  if (ABSL_PREDICT_TRUE(v < 0x80)) return 1;
  // 7 payload bits per byte.
  return 1 + static_cast<size_t>(63 - absl::countl_zero(v)) / 7;
}

// A double counts as set when any bit is: protobuf's own test, so -0.0 and NaN are written.
inline bool IsSetDouble(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits != 0;
}

// Writes `v` as the 8 bytes of a fixed64 (double) field's value at `p`.
inline void StoreFixedDouble(double v, char* p) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
#ifndef ABSL_IS_LITTLE_ENDIAN
  bits = __builtin_bswap64(bits);
#endif
  std::memcpy(p, &bits, sizeof(bits));
}

// A tag, the length and the payload.
inline size_t LengthDelimitedFieldSize(size_t payload) { return 1 + VarintSize(payload) + payload; }

// A proto3 string/bytes field: nothing when empty.
inline size_t StringFieldSize(size_t length) {
  return length == 0 ? 0 : LengthDelimitedFieldSize(length);
}

constexpr size_t kDoubleFieldSize = 1 + sizeof(double);

// A proto3 double outside a oneof: nothing unless set.
inline size_t OptionalDoubleFieldSize(double v) { return IsSetDouble(v) ? kDoubleFieldSize : 0; }

// Copies sizeof(Word) to 2 * sizeof(Word) bytes as two possibly overlapping words: the first and
// the last.
template <typename Word>
inline void CopyHeadAndTail(char* dst, const char* src, size_t n) {
  Word head, tail;
  std::memcpy(&head, src, sizeof(Word));
  std::memcpy(&tail, src + n - sizeof(Word), sizeof(Word));
  std::memcpy(dst, &head, sizeof(Word));
  std::memcpy(dst + n - sizeof(Word), &tail, sizeof(Word));
}

// 16 bytes, moved as one (an SSE register on x86-64). Two words, not a char array: with
// -fstack-protector a char array on the stack puts a canary check in every function this is
// inlined into.
struct Bytes16 {
  uint64_t low, high;
};

// memcpy, with the short copies the parser makes on every label and family (names, values and
// help texts of a few dozen bytes at most) done inline: two possibly overlapping moves instead
// of a call.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void CopyBytes(char* dst, const char* src, size_t n) {
  if (n > 32) {
    std::memcpy(dst, src, n);
  } else if (n >= 16) {
    CopyHeadAndTail<Bytes16>(dst, src, n);
  } else if (n >= 8) {
    CopyHeadAndTail<uint64_t>(dst, src, n);
  } else if (n >= 4) {
    CopyHeadAndTail<uint32_t>(dst, src, n);
  } else if (n != 0) {
    // 1 to 3 bytes: first, middle and last cover them all.
    const char first = src[0], middle = src[n / 2], last = src[n - 1];
    dst[0] = first;
    dst[n / 2] = middle;
    dst[n - 1] = last;
  }
}

// Writes into a buffer sized beforehand: no bounds checks, the sizes are the contract.
class WireWriter {
 public:
  explicit WireWriter(char* p) : p_(p) {}

  char* position() const { return p_; }

  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *p_++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<char>(v);
  }

  // Inline everywhere: the parser writes a few short strings per sample.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Bytes(absl::string_view s) {
    CopyBytes(p_, s.data(), s.size());
    p_ += s.size();
  }

  // The tag and length of a nested message or string whose payload the caller writes next.
  void LengthDelimitedHeader(int field, size_t length) {
    *p_++ = static_cast<char>(Tag(field, kLengthDelimited));
    Varint(length);
  }

  // The same for a length known to be below 128: one byte.
  void ShortLengthDelimitedHeader(int field, size_t length) {
    p_[0] = static_cast<char>(Tag(field, kLengthDelimited));
    p_[1] = static_cast<char>(length);
    p_ += 2;
  }

  void StringField(int field, absl::string_view s) {
    if (s.empty()) return;
    LengthDelimitedHeader(field, s.size());
    Bytes(s);
  }

  // Always written (a oneof member).
  void DoubleField(int field, double v) {
    *p_++ = static_cast<char>(Tag(field, kFixed64));
    StoreFixedDouble(v, p_);
    p_ += sizeof(double);
  }

  // Written only when set (proto3 scalar outside a oneof).
  void OptionalDoubleField(int field, double v) {
    if (IsSetDouble(v)) DoubleField(field, v);
  }

  // int64 and enums: negative values take ten bytes, as protobuf writes them.
  void VarintField(int field, uint64_t v) {
    *p_++ = static_cast<char>(Tag(field, kVarint));
    Varint(v);
  }

 private:
  char* p_;
};

}  // namespace protowire
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PROTOWIRE_WIRE_WRITER_H_
