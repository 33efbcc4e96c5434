#include "libs/crc32c/crc32c.h"

#include <cstdint>
#include <random>
#include <string>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace {

std::string RandomBytes(size_t n) {
  std::mt19937 rng(7);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// The CRC by its definition, one bit at a time.
uint32_t BitwiseCrc32c(absl::string_view data) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78u : 0);
  }
  return ~crc;
}

TEST(Crc32cTest, PublishedCheckValues) {
  // The CRC catalogue's check value and RFC 3720 (iSCSI) appendix B.4 vectors.
  for (auto crc : {+[](absl::string_view d) { return Crc32cExtend(0, d); },
                   +[](absl::string_view d) { return Crc32cExtendPortable(0, d); }}) {
    EXPECT_EQ(crc("123456789"), 0xe3069283u);
    EXPECT_EQ(crc(std::string(32, '\0')), 0x8a9136aau);
    EXPECT_EQ(crc(std::string(32, '\xff')), 0x62a8ab43u);
    std::string ascending(32, '\0');
    for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
    EXPECT_EQ(crc(ascending), 0x46dd794eu);
    EXPECT_EQ(crc(""), 0u);
  }
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
}

TEST(Crc32cTest, BothPathsMatchTheBitwiseDefinitionAtEveryLengthAndAlignment) {
  const std::string data = RandomBytes(300);
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= 150; ++len) {
      const absl::string_view piece = absl::string_view(data).substr(start, len);
      ASSERT_EQ(Crc32c(piece), BitwiseCrc32c(piece)) << start << "+" << len;
      ASSERT_EQ(Crc32cExtendPortable(0, piece), BitwiseCrc32c(piece)) << start << "+" << len;
    }
  }
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  const std::string data = RandomBytes(1000);
  const absl::string_view v(data);
  for (size_t split : {0, 1, 7, 8, 9, 63, 64, 65, 500, 999, 1000}) {
    EXPECT_EQ(Crc32cExtend(Crc32c(v.substr(0, split)), v.substr(split)), Crc32c(v)) << split;
    EXPECT_EQ(Crc32cExtendPortable(Crc32cExtendPortable(0, v.substr(0, split)), v.substr(split)),
              Crc32c(v))
        << split;
  }
}

TEST(Crc32cTest, MaskIsTheSnappyFramingFormatsRotateAndAdd) {
  // From the framing format's description: rotate right by 15 bits, add 0xa282ead8.
  EXPECT_EQ(MaskCrc32c(0), 0xa282ead8u);
  EXPECT_EQ(MaskCrc32c(0x00008000u), 0xa282ead9u);
  EXPECT_EQ(MaskCrc32c(0x00000001u), 0xa284ead8u);
}

}  // namespace
}  // namespace pushgate
