// The bit sink of the DEFLATE encoder in //libs/deflate: bits go out least significant first
// (RFC 1951 section 3.1.1) through a 64-bit accumulator that is stored 8 bytes at a time.
#ifndef PUSHGATE_LIBS_DEFLATE_INTERNAL_BIT_WRITER_H_
#define PUSHGATE_LIBS_DEFLATE_INTERNAL_BIT_WRITER_H_

#include <cstdint>
#include <cstring>

#include "absl/base/config.h"

namespace pushgate {
namespace deflate_internal {

// Writes into a caller-owned buffer that must have kSlack writable bytes beyond the last
// byte the bits reach: every Flush stores a whole 64-bit word and then advances only past
// the complete bytes.
class BitWriter {
 public:
  static constexpr int kSlack = 8;

  explicit BitWriter(char* out) : out_(out) {}

  // Adds the low `bits` bits of `value` (all higher bits zero). Between two Flushes at most
  // 56 bits may be added in all.
  void Add(uint64_t value, int bits) {
    acc_ |= value << used_;
    used_ += bits;
  }

  // Stores the accumulated bits; afterwards fewer than 8 remain pending.
  void Flush() {
    static_assert(ABSL_IS_LITTLE_ENDIAN, "the accumulator is stored as little-endian bytes");
    std::memcpy(out_, &acc_, sizeof(acc_));
    out_ += used_ >> 3;
    acc_ >>= used_ & ~7;
    used_ &= 7;
  }

  // Flushes and pads with zero bits to a byte boundary.
  void AlignToByte() {
    Flush();
    if (used_ != 0) {
      ++out_;
      acc_ = 0;
      used_ = 0;
    }
  }

  // Copies raw bytes; the writer must be byte-aligned (AlignToByte).
  void CopyBytes(const void* data, size_t n) {
    std::memcpy(out_, data, n);
    out_ += n;
  }

  // Where the next whole byte goes, after Flush or AlignToByte.
  char* position() const { return out_; }
  // Bits added since the last Flush (fewer than 8 right after it).
  int pending_bits() const { return used_; }

  // Moves to a new buffer holding the same bytes so far (after the caller grew its buffer):
  // `out` is where position() now points.
  void Rebase(char* out) { out_ = out; }

 private:
  char* out_;
  uint64_t acc_ = 0;
  int used_ = 0;
};

}  // namespace deflate_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_DEFLATE_INTERNAL_BIT_WRITER_H_
