#include "libs/spool/internal/record_format.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "libs/crc32c/crc32c.h"

namespace pushgate {
namespace spool_internal {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the record header is stored by copying host integers");

// Reads are issued in chunks of this size so sequential reading costs few syscalls.
constexpr size_t kReadChunk = 1 << 20;

template <typename T>
T Load(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

uint32_t RecordCrc(const char* header, absl::string_view payload) {
  uint32_t crc = Crc32cExtend(0, absl::string_view(header + 4, 12));
  return Crc32cExtend(crc, payload);
}

}  // namespace

void EncodeHeader(uint64_t position, absl::string_view payload, char header[kHeaderSize]) {
  const uint32_t length = static_cast<uint32_t>(payload.size());
  std::memcpy(header, kMagic, 4);
  std::memcpy(header + 4, &length, 4);
  std::memcpy(header + 8, &position, 8);
  const uint32_t crc = RecordCrc(header, payload);
  std::memcpy(header + 16, &crc, 4);
}

SegmentReader::SegmentReader(int fd, uint64_t base, const std::vector<Gap>* known_gaps)
    : fd_(fd), base_(base), known_gaps_(known_gaps) {}

bool SegmentReader::Next(uint64_t limit, absl::string_view* payload) {
  status_ = absl::OkStatus();
  if (known_gaps_ != nullptr && !known_gaps_->empty()) {
    const auto gap = std::lower_bound(known_gaps_->begin(), known_gaps_->end(), offset_,
                                      [](const Gap& g, uint64_t at) { return g.begin < at; });
    if (gap != known_gaps_->end() && gap->begin == offset_ && gap->end <= limit) {
      offset_ = gap->end;
    }
  }
  uint64_t end;
  if (ValidAt(offset_, limit, payload, &end)) {
    offset_ = end;
    return true;
  }
  // Resynchronise: look for the magic at every later offset. Candidates are rare in real data
  // and the position check rejects nearly all of them before any checksum is computed.
  uint64_t at = offset_ + 1;
  while (status_.ok() && at + kHeaderSize <= limit) {
    const size_t available = Fill(at, kHeaderSize, limit);
    if (available < kHeaderSize) break;
    const char* start = At(at);
    const void* hit = memchr(start, kMagic[0], available - kHeaderSize + 1);
    if (hit == nullptr) {
      at += available - kHeaderSize + 1;
      continue;
    }
    at += static_cast<const char*>(hit) - start;
    if (ValidAt(at, limit, payload, &end)) {
      new_gaps_.push_back(Gap{offset_, at});
      skipped_bytes_ += at - offset_;
      offset_ = end;
      return true;
    }
    ++at;
  }
  return false;
}

bool SegmentReader::ValidAt(uint64_t at, uint64_t limit, absl::string_view* payload,
                            uint64_t* end) {
  if (at + kHeaderSize > limit || Fill(at, kHeaderSize, limit) < kHeaderSize) return false;
  const char* header = At(at);
  if (std::memcmp(header, kMagic, 4) != 0) return false;
  const uint32_t length = Load<uint32_t>(header + 4);
  if (Load<uint64_t>(header + 8) != base_ + at) return false;
  if (length > kMaxPayloadSize || length > limit - at - kHeaderSize) return false;
  if (Fill(at, kHeaderSize + length, limit) < kHeaderSize + length) return false;
  header = At(at);  // Fill may have moved the buffer
  const absl::string_view data(header + kHeaderSize, length);
  if (RecordCrc(header, data) != Load<uint32_t>(header + 16)) return false;
  *payload = data;
  *end = at + kHeaderSize + length;
  return true;
}

size_t SegmentReader::Fill(uint64_t from, size_t need, uint64_t limit) {
  const uint64_t buffer_end = buffer_start_ + buffer_size_;
  if (from >= buffer_start_ && from + need <= buffer_end) return buffer_end - from;
  if (from >= buffer_start_ && from < buffer_end) {
    buffer_size_ = buffer_end - from;
    std::memmove(buffer_.get(), At(from), buffer_size_);
  } else {
    buffer_size_ = 0;
  }
  buffer_start_ = from;
  size_t want = std::max(need, kReadChunk);
  if (from + want > limit) want = limit > from ? limit - from : 0;
  const size_t fitting = std::max({want, kReadChunk, buffer_size_});
  if (fitting > capacity_ || capacity_ > 2 * fitting) {
    // Grow for a large record; shrink again after one so the buffer stays near one chunk.
    std::unique_ptr<char[]> resized(new char[fitting]);
    if (buffer_size_ > 0) std::memcpy(resized.get(), buffer_.get(), buffer_size_);
    buffer_ = std::move(resized);
    capacity_ = fitting;
  }
  while (buffer_size_ < want) {
    const ssize_t n = pread(fd_, buffer_.get() + buffer_size_, want - buffer_size_,
                            static_cast<off_t>(from + buffer_size_));
    if (n < 0) {
      if (errno == EINTR) continue;
      status_ =
          absl::InternalError(absl::StrCat("reading spool segment ", base_, ": ", strerror(errno)));
      break;
    }
    if (n == 0) break;  // the file is shorter than `limit`
    buffer_size_ += static_cast<size_t>(n);
  }
  return buffer_size_;
}

}  // namespace spool_internal
}  // namespace pushgate
