// Fuzz target for Decompress (libs/compression). The input's first byte picks the encoding
// (gzip, framed snappy, zstd); the rest is the compressed body, decoded with a 1 MiB limit.
//
// Beyond "no crash, no undefined behaviour", it checks what the header promises:
//   - the output never holds or reserves more than the limit, even on error;
//   - errors are InvalidArgument naming the encoding, or ResourceExhausted for the limit;
//   - a body that decodes fits exactly into a limit of its decoded size (same bytes), and
//     one byte less is ResourceExhausted: the limit is exact, not approximate;
//   - a gzip body's output survives GzipCompress + Decompress unchanged.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/compression/compression.h"
#include "tools/fuzz_targets/fuzz_check.h"

namespace pushgate {
namespace fuzz {
namespace {

constexpr size_t kLimit = 1 << 20;

void CheckBounded(const std::string& out, size_t limit, absl::string_view what) {
  FUZZ_CHECK(out.size() <= limit, what, ": ", out.size(), " bytes out, limit ", limit);
  // A small limit cannot go below the string's built-in buffer.
  FUZZ_CHECK(out.capacity() <= std::max<size_t>(limit, std::string().capacity()), what, ": ",
             out.capacity(), " bytes reserved, limit ", limit);
}

void Run(absl::string_view input) {
  if (input.empty()) return;
  static constexpr ContentEncoding kEncodings[] = {
      ContentEncoding::kGzip, ContentEncoding::kSnappyFramed, ContentEncoding::kZstd};
  const ContentEncoding encoding = kEncodings[static_cast<unsigned char>(input[0]) % 3];
  const absl::string_view name = ContentEncodingName(encoding);
  input.remove_prefix(1);

  std::string out = "left over from an earlier call";
  const absl::Status status = Decompress(encoding, input, kLimit, &out);
  CheckBounded(out, kLimit, name);
  if (!status.ok()) {
    if (status.code() == absl::StatusCode::kResourceExhausted) {
      FUZZ_CHECK(absl::StrContains(status.message(), absl::StrCat(kLimit)), status.ToString());
    } else {
      FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
      FUZZ_CHECK(absl::StartsWith(status.message(), absl::StrCat(name, ": ")), status.ToString());
    }
    return;
  }
  FUZZ_CHECK(!input.empty() || out.empty(), "an empty body decoded to ", out.size(), " bytes");

  std::string exact;
  const absl::Status exact_status = Decompress(encoding, input, out.size(), &exact);
  CheckBounded(exact, out.size(), name);
  FUZZ_CHECK(exact_status.ok() && exact == out, name, ": a limit of the decoded size ", out.size(),
             " was not enough: ", exact_status.ToString());
  if (!out.empty()) {
    std::string short_by_one;
    const absl::Status short_status = Decompress(encoding, input, out.size() - 1, &short_by_one);
    CheckBounded(short_by_one, out.size() - 1, name);
    FUZZ_CHECK(short_status.code() == absl::StatusCode::kResourceExhausted, name,
               ": a limit one byte short of ", out.size(), " gave ", short_status.ToString());
  }

  if (encoding == ContentEncoding::kGzip && out.size() <= 64 * 1024) {
    std::string recompressed;
    FUZZ_CHECK(GzipCompress(out, &recompressed).ok(), "GzipCompress failed");
    std::string round_trip;
    const absl::Status rt = Decompress(ContentEncoding::kGzip, recompressed, kLimit, &round_trip);
    FUZZ_CHECK(rt.ok() && round_trip == out, "gzip round trip: ", rt.ToString());
  }
}

}  // namespace
}  // namespace fuzz
}  // namespace pushgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pushgate::fuzz::Run(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
