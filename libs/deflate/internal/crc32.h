// CRC-32 (the gzip/zlib checksum, reflected polynomial 0xEDB88320) for the gzip trailer of
// //libs/deflate. On x86-64 CPUs with PCLMULQDQ it folds 64 bytes at a time with carry-less
// multiplies, several times faster than zlib's table-driven crc32(); elsewhere, and for short
// inputs, it is zlib's crc32().
#ifndef PUSHGATE_LIBS_DEFLATE_INTERNAL_CRC32_H_
#define PUSHGATE_LIBS_DEFLATE_INTERNAL_CRC32_H_

#include <cstddef>
#include <cstdint>

namespace pushgate {
namespace deflate_internal {

// Same contract as zlib's crc32(): extends `crc` (0 for no earlier bytes) over data[0, n).
// Crc32(Crc32(0, a), b) == Crc32(0, a + b); "123456789" gives 0xcbf43926.
uint32_t Crc32(uint32_t crc, const uint8_t* data, size_t n);

// Crc32 without carry-less multiplies, whatever the CPU (zlib's crc32()), so tests can check
// both paths agree.
uint32_t Crc32Portable(uint32_t crc, const uint8_t* data, size_t n);

// Whether Crc32 uses carry-less multiplies on this CPU.
bool Crc32UsesClmul();

}  // namespace deflate_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_DEFLATE_INTERNAL_CRC32_H_
