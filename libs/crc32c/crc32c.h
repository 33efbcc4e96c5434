// CRC-32C (Castagnoli, the checksum of iSCSI, ext4 and the snappy framing format), for the
// snappy framing checksums of //libs/compression and the record checksums of //libs/spool.
// Uses the SSE4.2 crc32 instruction when the CPU has it (the spool checksums every byte it
// writes and re-reads, so this must cost far less than the I/O), else portable tables.
#ifndef PUSHGATE_LIBS_CRC32C_CRC32C_H_
#define PUSHGATE_LIBS_CRC32C_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace pushgate {

// Extends `crc` (the CRC-32C of earlier bytes, 0 for none) over `data`:
// Crc32cExtend(Crc32cExtend(0, a), b) == Crc32cExtend(0, a + b).
uint32_t Crc32cExtend(uint32_t crc, absl::string_view data);

// The CRC-32C of `data` ("123456789" gives 0xe3069283).
inline uint32_t Crc32c(absl::string_view data) { return Crc32cExtend(0, data); }

// Crc32cExtend without the SSE4.2 instruction, whatever the CPU; exposed so tests can check
// that both paths agree.
uint32_t Crc32cExtendPortable(uint32_t crc, absl::string_view data);

// The "masked" form the snappy framing format stores, so that a CRC over data that itself
// holds CRCs stays well distributed.
inline uint32_t MaskCrc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_CRC32C_CRC32C_H_
