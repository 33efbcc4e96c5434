// Content-Encoding handling for pushgate: bounded, streaming decompression of request bodies
// (gzip, framed snappy, zstd) so a small compressed "bomb" can never make the front allocate
// more than the configured limit, and compression for the bodies pushgate uploads (gzip for
// line protocol, snappy blocks for Prometheus remote write).
#ifndef PUSHGATE_LIBS_COMPRESSION_COMPRESSION_H_
#define PUSHGATE_LIBS_COMPRESSION_COMPRESSION_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pushgate {

enum class ContentEncoding {
  kIdentity,
  kGzip,
  // The snappy *framing* format (stream identifier + checksummed chunks), which is what
  // `Content-Encoding: snappy` means for the Pushgateway and DataKit.
  kSnappyFramed,
  kZstd,
};

// Parses a Content-Encoding header value: case-insensitive, surrounding spaces and tabs
// ignored. "" and "identity" -> kIdentity; "gzip" (and its legacy alias "x-gzip") -> kGzip;
// "snappy" -> kSnappyFramed; "zstd" -> kZstd. Anything else, including lists such as
// "gzip, zstd", -> InvalidArgument `unsupported Content-Encoding "x"` (the front answers 415).
absl::StatusOr<ContentEncoding> ParseContentEncoding(absl::string_view header);

// The canonical header token for `encoding` ("identity", "gzip", "snappy", "zstd").
absl::string_view ContentEncodingName(ContentEncoding encoding);

// Decompresses `in` into `*out` (cleared first, its capacity reused).
//
// `*out` never holds or reserves more than `max_bytes`: the data is decoded in chunks of at
// most kDecompressChunkBytes, and decoding stops as soon as the next chunk would take the
// output past the limit, so a gzip bomb costs about max_bytes of memory and the time to
// inflate max_bytes, whatever it would expand to.
//
// Errors:
//  - output would exceed max_bytes -> ResourceExhausted "decompressed body exceeds N bytes"
//    (the front answers 413);
//  - corrupt or truncated data, bad checksums, trailing garbage -> InvalidArgument naming
//    the encoding and the problem (the front answers 400).
// An empty `in` decodes to an empty body for every encoding (a request without a body that
// still carries a Content-Encoding header). gzip input may hold several members and zstd
// input several frames; their outputs are concatenated. On error `*out` holds unspecified
// partial data.
absl::Status Decompress(ContentEncoding encoding, absl::string_view in, size_t max_bytes,
                        std::string* out);

// Output granularity of Decompress: how far a rejected body's output may have got.
inline constexpr size_t kDecompressChunkBytes = 64 * 1024;

// gzip-compresses `in` as one gzip member and appends it to `*out`. `level` is zlib's: 0
// (store) to 9 (best), or -1 for zlib's default; anything else -> InvalidArgument.
absl::Status GzipCompress(absl::string_view in, std::string* out, int level = 6);

// Snappy *block* compression (no framing, no checksum: the format of Prometheus remote
// write bodies), appended to `*out`.
void SnappyBlockCompress(absl::string_view in, std::string* out);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_COMPRESSION_COMPRESSION_H_
