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

namespace {

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

// How the folding works. A 16-byte block, read little-endian as a 128-bit value, is the
// polynomial whose x^127 coefficient is bit 0 of its first byte (the CRC is bit-reflected):
// its low 64 bits are the high half H (degrees 64..127), its high 64 bits the low half L.
// The CRC only needs the message modulo the polynomial P, so a block followed by D more bits
// can be replaced by (H*x^(64+D) + L*x^D) mod P, which has degree < 96 and is added to the
// block D bits later. A carry-less multiply of two 64-bit reflected operands yields their
// product times x, so the constants are x^(64+D-1) mod P and x^(D-1) mod P, each as a
// 64-bit reflected value (degree d at bit 63-d). The 512-bit kernel does the same in four
// 128-bit lanes at once.

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
  FoldConstant by1024 = MakeFold(1024);
  FoldConstant by1536 = MakeFold(1536);
  FoldConstant by2048 = MakeFold(2048);
};

const Constants& GetConstants() {
  static const Constants constants;
  return constants;
}

#define PG_CLMUL_TARGET __attribute__((target("pclmul,sse2")))
#define PG_CLMUL512_TARGET __attribute__((target("pclmul,sse2,avx512f,vpclmulqdq")))

PG_CLMUL_TARGET inline __m128i Fold(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

PG_CLMUL_TARGET inline __m128i Load(const FoldConstant& k) {
  return _mm_set_epi64x(static_cast<int64_t>(k.for_low_half),
                        static_cast<int64_t>(k.for_high_half));
}

PG_CLMUL_TARGET inline __m128i Load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Folds 16-byte blocks into x until fewer than 16 bytes are left, then finishes with zlib:
// x, as a 16-byte message, has from a zero register the CRC that the register holds here,
// which is what zlib's crc32 computes from ~0, and it goes on over the tail.
PG_CLMUL_TARGET uint32_t Finish(__m128i x, const uint8_t* p, size_t n) {
  const __m128i k128 = Load(GetConstants().by128);
  for (; n >= 16; p += 16, n -= 16) x = _mm_xor_si128(Fold(x, k128), Load(p));
  uint8_t block[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(block), x);
  const uint32_t mid = static_cast<uint32_t>(::crc32(0xffffffffu, block, 16));
  return Crc32Portable(mid, p, n);
}

// Requires n >= 64.
PG_CLMUL_TARGET uint32_t Crc32Clmul(uint32_t crc, const uint8_t* p, size_t n) {
  const Constants& c = GetConstants();
  // The register's initial value (zlib keeps it inverted) is added to the first 32 bits.
  __m128i x0 = _mm_xor_si128(Load(p), _mm_cvtsi32_si128(static_cast<int>(~crc)));
  __m128i x1 = Load(p + 16);
  __m128i x2 = Load(p + 32);
  __m128i x3 = Load(p + 48);
  p += 64;
  n -= 64;
  const __m128i k512 = Load(c.by512);
  for (; n >= 64; p += 64, n -= 64) {
    x0 = _mm_xor_si128(Fold(x0, k512), Load(p));
    x1 = _mm_xor_si128(Fold(x1, k512), Load(p + 16));
    x2 = _mm_xor_si128(Fold(x2, k512), Load(p + 32));
    x3 = _mm_xor_si128(Fold(x3, k512), Load(p + 48));
  }
  const __m128i x = _mm_xor_si128(_mm_xor_si128(Fold(x0, Load(c.by384)), Fold(x1, Load(c.by256))),
                                  _mm_xor_si128(Fold(x2, Load(c.by128)), x3));
  return Finish(x, p, n);
}

PG_CLMUL512_TARGET inline __m512i Fold512(__m512i x, __m512i k, __m512i add) {
  // 0x96: a ^ b ^ c.
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                   _mm512_clmulepi64_epi128(x, k, 0x11), add, 0x96);
}

PG_CLMUL512_TARGET inline __m512i Load512(const FoldConstant& k) {
  return _mm512_broadcast_i32x4(Load(k));
}

PG_CLMUL512_TARGET inline __m512i Load512(const uint8_t* p) { return _mm512_loadu_si512(p); }

// Requires n >= 256.
PG_CLMUL512_TARGET uint32_t Crc32Clmul512(uint32_t crc, const uint8_t* p, size_t n) {
  const Constants& c = GetConstants();
  const __m512i init =
      _mm512_inserti32x4(_mm512_setzero_si512(), _mm_cvtsi32_si128(static_cast<int>(~crc)), 0);
  __m512i x0 = _mm512_xor_si512(Load512(p), init);
  __m512i x1 = Load512(p + 64);
  __m512i x2 = Load512(p + 128);
  __m512i x3 = Load512(p + 192);
  p += 256;
  n -= 256;
  const __m512i k2048 = Load512(c.by2048);
  for (; n >= 256; p += 256, n -= 256) {
    x0 = Fold512(x0, k2048, Load512(p));
    x1 = Fold512(x1, k2048, Load512(p + 64));
    x2 = Fold512(x2, k2048, Load512(p + 128));
    x3 = Fold512(x3, k2048, Load512(p + 192));
  }
  __m512i x = Fold512(x0, Load512(c.by1536), Fold512(x1, Load512(c.by1024), x3));
  x = Fold512(x2, Load512(c.by512), x);
  const __m512i k512 = Load512(c.by512);
  for (; n >= 64; p += 64, n -= 64) x = Fold512(x, k512, Load512(p));
  // The four lanes, 16 consecutive bytes each, into one.
  const __m128i lane =
      _mm_xor_si128(_mm_xor_si128(Fold(_mm512_extracti32x4_epi32(x, 0), Load(c.by384)),
                                  Fold(_mm512_extracti32x4_epi32(x, 1), Load(c.by256))),
                    _mm_xor_si128(Fold(_mm512_extracti32x4_epi32(x, 2), Load(c.by128)),
                                  _mm512_extracti32x4_epi32(x, 3)));
  return Finish(lane, p, n);
}

bool CpuHasClmul() {
  static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
  return has;
}

bool CpuHasClmul512() {
  static const bool has =
      CpuHasClmul() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq");
  return has;
}

#endif  // PG_DEFLATE_HAVE_CLMUL

}  // namespace

bool Crc32KernelSupported(Crc32Kernel kernel) {
  switch (kernel) {
    case Crc32Kernel::kPortable:
      return true;
#if PG_DEFLATE_HAVE_CLMUL
    case Crc32Kernel::kClmul:
      return CpuHasClmul();
    case Crc32Kernel::kClmul512:
      return CpuHasClmul512();
#endif
    default:
      return false;
  }
}

Crc32Kernel Crc32BestKernel() {
  static const Crc32Kernel best =
      Crc32KernelSupported(Crc32Kernel::kClmul512) ? Crc32Kernel::kClmul512
      : Crc32KernelSupported(Crc32Kernel::kClmul)  ? Crc32Kernel::kClmul
                                                   : Crc32Kernel::kPortable;
  return best;
}

uint32_t Crc32With(Crc32Kernel kernel, uint32_t crc, const uint8_t* data, size_t n) {
#if PG_DEFLATE_HAVE_CLMUL
  if (kernel == Crc32Kernel::kClmul512 && n >= 256) return Crc32Clmul512(crc, data, n);
  if (kernel != Crc32Kernel::kPortable && n >= 64) return Crc32Clmul(crc, data, n);
#endif
  return Crc32Portable(crc, data, n);
}

uint32_t Crc32(uint32_t crc, const uint8_t* data, size_t n) {
  return Crc32With(Crc32BestKernel(), crc, data, n);
}

}  // namespace deflate_internal
}  // namespace pushgate
