// CRC-32 (the gzip/zlib checksum, reflected polynomial 0xEDB88320) for the gzip trailer of
// //libs/deflate. On x86-64 CPUs with carry-less multiplies it folds the data 64 bytes at a
// time (PCLMULQDQ), or 256 bytes at a time on CPUs with AVX-512 VPCLMULQDQ, several times
// faster than zlib's table-driven crc32(); elsewhere, and for short inputs, it is zlib's.
#ifndef PUSHGATE_LIBS_DEFLATE_INTERNAL_CRC32_H_
#define PUSHGATE_LIBS_DEFLATE_INTERNAL_CRC32_H_

#include <cstddef>
#include <cstdint>

namespace pushgate {
namespace deflate_internal {

// Same contract as zlib's crc32(): extends `crc` (0 for no earlier bytes) over data[0, n).
// Crc32(Crc32(0, a), b) == Crc32(0, a + b); "123456789" gives 0xcbf43926.
uint32_t Crc32(uint32_t crc, const uint8_t* data, size_t n);

// The ways Crc32 can compute, fastest last.
enum class Crc32Kernel {
  kPortable,  // zlib's crc32()
  kClmul,     // 128-bit PCLMULQDQ folding
  kClmul512,  // 512-bit VPCLMULQDQ folding (AVX-512)
};

// Whether this CPU can run `kernel`.
bool Crc32KernelSupported(Crc32Kernel kernel);

// The kernel Crc32 uses on this CPU.
Crc32Kernel Crc32BestKernel();

// Crc32 computed with `kernel`, which must be supported; exposed so tests can check that
// every kernel agrees with zlib.
uint32_t Crc32With(Crc32Kernel kernel, uint32_t crc, const uint8_t* data, size_t n);

}  // namespace deflate_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_DEFLATE_INTERNAL_CRC32_H_
