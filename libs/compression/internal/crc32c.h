// CRC-32C (Castagnoli), computed in portable software, for the checksums of the snappy
// framing format. Private to //libs/compression.
#ifndef PUSHGATE_LIBS_COMPRESSION_INTERNAL_CRC32C_H_
#define PUSHGATE_LIBS_COMPRESSION_INTERNAL_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace pushgate {
namespace compression_internal {

// Extends `crc` (the CRC-32C of earlier bytes, 0 for none) over `data`:
// Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b).
uint32_t Crc32cExtend(uint32_t crc, absl::string_view data);

inline uint32_t Crc32c(absl::string_view data) { return Crc32cExtend(0, data); }

// The snappy framing format stores checksums "masked" so that a CRC over data that itself
// contains CRCs stays well distributed.
inline uint32_t MaskCrc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace compression_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_COMPRESSION_INTERNAL_CRC32C_H_
