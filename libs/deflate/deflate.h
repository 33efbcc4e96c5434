// A fast gzip (RFC 1952) encoder for the bodies pushgate uploads: InfluxDB line protocol,
// text so repetitive that a greedy LZ77 pass with a one-entry hash table finds as much as
// zlib's level 1 does, at two to four times its speed. The DEFLATE (RFC 1951) stream is
// written by this library; any gzip decoder reads it.
//
// How it trades: matches of 6 to 258 bytes over the standard 32 KiB window, found greedily
// through a hash table of the most recent position of each 6-byte prefix; a long match is
// taken whole, without indexing the positions inside it. Each block of up to 128 KiB of input
// is sent with whichever of a dynamic Huffman code, the fixed code or stored (raw) bytes is
// smallest, so incompressible input grows by about 5 bytes per 64 KiB plus the 18-byte gzip
// frame. Runs without matches are scanned with growing strides, so random data costs little.
#ifndef PUSHGATE_LIBS_DEFLATE_DEFLATE_H_
#define PUSHGATE_LIBS_DEFLATE_DEFLATE_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace pushgate {

namespace deflate_internal {
struct EncoderState;
}  // namespace deflate_internal

// Appends one gzip member holding `in` to `*out`. Never fails. `in` must not point into
// `*out` (which may be reallocated while `in` is read).
//
// The member has no name, comment or modification time (MTIME 0, OS 255 "unknown"). Uses a
// thread-local FastGzipEncoder, so repeated calls on one thread do not allocate beyond
// growing `*out` (about 260 KiB of scratch stays with each thread that has called it).
void FastGzipCompress(absl::string_view in, std::string* out);

// The encoder behind FastGzipCompress, with its scratch (hash table, symbol buffer) reusable
// across calls. Not thread-safe: one encoder per thread.
class FastGzipEncoder {
 public:
  FastGzipEncoder();
  ~FastGzipEncoder();
  FastGzipEncoder(const FastGzipEncoder&) = delete;
  FastGzipEncoder& operator=(const FastGzipEncoder&) = delete;

  // Appends one gzip member holding `in` to `*out`. Never fails. The output depends only on
  // `in`, not on earlier calls.
  void Compress(absl::string_view in, std::string* out);

 private:
  std::unique_ptr<deflate_internal::EncoderState> state_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_DEFLATE_DEFLATE_H_
