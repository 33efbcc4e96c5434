#include "libs/deflate/internal/crc32.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pushgate {
namespace deflate_internal {
namespace {

const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

TEST(Crc32Test, CheckValue) {
  const std::string s = "123456789";
  EXPECT_EQ(Crc32(0, Bytes(s), s.size()), 0xcbf43926u);
  EXPECT_EQ(Crc32(0, nullptr, 0), 0u);
}

TEST(Crc32Test, AgreesWithZlibAtEveryLengthAndAlignment) {
  std::mt19937 rng(1);
  std::string data(5000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t n = 0; n + offset <= 700; ++n) {
      ASSERT_EQ(Crc32(0, Bytes(data) + offset, n), Crc32Portable(0, Bytes(data) + offset, n))
          << "offset " << offset << ", " << n << " bytes";
    }
  }
  for (size_t n = 700; n <= data.size(); n += 37) {
    ASSERT_EQ(Crc32(0, Bytes(data), n), Crc32Portable(0, Bytes(data), n)) << n;
  }
}

TEST(Crc32Test, ExtendsAnEarlierCrc) {
  std::mt19937 rng(2);
  std::string data(300000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = Crc32Portable(0, Bytes(data), data.size());
  EXPECT_EQ(Crc32(0, Bytes(data), data.size()), whole);
  for (const size_t split : {1, 63, 64, 65, 1000, 150001}) {
    const uint32_t first = Crc32(0, Bytes(data), split);
    EXPECT_EQ(Crc32(first, Bytes(data) + split, data.size() - split), whole) << split;
  }
}

TEST(Crc32Test, AllOnesAndZeros) {
  for (const char fill : {'\0', '\xff'}) {
    const std::string data(4096 + 7, fill);
    EXPECT_EQ(Crc32(0, Bytes(data), data.size()), Crc32Portable(0, Bytes(data), data.size()));
  }
}

}  // namespace
}  // namespace deflate_internal
}  // namespace pushgate
