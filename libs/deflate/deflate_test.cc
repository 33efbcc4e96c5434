#include "libs/deflate/deflate.h"

#include <zlib.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace {

// ---------------------------------------------------------------------------------------
// zlib as the reference decoder and the speed/ratio baseline.

// Inflates one gzip member with zlib; fails the test on any error, on trailing bytes and on
// a member zlib does not finish (it also checks the CRC-32 and ISIZE of the trailer).
std::string Inflate(absl::string_view gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 16 + 15), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    const size_t done = out.size();
    out.resize(done + 1 + 4 * gz.size() + 65536);
    zs.next_out = reinterpret_cast<Bytef*>(&out[done]);
    zs.avail_out = static_cast<uInt>(out.size() - done);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(out.size() - zs.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END) << (zs.msg != nullptr ? zs.msg : "");
  EXPECT_EQ(zs.avail_in, 0u) << "bytes after the gzip member";
  inflateEnd(&zs);
  return out;
}

std::string ZlibGzip(absl::string_view in, int level) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Compress(absl::string_view in) {
  std::string out;
  FastGzipCompress(in, &out);
  return out;
}

// Compresses, checks the round trip, returns the compressed size.
size_t RoundTrip(absl::string_view in) {
  const std::string gz = Compress(in);
  const std::string back = Inflate(gz);
  EXPECT_EQ(back.size(), in.size());
  EXPECT_TRUE(back == in) << "inflated bytes differ from the input";
  return gz.size();
}

// ---------------------------------------------------------------------------------------
// Inputs.

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// InfluxDB line protocol as the aggregator uploads it: a few measurements, a handful of
// tag combinations, counters and histogram buckets with varying values and timestamps.
std::string LineProtocol(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  static const char* const kHandlers[] = {"/items", "/orders", "/users", "/health"};
  static const char* const kMethods[] = {"GET", "POST"};
  static const char* const kCodes[] = {"200", "201", "404", "500"};
  static const char* const kLe[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                    "0.5",   "1",    "2.5",   "5",    "10",  "+Inf"};
  std::string s;
  s.reserve(n + 256);
  int64_t timestamp = 1795575517863391980;
  while (s.size() < n) {
    timestamp += 15000000000 + rng() % 1000000;
    const std::string instance = absl::StrCat("i", rng() % 8);
    for (const char* handler : kHandlers) {
      for (const char* method : kMethods) {
        for (const char* code : kCodes) {
          absl::StrAppend(&s, "http,code=", code, ",handler=", handler, ",instance=", instance,
                          ",job=bench,method=", method,
                          " http_requests_total=", 1000 + rng() % 50000, " ", timestamp, "\n");
        }
      }
    }
    uint64_t cumulative = rng() % 10;
    for (const char* le : kLe) {
      cumulative += rng() % 200;
      absl::StrAppend(&s, "request_duration_seconds,instance=", instance, ",job=bench,le=", le,
                      " bucket=", cumulative, " ", timestamp, "\n");
    }
    absl::StrAppend(&s, "request_duration_seconds,instance=", instance,
                    ",job=bench sum=", rng() % 100000, ".", rng() % 1000, ",count=", cumulative,
                    " ", timestamp, "\n");
    absl::StrAppend(&s, "process,instance=", instance,
                    ",job=bench resident_memory_bytes=", rng() % 1000000000,
                    "i,open_fds=", rng() % 1000, "i ", timestamp, "\n");
  }
  return s;
}

// ---------------------------------------------------------------------------------------

TEST(FastGzipCompressTest, EmptyInput) {
  const std::string gz = Compress("");
  EXPECT_EQ(Inflate(gz), "");
  EXPECT_LE(gz.size(), 20u);  // header, an empty fixed block, trailer
}

TEST(FastGzipCompressTest, OneAndThreeBytes) {
  RoundTrip("x");
  RoundTrip(std::string(1, '\0'));
  RoundTrip("abc");
  RoundTrip("\xff\xfe\xfd");
}

TEST(FastGzipCompressTest, EverySizeUpTo100) {
  const std::string text = LineProtocol(200, 3);
  const std::string random = RandomBytes(200, 4);
  for (size_t n = 0; n <= 100; ++n) {
    RoundTrip(absl::string_view(text).substr(0, n));
    RoundTrip(absl::string_view(random).substr(0, n));
    RoundTrip(std::string(n, 'a'));
  }
}

TEST(FastGzipCompressTest, HeaderAndTrailer) {
  const std::string in = "hello, hello, hello\n";
  const std::string gz = Compress(in);
  ASSERT_GE(gz.size(), 18u);
  EXPECT_EQ(static_cast<uint8_t>(gz[0]), 0x1f);
  EXPECT_EQ(static_cast<uint8_t>(gz[1]), 0x8b);
  EXPECT_EQ(gz[2], 8);                               // deflate
  EXPECT_EQ(gz[3], 0);                               // no flags: no name, comment or extra field
  EXPECT_EQ(gz.substr(4, 4), std::string(4, '\0'));  // MTIME
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(in.data()), static_cast<uInt>(in.size())));
  uint32_t stored_crc = 0, stored_size = 0;
  for (int k = 0; k < 4; ++k) {
    stored_crc |= uint32_t{static_cast<uint8_t>(gz[gz.size() - 8 + k])} << (8 * k);
    stored_size |= uint32_t{static_cast<uint8_t>(gz[gz.size() - 4 + k])} << (8 * k);
  }
  EXPECT_EQ(stored_crc, crc);
  EXPECT_EQ(stored_size, in.size());
  EXPECT_EQ(Inflate(gz), in);
}

TEST(FastGzipCompressTest, AppendsToOutput) {
  std::string out = "prefix";
  FastGzipCompress("abcabcabcabc", &out);
  ASSERT_EQ(out.substr(0, 6), "prefix");
  EXPECT_EQ(Inflate(absl::string_view(out).substr(6)), "abcabcabcabc");
  // Two members back to back are a valid gzip stream of their concatenation.
  const size_t first_end = out.size();
  FastGzipCompress("second", &out);
  EXPECT_EQ(Inflate(absl::string_view(out).substr(first_end)), "second");
}

TEST(FastGzipCompressTest, SameByteMegabyteUsesOverlappingMatches) {
  const std::string in(1 << 20, 'z');
  const size_t size = RoundTrip(in);
  // Distance-1 matches of 258 bytes: about 2 bytes per match.
  EXPECT_LT(size, in.size() / 100);
}

TEST(FastGzipCompressTest, RandomMegabyteIsStored) {
  const std::string in = RandomBytes(1 << 20, 11);
  const size_t size = RoundTrip(in);
  // Stored blocks: 5 bytes per 65,535, one byte of alignment per block, the 18-byte frame.
  EXPECT_LE(size, in.size() + 18 + 6 * (in.size() / 65535 + 2));
  EXPECT_GE(size, in.size());
}

TEST(FastGzipCompressTest, LineProtocolRatioIsCloseToZlibLevel1) {
  for (const size_t n : {size_t{10} << 10, size_t{1} << 20}) {
    const std::string in = LineProtocol(n, 5);
    const size_t ours = RoundTrip(in);
    const size_t zlib1 = ZlibGzip(in, 1).size();
    const double ratio = static_cast<double>(in.size()) / ours;
    const double zlib_ratio = static_cast<double>(in.size()) / zlib1;
    EXPECT_GE(ratio, 0.85 * zlib_ratio)
        << in.size() << " bytes: ours " << ours << " (" << ratio << "x), zlib level 1 " << zlib1
        << " (" << zlib_ratio << "x)";
  }
}

TEST(FastGzipCompressTest, InputsAcrossBlockBoundaries) {
  // Blocks hold about 128 KiB of input (two stored blocks' worth, 131,070 bytes).
  const std::string text = LineProtocol(400000, 6);
  const std::string random = RandomBytes(400000, 7);
  std::string mixed = text.substr(0, 131000) + random.substr(0, 1000) + text.substr(0, 200000);
  for (const size_t base : {size_t{65535}, size_t{131070}, size_t{262140}}) {
    for (const size_t n : {base - 17, base - 16, base - 1, base, base + 1, base + 16, base + 300}) {
      SCOPED_TRACE(n);
      RoundTrip(absl::string_view(text).substr(0, n));
      RoundTrip(absl::string_view(random).substr(0, n));
      RoundTrip(absl::string_view(mixed).substr(0, n));
    }
  }
}

TEST(FastGzipCompressTest, MatchAtDistanceExactly32768) {
  // A random chunk repeated with its start exactly 32,768 bytes after the first copy's: only
  // a match at the largest distance DEFLATE allows can shrink it. One byte further, no match
  // is possible; zlib's inflate would reject any distance over 32,768.
  const std::string chunk = RandomBytes(2000, 12);
  const auto make = [&](size_t distance) {
    std::string s = chunk + std::string(distance - chunk.size(), 'f') + chunk;
    return s;
  };
  const size_t at_window = RoundTrip(make(32768));
  const size_t past_window = RoundTrip(make(32769));
  EXPECT_LT(at_window + 1500, past_window) << "the repeat at distance 32768 was not matched";
}

TEST(FastGzipCompressTest, RepeatsBeyondTheWindowAreNotMatched) {
  // 40,000 random bytes twice: the copy is out of reach, so it must be sent again.
  const std::string chunk = RandomBytes(40000, 13);
  const size_t far = RoundTrip(chunk + chunk);
  EXPECT_GE(far, 2 * chunk.size());
  // 20,000 twice is within the window and costs little more than one copy.
  const std::string near_chunk = chunk.substr(0, 20000);
  const size_t near = RoundTrip(near_chunk + near_chunk);
  EXPECT_LT(near, near_chunk.size() + 500);
}

TEST(FastGzipCompressTest, MaximumLengthMatches) {
  // Repeats of exactly 258 bytes and just around it, and runs that split into several
  // matches (a piece must stay at least 3 bytes).
  const std::string random = RandomBytes(3000, 14);
  for (const size_t len : {255, 256, 257, 258, 259,  260,  261,  262,  515,  516,  517,  518,
                           519, 774, 775, 776, 8256, 8257, 8258, 8259, 8260, 8515, 20000}) {
    SCOPED_TRACE(len);
    const std::string unit = random.substr(0, 300);
    // A repeat of `len` bytes at distance 300, then different data.
    std::string in = unit;
    while (in.size() < 300 + len) in += unit;
    in.resize(300 + len);
    in += random.substr(1000, 500);
    RoundTrip(in);
    RoundTrip(std::string(len, 'q') + random.substr(2000, 100));
    RoundTrip("abc" + std::string(len, '\0'));
  }
}

TEST(FastGzipCompressTest, SkewedLiteralFrequenciesForceLengthLimiting) {
  // Byte k appears Fibonacci(k) times, shuffled: an unlimited Huffman code would give the
  // rarest literals codes of over 20 bits.
  std::vector<uint64_t> fib = {1, 1};
  while (fib.size() < 26) fib.push_back(fib[fib.size() - 1] + fib[fib.size() - 2]);
  std::string in;
  for (size_t k = 0; k < fib.size(); ++k) in.append(fib[k], static_cast<char>('A' + k));
  std::mt19937 rng(15);
  std::shuffle(in.begin(), in.end(), rng);
  ASSERT_GT(in.size(), 200000u);
  const size_t size = RoundTrip(in);
  EXPECT_LT(size, in.size() / 2);  // about 2 bits a byte
  // The same within one small block.
  RoundTrip(in.substr(0, 30000));
}

TEST(FastGzipCompressTest, EncoderOutputDoesNotDependOnEarlierCalls) {
  const std::string a = LineProtocol(50000, 16);
  const std::string b = LineProtocol(50000, 17);
  FastGzipEncoder reused;
  std::string first, second;
  reused.Compress(a, &first);
  reused.Compress(b, &second);
  FastGzipEncoder fresh;
  std::string expected;
  fresh.Compress(b, &expected);
  EXPECT_TRUE(second == expected) << "stale table entries changed the output";
  EXPECT_EQ(Inflate(first), a);
  EXPECT_EQ(Inflate(second), b);
  // Compressing the same text again (its old positions are still in the table) is unchanged.
  std::string again;
  reused.Compress(b, &again);
  EXPECT_TRUE(again == expected);
}

TEST(FastGzipCompressTest, RandomInputsRoundTrip) {
  std::mt19937 rng(18);
  for (int iter = 0; iter < 300; ++iter) {
    // Mostly small sizes, some up to 400 KB.
    size_t n = rng() % 4 == 0 ? rng() % 400000 : rng() % 3000;
    const uint32_t seed = rng();
    std::string in;
    switch (iter % 5) {
      case 0:
        in = RandomBytes(n, seed);
        break;
      case 1:
        in = LineProtocol(n, seed).substr(0, n);
        break;
      case 2: {  // small alphabet: many short matches
        std::mt19937 r(seed);
        in.resize(n);
        for (char& c : in) c = static_cast<char>('a' + r() % 3);
        break;
      }
      case 3: {  // runs of random lengths
        std::mt19937 r(seed);
        while (in.size() < n) in.append(1 + r() % 600, static_cast<char>(r() % 4));
        in.resize(n);
        break;
      }
      default: {  // text with random bytes spliced in
        in = LineProtocol(n, seed).substr(0, n);
        std::mt19937 r(seed);
        for (size_t k = 0; k < n / 50; ++k) in[r() % n] = static_cast<char>(r());
        break;
      }
    }
    SCOPED_TRACE(testing::Message() << "iteration " << iter << ", " << n << " bytes");
    RoundTrip(in);
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace pushgate
