// Fuzz target for libs/deflate: FastGzipCompress must write gzip that zlib inflates back to
// exactly its input. The first input byte picks how the rest becomes the data to compress:
//   - even: the bytes as they are;
//   - odd: the bytes repeated, one byte changed per copy, up to 1 + byte * 1,024 bytes
//     (at most 255 KiB): long matches at the input's length as distance, runs across the
//     encoder's ~128 KiB blocks, and distances up to and beyond the 32 KiB window.
//
// Beyond "no crash, no undefined behaviour", it checks:
//   - zlib inflates the output (one gzip member, nothing after it; zlib checks the CRC-32
//     and length of the trailer) to the data, byte for byte;
//   - the output is no larger than stored blocks would make it: 18 bytes of gzip frame and
//     at most 16 bytes per 32 KiB of data;
//   - compressing the same data again gives the same bytes (the encoder's reused hash table
//     holds the first call's positions, which must not leak into the second's output).
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "libs/deflate/deflate.h"
#include "tools/fuzz_targets/fuzz_check.h"

namespace pushgate {
namespace fuzz {
namespace {

std::string Expand(absl::string_view seed, size_t size) {
  if (seed.empty()) seed = absl::string_view("\0", 1);
  std::string data;
  data.reserve(size);
  for (size_t copy = 0; data.size() < size; ++copy) {
    const size_t at = data.size();
    data.append(seed.data(), std::min(seed.size(), size - at));
    if (data.size() > at) data[at + copy % (data.size() - at)] ^= static_cast<char>(copy | 1);
  }
  return data;
}

// Inflates one gzip member; false on any error, an unfinished member or trailing bytes.
bool Inflate(absl::string_view gz, size_t expected_size, std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + 15) != Z_OK) return false;
  out->resize(expected_size + 1);  // room for one byte too many, to catch it
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = reinterpret_cast<Bytef*>(&(*out)[0]);
  zs.avail_out = static_cast<uInt>(out->size());
  const int rc = inflate(&zs, Z_FINISH);
  out->resize(zs.total_out);
  const bool ok = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  return ok;
}

void Run(absl::string_view input) {
  if (input.empty()) return;
  const uint8_t mode = static_cast<uint8_t>(input[0]);
  input.remove_prefix(1);
  const std::string data =
      mode % 2 == 0 ? std::string(input) : Expand(input, 1 + size_t{mode} * 1024);

  std::string gz;
  FastGzipCompress(data, &gz);
  std::string back;
  FUZZ_CHECK(Inflate(gz, data.size(), &back), "zlib rejected the output of ", data.size(),
             " bytes (", gz.size(), " compressed)");
  FUZZ_CHECK(back == data, "inflated ", back.size(), " bytes differ from the ", data.size(),
             " compressed");
  const size_t bound = data.size() + 18 + 16 * (data.size() / 32768 + 1);
  FUZZ_CHECK(gz.size() <= bound, data.size(), " bytes became ", gz.size(), ", over ", bound);

  std::string again;
  FastGzipCompress(data, &again);
  FUZZ_CHECK(again == gz, "a second compression of the same ", data.size(), " bytes differs");
}

}  // namespace
}  // namespace fuzz
}  // namespace pushgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pushgate::fuzz::Run(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
