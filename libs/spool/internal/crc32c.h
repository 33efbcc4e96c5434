// CRC-32C (Castagnoli) for the spool's record checksums, using the SSE4.2 crc32 instruction
// when the CPU has it: the spool checksums every byte it writes and re-reads, so the
// checksum must cost far less than the I/O. Private to //libs/spool.
#ifndef PUSHGATE_LIBS_SPOOL_INTERNAL_CRC32C_H_
#define PUSHGATE_LIBS_SPOOL_INTERNAL_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace pushgate {
namespace spool_internal {

// Extends `crc` (the CRC-32C of earlier bytes, 0 for none) over `data`:
// Crc32cExtend(Crc32cExtend(0, a), b) == Crc32cExtend(0, a + b).
uint32_t Crc32cExtend(uint32_t crc, absl::string_view data);

// The portable table-driven implementation, exposed so tests can check that both paths agree.
uint32_t Crc32cExtendPortable(uint32_t crc, absl::string_view data);

}  // namespace spool_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_SPOOL_INTERNAL_CRC32C_H_
