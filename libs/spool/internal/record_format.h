// The spool's on-disk record framing and a buffered, self-resynchronising reader of one segment
// file. Private to //libs/spool.
//
// A segment file is a sequence of records, each:
//   magic     4 bytes  kMagic
//   length    4 bytes  little-endian payload size
//   position  8 bytes  little-endian log position of the record's first header byte
//                      (segment base + file offset)
//   crc       4 bytes  little-endian CRC-32C of bytes 4..15 of the header and the payload
//   payload   `length` bytes
// Storing the record's own position makes a record valid at one place in the log only: stale
// bytes, a misnamed file, or a record-shaped payload found while resynchronising after
// corruption do not pass for real records.
#ifndef PUSHGATE_LIBS_SPOOL_INTERNAL_RECORD_FORMAT_H_
#define PUSHGATE_LIBS_SPOOL_INTERNAL_RECORD_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pushgate {
namespace spool_internal {

inline constexpr size_t kHeaderSize = 20;
inline constexpr char kMagic[4] = {'\xa7', 'P', 'G', 'W'};
// Payloads are limited well below the 32-bit length field so a corrupt length cannot make a
// reader allocate gigabytes.
inline constexpr size_t kMaxPayloadSize = size_t{1} << 30;

// Fills `header` for `payload` stored at log position `position`.
void EncodeHeader(uint64_t position, absl::string_view payload, char header[kHeaderSize]);

// A damaged byte range [begin, end) of a segment file, in file offsets.
struct Gap {
  uint64_t begin;
  uint64_t end;
};

// Reads the records of one segment file front to back through a reusable buffer. When the bytes
// at the current offset are not a valid record it searches forward for the next valid one and
// records the bytes in between as a gap, so one damaged record does not hide those after it.
class SegmentReader {
 public:
  // `fd` must stay open while the reader is used; reading starts at file offset 0. Gaps in
  // `known_gaps` (sorted, from an earlier reader; may be null) are jumped over silently.
  SegmentReader(int fd, uint64_t base, const std::vector<Gap>* known_gaps = nullptr);

  // Moves to the next valid record that ends at or before file offset `limit` and points
  // `*payload` at it (valid until the next call). Returns false if there is none: offset() then
  // is where the unusable bytes before `limit` (if any) begin, and a later call with a larger
  // limit resumes from there. Also returns false on a read error (see status()).
  bool Next(uint64_t limit, absl::string_view* payload);

  // File offset just after the last record returned (or the starting offset).
  uint64_t offset() const { return offset_; }
  uint64_t base() const { return base_; }
  // Gaps found (not known beforehand) to reach the valid records returned, in order, and their
  // total size.
  const std::vector<Gap>& new_gaps() const { return new_gaps_; }
  uint64_t skipped_bytes() const { return skipped_bytes_; }
  // The last read error; cleared by the next call to Next().
  const absl::Status& status() const { return status_; }

 private:
  // Returns true and sets *payload if a valid record starts at `at` and ends by `limit`.
  bool ValidAt(uint64_t at, uint64_t limit, absl::string_view* payload, uint64_t* end);
  // Makes the buffer hold file bytes [from, from + need) if the file and `limit` allow; returns
  // how many bytes from `from` on the buffer holds afterwards (possibly fewer than `need`).
  size_t Fill(uint64_t from, size_t need, uint64_t limit);
  const char* At(uint64_t file_offset) const {
    return buffer_.get() + (file_offset - buffer_start_);
  }

  const int fd_;
  const uint64_t base_;
  const std::vector<Gap>* const known_gaps_;
  uint64_t offset_ = 0;
  std::vector<Gap> new_gaps_;
  uint64_t skipped_bytes_ = 0;
  absl::Status status_;

  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  uint64_t buffer_start_ = 0;  // file offset of buffer_[0]
  size_t buffer_size_ = 0;     // valid bytes in buffer_
};

}  // namespace spool_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_SPOOL_INTERNAL_RECORD_FORMAT_H_
