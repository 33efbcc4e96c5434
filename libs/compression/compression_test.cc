#include "libs/compression/compression.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/crc32c/crc32c.h"

namespace pushgate {
namespace {

using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------
// Test inputs, produced with the libraries' own APIs (independent of the code under test).

// Text that compresses like real exposition bodies, with some entropy.
std::string SampleText(size_t n, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n + 64);
  while (s.size() < n) {
    absl::StrAppend(&s, "http_requests_total{code=\"", 200 + rng() % 5, "\",handler=\"/api/v",
                    rng() % 3, "\"} ", rng() % 100000, "\n");
  }
  s.resize(n);
  return s;
}

std::string RandomBytes(size_t n, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string ZlibGzip(absl::string_view in, int level = 6) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = in.size();
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = out.size();
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// zlib-wrapped (RFC 1950), not gzip.
std::string ZlibWrapped(absl::string_view in) {
  uLongf n = compressBound(in.size());
  std::string out(n, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(&out[0]), &n,
                     reinterpret_cast<const Bytef*>(in.data()), in.size()),
            Z_OK);
  out.resize(n);
  return out;
}

std::string ZlibGunzip(absl::string_view in) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = in.size();
  std::string out;
  char buf[4096];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
  } while (rc == Z_OK);
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

std::string Zstd(absl::string_view in, int level = 3) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  const size_t n = ZSTD_compress2(cctx, &out[0], out.size(), in.data(), in.size());
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  out.resize(n);
  return out;
}

// A streamed frame: no content size in the header, so the decoder cannot size up front.
// `window_log` 0 keeps the level's default.
std::string ZstdStreamed(absl::string_view in, int window_log = 0) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (window_log != 0) ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, window_log);
  std::string out;
  std::string buf(ZSTD_CStreamOutSize(), '\0');
  // Data first without ending the frame, so the encoder never learns the total size.
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  while (input.pos < input.size) {
    ZSTD_outBuffer output{&buf[0], buf.size(), 0};
    EXPECT_FALSE(ZSTD_isError(ZSTD_compressStream2(cctx, &output, &input, ZSTD_e_continue)));
    out.append(buf.data(), output.pos);
  }
  ZSTD_inBuffer none{nullptr, 0, 0};
  size_t remaining;
  do {
    ZSTD_outBuffer output{&buf[0], buf.size(), 0};
    remaining = ZSTD_compressStream2(cctx, &output, &none, ZSTD_e_end);
    EXPECT_FALSE(ZSTD_isError(remaining));
    out.append(buf.data(), output.pos);
  } while (remaining != 0);
  ZSTD_freeCCtx(cctx);
  EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  return out;
}

// A test-only encoder for the snappy framing format.
struct FrameOptions {
  bool uncompressed = false;        // 0x01 chunks instead of 0x00
  size_t chunk_size = 65536;        // uncompressed bytes per data chunk
  bool interleave_padding = false;  // a 0xfe and a 0x80 chunk before every data chunk
  bool identifier = true;
};

void AppendChunk(unsigned char type, absl::string_view data, std::string* out) {
  out->push_back(static_cast<char>(type));
  out->push_back(static_cast<char>(data.size() & 0xff));
  out->push_back(static_cast<char>((data.size() >> 8) & 0xff));
  out->push_back(static_cast<char>((data.size() >> 16) & 0xff));
  out->append(data.data(), data.size());
}

std::string LE32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string DataChunkPayload(absl::string_view plain, bool uncompressed) {
  std::string payload = LE32(MaskCrc32c(Crc32c(plain)));
  if (uncompressed) {
    payload.append(plain.data(), plain.size());
  } else {
    std::string compressed;
    snappy::Compress(plain.data(), plain.size(), &compressed);
    payload += compressed;
  }
  return payload;
}

std::string SnappyFrame(absl::string_view in, const FrameOptions& o = {}) {
  std::string out;
  if (o.identifier) AppendChunk(0xff, "sNaPpY", &out);
  for (size_t pos = 0; pos < in.size(); pos += o.chunk_size) {
    if (o.interleave_padding) {
      AppendChunk(0xfe, std::string(3, '\0'), &out);
      AppendChunk(0x80, "skip me", &out);
    }
    const absl::string_view plain = in.substr(pos, o.chunk_size);
    AppendChunk(o.uncompressed ? 0x01 : 0x00, DataChunkPayload(plain, o.uncompressed), &out);
  }
  return out;
}

std::string Encode(ContentEncoding e, absl::string_view in) {
  switch (e) {
    case ContentEncoding::kIdentity:
      return std::string(in);
    case ContentEncoding::kGzip:
      return ZlibGzip(in);
    case ContentEncoding::kSnappyFramed:
      return SnappyFrame(in);
    case ContentEncoding::kZstd:
      return Zstd(in);
  }
  return "";
}

// ---------------------------------------------------------------------------------------
// ParseContentEncoding

TEST(ParseContentEncodingTest, AcceptsKnownTokensCaseInsensitivelyWithSpaces) {
  const std::vector<std::pair<std::string, ContentEncoding>> cases = {
      {"", ContentEncoding::kIdentity},
      {"   ", ContentEncoding::kIdentity},
      {"identity", ContentEncoding::kIdentity},
      {"IDENTITY", ContentEncoding::kIdentity},
      {"gzip", ContentEncoding::kGzip},
      {" GZip\t", ContentEncoding::kGzip},
      {"x-gzip", ContentEncoding::kGzip},
      {"snappy", ContentEncoding::kSnappyFramed},
      {"SnApPy ", ContentEncoding::kSnappyFramed},
      {"zstd", ContentEncoding::kZstd},
      {"\tZSTD", ContentEncoding::kZstd},
  };
  for (const auto& [header, want] : cases) {
    auto got = ParseContentEncoding(header);
    ASSERT_TRUE(got.ok()) << "\"" << header << "\": " << got.status();
    EXPECT_EQ(*got, want) << "\"" << header << "\"";
  }
}

TEST(ParseContentEncodingTest, RejectsUnknownWithQuotedValue) {
  for (absl::string_view header : {"br", "deflate", "gzip, zstd", "gzip;q=1", "snappy-raw"}) {
    auto got = ParseContentEncoding(header);
    ASSERT_FALSE(got.ok()) << header;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(got.status().message(),
              absl::StrCat("unsupported Content-Encoding \"", header, "\""));
  }
  auto trimmed = ParseContentEncoding("  br ");
  EXPECT_EQ(trimmed.status().message(), "unsupported Content-Encoding \"br\"");
}

TEST(ParseContentEncodingTest, NamesParseBack) {
  for (auto e : {ContentEncoding::kIdentity, ContentEncoding::kGzip, ContentEncoding::kSnappyFramed,
                 ContentEncoding::kZstd}) {
    auto parsed = ParseContentEncoding(ContentEncodingName(e));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, e);
  }
}

// ---------------------------------------------------------------------------------------
// Round trips

class RoundTripTest : public ::testing::TestWithParam<ContentEncoding> {};

TEST_P(RoundTripTest, DecodesWhatTheReferenceEncoderProduced) {
  for (size_t n : {size_t{1}, size_t{100}, kDecompressChunkBytes - 1, kDecompressChunkBytes,
                   kDecompressChunkBytes + 1, size_t{1} << 20}) {
    for (const std::string& plain : {SampleText(n), RandomBytes(n)}) {
      std::string out = "stale content";
      const absl::Status s = Decompress(GetParam(), Encode(GetParam(), plain), 8 << 20, &out);
      ASSERT_TRUE(s.ok()) << n << ": " << s;
      ASSERT_EQ(out.size(), plain.size());
      EXPECT_TRUE(out == plain) << n;
    }
  }
}

TEST_P(RoundTripTest, EmptyInputIsEmptyBody) {
  std::string out = "stale";
  EXPECT_TRUE(Decompress(GetParam(), "", 0, &out).ok());
  EXPECT_EQ(out, "");
}

TEST_P(RoundTripTest, EncodedEmptyBodyDecodesToEmpty) {
  if (GetParam() == ContentEncoding::kIdentity) GTEST_SKIP() << "identity of \"\" is \"\"";
  const std::string encoded = Encode(GetParam(), "");
  ASSERT_FALSE(encoded.empty());
  std::string out = "stale";
  EXPECT_TRUE(Decompress(GetParam(), encoded, 0, &out).ok());
  EXPECT_EQ(out, "");
}

TEST_P(RoundTripTest, LimitExactlyAtSizeSucceedsOneBelowFails) {
  for (size_t n : {size_t{10}, kDecompressChunkBytes, size_t{200001}}) {
    const std::string plain = SampleText(n, n);
    const std::string encoded = Encode(GetParam(), plain);
    std::string out;
    ASSERT_TRUE(Decompress(GetParam(), encoded, n, &out).ok()) << n;
    EXPECT_TRUE(out == plain);
    EXPECT_LE(out.capacity(), n + 15);  // 15: the SSO buffer of an empty std::string

    const absl::Status s = Decompress(GetParam(), encoded, n - 1, &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << n << ": " << s;
    EXPECT_EQ(s.message(), absl::StrCat("decompressed body exceeds ", n - 1, " bytes"));
    EXPECT_LE(out.size(), n - 1);
  }
}

TEST_P(RoundTripTest, ZeroLimitRefusesAnyByte) {
  std::string out;
  EXPECT_EQ(Decompress(GetParam(), Encode(GetParam(), "x"), 0, &out).code(),
            absl::StatusCode::kResourceExhausted);
}

INSTANTIATE_TEST_SUITE_P(AllEncodings, RoundTripTest,
                         ::testing::Values(ContentEncoding::kIdentity, ContentEncoding::kGzip,
                                           ContentEncoding::kSnappyFramed, ContentEncoding::kZstd),
                         [](const auto& info) {
                           return std::string(ContentEncodingName(info.param));
                         });

// ---------------------------------------------------------------------------------------
// gzip specifics

TEST(GzipDecompressTest, ConcatenatedMembersFormOneBody) {
  const std::string a = SampleText(100000, 1), b = SampleText(5, 2), c = SampleText(70000, 3);
  std::string out;
  ASSERT_TRUE(
      Decompress(ContentEncoding::kGzip, ZlibGzip(a) + ZlibGzip(b) + ZlibGzip(c), 1 << 20, &out)
          .ok());
  EXPECT_TRUE(out == a + b + c);
}

TEST(GzipDecompressTest, EveryTruncationIsInvalidArgument) {
  const std::string plain = SampleText(3000);
  const std::string gz = ZlibGzip(plain);
  for (size_t len = 1; len < gz.size(); ++len) {
    std::string out;
    const absl::Status s = Decompress(ContentEncoding::kGzip, gz.substr(0, len), 1 << 20, &out);
    ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << len << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("gzip")) << len;
  }
}

TEST(GzipDecompressTest, TruncatedSecondMemberIsInvalidArgument) {
  const std::string two = ZlibGzip("first") + ZlibGzip("second");
  std::string out;
  const absl::Status s =
      Decompress(ContentEncoding::kGzip, two.substr(0, two.size() - 3), 1 << 20, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("truncated"));
}

TEST(GzipDecompressTest, CorruptionIsDetected) {
  const std::string plain = SampleText(5000);
  const std::string gz = ZlibGzip(plain);
  std::string out;
  // Payload byte (caught by the CRC-32 or the deflate decoder), trailer CRC, trailer length.
  for (size_t pos : {gz.size() / 2, gz.size() - 8, gz.size() - 2}) {
    std::string bad = gz;
    bad[pos] ^= 0x20;
    const absl::Status s = Decompress(ContentEncoding::kGzip, bad, 1 << 20, &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << pos << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("gzip: corrupt data")) << pos;
  }
}

TEST(GzipDecompressTest, RejectsTrailingGarbageAndNonGzip) {
  std::string out;
  // Trailing bytes are named as such, not as a damaged or truncated second member.
  for (const std::string& trailing :
       {std::string("garbage!"), std::string("\n"), std::string("\r\n"), std::string(4, '\0')}) {
    const absl::Status s =
        Decompress(ContentEncoding::kGzip, ZlibGzip("ok") + trailing, 1 << 20, &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(
        std::string(s.message()),
        HasSubstr(absl::StrCat("trailing data after the gzip stream (", trailing.size(), " bytes")))
        << absl::CEscape(trailing);
  }
  EXPECT_EQ(Decompress(ContentEncoding::kGzip, "plain text body\n", 1 << 20, &out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decompress(ContentEncoding::kGzip, ZlibWrapped("zlib, not gzip"), 1 << 20, &out).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GzipDecompressTest, LyingSizeTrailerDoesNotReserveBeyondLimit) {
  std::string gz = ZlibGzip(SampleText(1000));
  for (int i = 1; i <= 4; ++i) gz[gz.size() - i] = '\xff';  // ISIZE = 4 GiB - 1
  std::string out;
  const absl::Status s = Decompress(ContentEncoding::kGzip, gz, 4096, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;  // length check fails
  EXPECT_LE(out.capacity(), 4096u);
}

// 256 MiB of zeros in a few hundred KiB: refused at the limit without ever holding more.
TEST(GzipDecompressTest, BombIsRefusedWithinTheLimit) {
  constexpr size_t kPlain = size_t{256} << 20;
  constexpr size_t kLimit = size_t{64} << 20;
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
  const std::string zeros(1 << 20, '\0');
  std::string bomb;
  char buf[1 << 16];
  for (size_t fed = 0; fed < kPlain; fed += zeros.size()) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    zs.avail_in = zeros.size();
    const bool last = fed + zeros.size() == kPlain;
    int rc;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof(buf);
      rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
      bomb.append(buf, sizeof(buf) - zs.avail_out);
    } while (zs.avail_out == 0 || (last && rc != Z_STREAM_END));
  }
  deflateEnd(&zs);
  ASSERT_LT(bomb.size(), size_t{2} << 20);

  std::string out;
  const absl::Status s = Decompress(ContentEncoding::kGzip, bomb, kLimit, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(s.message(), absl::StrCat("decompressed body exceeds ", kLimit, " bytes"));
  EXPECT_LE(out.capacity(), kLimit + kDecompressChunkBytes);
  // It did decode right up to the limit (the bomb is a valid body, merely too large).
  EXPECT_LE(out.size(), kLimit);
  EXPECT_GT(out.size(), kLimit - kDecompressChunkBytes);
  EXPECT_EQ(out.find_first_not_of('\0'), std::string::npos);

  // Behind a second, tiny member the size trailer no longer hints at the total, so the
  // output grows step by step; an odd limit checks that growth stops at the limit too.
  const std::string two_members = bomb + ZlibGzip("x");
  const size_t odd_limit = kLimit - 12345;
  const absl::Status s2 = Decompress(ContentEncoding::kGzip, two_members, odd_limit, &out);
  EXPECT_EQ(s2.code(), absl::StatusCode::kResourceExhausted) << s2;
  EXPECT_LE(out.capacity(), odd_limit + kDecompressChunkBytes);
}

// ---------------------------------------------------------------------------------------
// zstd specifics

TEST(ZstdDecompressTest, StreamedFramesAndConcatenatedFrames) {
  const std::string a = SampleText(300000, 4), b = RandomBytes(1000, 5);
  const std::string exact = SampleText(2 * kDecompressChunkBytes, 6);
  std::string out;
  ASSERT_TRUE(Decompress(ContentEncoding::kZstd, ZstdStreamed(a), 1 << 20, &out).ok());
  EXPECT_TRUE(out == a);
  ASSERT_TRUE(Decompress(ContentEncoding::kZstd, Zstd(a) + ZstdStreamed(b), 1 << 20, &out).ok());
  EXPECT_TRUE(out == a + b);
  ASSERT_TRUE(
      Decompress(ContentEncoding::kZstd, Zstd(exact) + ZstdStreamed(exact), 1 << 20, &out).ok());
  EXPECT_TRUE(out == exact + exact);
}

TEST(ZstdDecompressTest, SkippableFrameIsIgnored) {
  std::string skippable = LE32(0x184D2A50) + LE32(5) + "hello";
  std::string out;
  ASSERT_TRUE(
      Decompress(ContentEncoding::kZstd, skippable + Zstd("data") + skippable, 100, &out).ok());
  EXPECT_EQ(out, "data");
}

TEST(ZstdDecompressTest, EveryTruncationIsInvalidArgument) {
  const std::string z = Zstd(SampleText(5000));
  for (size_t len = 1; len < z.size(); ++len) {
    std::string out;
    const absl::Status s = Decompress(ContentEncoding::kZstd, z.substr(0, len), 1 << 20, &out);
    ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << len << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("zstd")) << len;
  }
}

TEST(ZstdDecompressTest, CorruptionAndGarbageAreInvalidArgument) {
  const std::string z = Zstd(SampleText(5000));
  std::string out;
  for (size_t pos : {size_t{0}, z.size() / 2, z.size() - 1}) {
    std::string bad = z;
    bad[pos] ^= 0x01;
    EXPECT_EQ(Decompress(ContentEncoding::kZstd, bad, 1 << 20, &out).code(),
              absl::StatusCode::kInvalidArgument)
        << pos;
  }
  EXPECT_EQ(Decompress(ContentEncoding::kZstd, z + "trailing", 1 << 20, &out).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ZstdDecompressTest, BombIsRefusedWithinTheLimit) {
  constexpr size_t kPlain = size_t{256} << 20;
  constexpr size_t kLimit = size_t{16} << 20;
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  const std::string zeros(1 << 20, '\0');
  std::string bomb, buf(ZSTD_CStreamOutSize(), '\0');
  for (size_t fed = 0; fed < kPlain; fed += zeros.size()) {
    ZSTD_inBuffer input{zeros.data(), zeros.size(), 0};
    const auto mode = fed + zeros.size() == kPlain ? ZSTD_e_end : ZSTD_e_continue;
    size_t left;
    do {
      ZSTD_outBuffer output{&buf[0], buf.size(), 0};
      left = ZSTD_compressStream2(cctx, &output, &input, mode);
      ASSERT_FALSE(ZSTD_isError(left));
      bomb.append(buf.data(), output.pos);
    } while (input.pos < input.size || (mode == ZSTD_e_end && left != 0));
  }
  ZSTD_freeCCtx(cctx);
  std::string out;
  const absl::Status s = Decompress(ContentEncoding::kZstd, bomb, kLimit, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_LE(out.capacity(), kLimit + kDecompressChunkBytes);
}

TEST(ZstdDecompressTest, WindowLargerThanLimitIsRefusedBeforeDecoding) {
  // A frame whose header asks for a 128 MiB window (and no content size), as --long would.
  std::string out;
  const std::string plain = SampleText(1 << 20);
  const std::string z = ZstdStreamed(plain, 27);
  // Default-level streamed frames use smaller windows and pass under small limits.
  ASSERT_TRUE(Decompress(ContentEncoding::kZstd, ZstdStreamed(plain), 2 << 20, &out).ok());
  EXPECT_TRUE(out == plain);

  const absl::Status s = Decompress(ContentEncoding::kZstd, z, 2 << 20, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  // The window allowed is 8 MiB, the floor, not the 2 MiB limit itself.
  EXPECT_THAT(std::string(s.message()), HasSubstr("larger than 8388608 bytes"));
  // The same frame is fine when the limit allows that window.
  ASSERT_TRUE(Decompress(ContentEncoding::kZstd, z, 128 << 20, &out).ok());
  EXPECT_TRUE(out == plain);
}

// ---------------------------------------------------------------------------------------
// snappy framing specifics

TEST(SnappyFramedTest, UncompressedChunksPaddingAndSkippableChunks) {
  const std::string plain = SampleText(200000);
  FrameOptions o;
  o.uncompressed = true;
  o.interleave_padding = true;
  o.chunk_size = 10000;
  std::string out;
  ASSERT_TRUE(
      Decompress(ContentEncoding::kSnappyFramed, SnappyFrame(plain, o), 1 << 20, &out).ok());
  EXPECT_TRUE(out == plain);
}

TEST(SnappyFramedTest, ConcatenatedStreamsFormOneBody) {
  std::string out;
  ASSERT_TRUE(
      Decompress(ContentEncoding::kSnappyFramed, SnappyFrame("abc") + SnappyFrame("def"), 100, &out)
          .ok());
  EXPECT_EQ(out, "abcdef");
}

TEST(SnappyFramedTest, IdentifierOnlyStreamIsEmpty) {
  std::string out = "x";
  ASSERT_TRUE(Decompress(ContentEncoding::kSnappyFramed, SnappyFrame(""), 100, &out).ok());
  EXPECT_EQ(out, "");
}

absl::Status DecodeSnappy(absl::string_view in) {
  std::string out;
  return Decompress(ContentEncoding::kSnappyFramed, in, 1 << 20, &out);
}

void ExpectSnappyError(absl::string_view in, absl::string_view message_part) {
  const absl::Status s = DecodeSnappy(in);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(std::string(message_part)));
}

TEST(SnappyFramedTest, RejectsMissingOrBadStreamIdentifier) {
  FrameOptions no_id;
  no_id.identifier = false;
  ExpectSnappyError(SnappyFrame("hello", no_id), "does not start with the stream identifier");
  std::string padded_first;
  AppendChunk(0xfe, "", &padded_first);
  ExpectSnappyError(padded_first + SnappyFrame("hello"), "does not start");
  // A raw snappy block (what remote write sends) and plain text are not framed streams: said
  // so, not reported as truncated chunks.
  std::string raw_block;
  SnappyBlockCompress("metric{a=\"1\"} 1\n", &raw_block);
  ExpectSnappyError(raw_block, "not in snappy's framing format");
  ExpectSnappyError("metric{a=\"1\"} 1\n", "not in snappy's framing format");
  std::string bad_magic;
  AppendChunk(0xff, "sNaPpZ", &bad_magic);
  ExpectSnappyError(bad_magic, "bad stream identifier");
  std::string long_magic;
  AppendChunk(0xff, "sNaPpYx", &long_magic);
  ExpectSnappyError(long_magic, "bad stream identifier");
}

TEST(SnappyFramedTest, VerifiesChecksums) {
  for (bool uncompressed : {false, true}) {
    FrameOptions o;
    o.uncompressed = uncompressed;
    std::string framed = SnappyFrame("some metric data", o);
    framed[10 + 4] ^= 0x01;  // first byte of the data chunk's checksum
    ExpectSnappyError(framed, "checksum mismatch");

    // An unmasked checksum is wrong too.
    std::string unmasked;
    AppendChunk(0xff, "sNaPpY", &unmasked);
    std::string payload = LE32(Crc32c("abc")) + "abc";
    AppendChunk(0x01, payload, &unmasked);
    ExpectSnappyError(unmasked, "checksum mismatch");
  }
}

TEST(SnappyFramedTest, RejectsReservedUnskippableChunks) {
  for (int type : {0x02, 0x10, 0x7f}) {
    std::string framed = SnappyFrame("abc");
    AppendChunk(static_cast<unsigned char>(type), "??", &framed);
    ExpectSnappyError(framed, absl::StrFormat("reserved unskippable chunk type 0x%02x", type));
  }
  for (int type : {0x80, 0xab, 0xfd, 0xfe}) {
    std::string framed = SnappyFrame("abc");
    AppendChunk(static_cast<unsigned char>(type), "??", &framed);
    EXPECT_TRUE(DecodeSnappy(framed).ok()) << type;
  }
}

TEST(SnappyFramedTest, RejectsTruncation) {
  const std::string framed = SnappyFrame(SampleText(1000));
  for (size_t len = 1; len < framed.size(); ++len) {
    if (len == 10) continue;  // exactly the identifier chunk: a valid, empty stream
    const absl::Status s = DecodeSnappy(absl::string_view(framed).substr(0, len));
    ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << len << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("truncated")) << len;
  }
}

TEST(SnappyFramedTest, RejectsCorruptBlocksShortChunksAndOversizedChunks) {
  std::string framed;
  AppendChunk(0xff, "sNaPpY", &framed);
  std::string corrupt = framed;
  AppendChunk(0x00, LE32(0) + "\xff\xff\xff\xff\xff", &corrupt);  // bad varint length
  ExpectSnappyError(corrupt, "corrupt compressed chunk");

  std::string lying = framed;  // valid length prefix, then not enough data
  std::string block;
  snappy::Compress("hello hello hello", 17, &block);
  AppendChunk(0x00, LE32(MaskCrc32c(Crc32c("hello hello hello"))) + block.substr(0, 3), &lying);
  ExpectSnappyError(lying, "corrupt compressed chunk");

  std::string short_chunk = framed;
  AppendChunk(0x01, "abc", &short_chunk);
  ExpectSnappyError(short_chunk, "too short for its checksum");

  const std::string big(65537, 'a');
  FrameOptions o;
  o.chunk_size = big.size();
  ExpectSnappyError(SnappyFrame(big, o), "over the format's limit of 65536");
  o.uncompressed = true;
  ExpectSnappyError(SnappyFrame(big, o), "over the format's limit of 65536");
  // 65536 itself is allowed.
  o.chunk_size = 65536;
  EXPECT_TRUE(DecodeSnappy(SnappyFrame(big, o)).ok());
}

TEST(SnappyFramedTest, LimitIsCheckedBeforeEachBlockIsDecoded) {
  // A chunk declaring more than the remaining budget is refused even though its block is
  // corrupt past the header: the decoder never ran.
  std::string block;
  const std::string plain(1000, 'z');
  snappy::Compress(plain.data(), plain.size(), &block);
  block.resize(block.size() - 1);
  std::string framed;
  AppendChunk(0xff, "sNaPpY", &framed);
  AppendChunk(0x00, LE32(0) + block, &framed);
  std::string out;
  EXPECT_EQ(Decompress(ContentEncoding::kSnappyFramed, framed, 999, &out).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Decompress(ContentEncoding::kSnappyFramed, framed, 1000, &out).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SnappyFramedTest, BombIsRefusedWithinTheLimit) {
  const std::string framed = SnappyFrame(std::string(size_t{32} << 20, '\0'));
  constexpr size_t kLimit = size_t{4} << 20;
  std::string out;
  EXPECT_EQ(Decompress(ContentEncoding::kSnappyFramed, framed, kLimit, &out).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_LE(out.capacity(), kLimit + kDecompressChunkBytes);
}

// Found by tools/fuzz (compression): with a limit just above the string's built-in buffer
// the output used to reserve up to 30 bytes, over the limit.
TEST(DecompressTest, SmallLimitIsNeverReservedBeyond) {
  FrameOptions o;
  o.chunk_size = 8;  // several appends, the second one past the built-in buffer
  for (size_t n = 1; n <= 64; ++n) {
    const std::string plain = SampleText(n, n);
    std::string out;
    ASSERT_TRUE(Decompress(ContentEncoding::kSnappyFramed, SnappyFrame(plain, o), n, &out).ok());
    EXPECT_TRUE(out == plain) << n;
    EXPECT_LE(out.capacity(), std::max<size_t>(n, std::string().capacity())) << n;
  }
}

TEST(DecompressTest, ReusesTheCallersBufferAndClearsIt) {
  std::string out(1 << 16, 'x');
  ASSERT_TRUE(Decompress(ContentEncoding::kGzip, ZlibGzip("abc"), 100, &out).ok());
  EXPECT_EQ(out, "abc");
}

// ---------------------------------------------------------------------------------------
// Compression

TEST(GzipCompressTest, ZlibDecodesItAtEveryLevel) {
  const std::string plain = SampleText(500000);
  for (int level : {-1, 0, 1, 6, 9}) {
    std::string gz;
    ASSERT_TRUE(GzipCompress(plain, &gz, level).ok()) << level;
    EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
    EXPECT_TRUE(ZlibGunzip(gz) == plain) << level;
    if (level != 0) {
      EXPECT_LT(gz.size(), plain.size() / 3) << level;
    }
  }
}

TEST(GzipCompressTest, AppendsAndRoundTripsThroughDecompress) {
  std::string out = "prefix";
  ASSERT_TRUE(GzipCompress("line 1\nline 2\n", &out).ok());
  ASSERT_EQ(out.substr(0, 6), "prefix");
  std::string back;
  ASSERT_TRUE(Decompress(ContentEncoding::kGzip, out.substr(6), 100, &back).ok());
  EXPECT_EQ(back, "line 1\nline 2\n");

  std::string empty;
  ASSERT_TRUE(GzipCompress("", &empty).ok());
  EXPECT_EQ(ZlibGunzip(empty), "");
}

TEST(GzipCompressTest, RejectsInvalidLevels) {
  std::string out = "keep";
  for (int level : {-2, 10, 100}) {
    EXPECT_EQ(GzipCompress("x", &out, level).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(out, "keep");
}

TEST(SnappyBlockCompressTest, SnappyDecodesItAndOutputIsAppended) {
  for (const std::string& plain : {std::string(), SampleText(100), SampleText(300000)}) {
    std::string out = "head";
    SnappyBlockCompress(plain, &out);
    ASSERT_EQ(out.substr(0, 4), "head");
    std::string back;
    ASSERT_TRUE(snappy::Uncompress(out.data() + 4, out.size() - 4, &back));
    EXPECT_TRUE(back == plain);
    if (plain.size() > 1000) {
      EXPECT_LT(out.size(), plain.size() / 2);
    }
  }
}

}  // namespace
}  // namespace pushgate
