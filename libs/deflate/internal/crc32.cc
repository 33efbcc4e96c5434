#include "libs/deflate/internal/crc32.h"

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PG_DEFLATE_HAVE_CLMUL 1
#else
#define PG_DEFLATE_HAVE_CLMUL 0
#endif

namespace pushgate {
namespace deflate_internal {

uint32_t Crc32Portable(uint32_t crc, const uint8_t* data, size_t n) {
  // zlib takes a uInt length.
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, uInt{1} << 30));
    crc = static_cast<uint32_t>(crc32(crc, data, chunk));
    data += chunk;
    n -= chunk;
  }
  return crc;
}

#if PG_DEFLATE_HAVE_CLMUL
namespace {

// How the folding works. A 16-byte block, read little-endian as a 128-bit value, is the
// polynomial whose x^127 coefficient is bit 0 of its first byte (the CRC is bit-reflected):
// its low 64 bits are the high half H (degrees 64..127), its high 64 bits the low half L.
// The CRC only needs the message modulo the polynomial P, so a block followed by D more bits
// can be replaced by (H*x^(64+D) + L*x^D) mod P, which has degree < 96 and is added to the
// block D bits later. A carry-less multiply of two 64-bit reflected operands yields their
// product times x, so the constants are x^(64+D-1) mod P and x^(D-1) mod P, each as a
// 64-bit reflected value (degree d at bit 63-d).

// x^n mod P, P = x^32 + 0x04C11DB7, as an ordinary (not reflected) 32-bit value.
uint32_t XPowModP(int n) {
  uint64_t r = 1;
  for (int i = 0; i < n; ++i) {
    r <<= 1;
    if (r & (uint64_t{1} << 32)) r ^= 0x104C11DB7u;
  }
  return static_cast<uint32_t>(r);
}

uint64_t Reflected64(uint32_t poly) {
  uint64_t out = 0;
  for (int d = 0; d < 32; ++d) {
    if ((poly >> d) & 1) out |= uint64_t{1} << (63 - d);
  }
  return out;
}

// The constants that move a block forward by `bits`: low lane for H, high lane for L.
struct FoldConstant {
  uint64_t for_high_half;
  uint64_t for_low_half;
};

FoldConstant MakeFold(int bits) {
  return {Reflected64(XPowModP(64 + bits - 1)), Reflected64(XPowModP(bits - 1))};
}

struct Constants {
  FoldConstant by128 = MakeFold(128);
  FoldConstant by256 = MakeFold(256);
  FoldConstant by384 = MakeFold(384);
  FoldConstant by512 = MakeFold(512);
};

const Constants& GetConstants() {
  static const Constants constants;
  return constants;
}

__attribute__((target("pclmul,sse2"))) inline __m128i Fold(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target("pclmul,sse2"))) inline __m128i Load(const FoldConstant& k) {
  return _mm_set_epi64x(static_cast<int64_t>(k.for_low_half),
                        static_cast<int64_t>(k.for_high_half));
}

__attribute__((target("pclmul,sse2"))) inline __m128i Load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Requires n >= 64.
__attribute__((target("pclmul,sse2"))) uint32_t Crc32Clmul(uint32_t crc, const uint8_t* p,
                                                           size_t n) {
  const Constants& c = GetConstants();
  // The register's initial value (zlib keeps it inverted) is added to the first 32 bits.
  __m128i x0 = _mm_xor_si128(Load(p), _mm_cvtsi32_si128(static_cast<int>(~crc)));
  __m128i x1 = Load(p + 16);
  __m128i x2 = Load(p + 32);
  __m128i x3 = Load(p + 48);
  p += 64;
  n -= 64;
  const __m128i k512 = Load(c.by512);
  while (n >= 64) {
    x0 = _mm_xor_si128(Fold(x0, k512), Load(p));
    x1 = _mm_xor_si128(Fold(x1, k512), Load(p + 16));
    x2 = _mm_xor_si128(Fold(x2, k512), Load(p + 32));
    x3 = _mm_xor_si128(Fold(x3, k512), Load(p + 48));
    p += 64;
    n -= 64;
  }
  __m128i x = _mm_xor_si128(_mm_xor_si128(Fold(x0, Load(c.by384)), Fold(x1, Load(c.by256))),
                            _mm_xor_si128(Fold(x2, Load(c.by128)), x3));
  const __m128i k128 = Load(c.by128);
  while (n >= 16) {
    x = _mm_xor_si128(Fold(x, k128), Load(p));
    p += 16;
    n -= 16;
  }
  // What is left is a 16-byte message whose CRC from a zero register is the register here;
  // zlib's crc32 from ~0 computes exactly that, and goes on over the tail.
  uint8_t block[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(block), x);
  const uint32_t mid = static_cast<uint32_t>(::crc32(0xffffffffu, block, 16));
  return static_cast<uint32_t>(::crc32(mid, p, static_cast<uInt>(n)));
}

bool CpuHasClmul() {
  static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
  return has;
}

}  // namespace

bool Crc32UsesClmul() { return CpuHasClmul(); }

uint32_t Crc32(uint32_t crc, const uint8_t* data, size_t n) {
  if (n < 64 || !CpuHasClmul()) return Crc32Portable(crc, data, n);
  return Crc32Clmul(crc, data, n);
}

#else

bool Crc32UsesClmul() { return false; }

uint32_t Crc32(uint32_t crc, const uint8_t* data, size_t n) { return Crc32Portable(crc, data, n); }

#endif

}  // namespace deflate_internal
}  // namespace pushgate
