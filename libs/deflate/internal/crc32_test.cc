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

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Every kernel this CPU runs besides zlib's; a test of them is only as good as this list.
std::vector<Crc32Kernel> FastKernels() {
  std::vector<Crc32Kernel> kernels;
  for (const Crc32Kernel k : {Crc32Kernel::kClmul, Crc32Kernel::kClmul512}) {
    if (Crc32KernelSupported(k)) kernels.push_back(k);
  }
  return kernels;
}

TEST(Crc32Test, CheckValue) {
  const std::string s = "123456789";
  EXPECT_EQ(Crc32(0, Bytes(s), s.size()), 0xcbf43926u);
  EXPECT_EQ(Crc32(0, nullptr, 0), 0u);
  // Long enough for every kernel: 64 copies of the check string.
  std::string longer;
  for (int i = 0; i < 64; ++i) longer += s;
  for (const Crc32Kernel k : FastKernels()) {
    EXPECT_EQ(Crc32With(k, 0, Bytes(longer), longer.size()),
              Crc32With(Crc32Kernel::kPortable, 0, Bytes(longer), longer.size()));
  }
}

TEST(Crc32Test, BestKernelIsSupported) {
  EXPECT_TRUE(Crc32KernelSupported(Crc32BestKernel()));
  EXPECT_TRUE(Crc32KernelSupported(Crc32Kernel::kPortable));
}

TEST(Crc32Test, KernelsAgreeWithZlibAtEveryLengthAndAlignment) {
  const std::string data = RandomBytes(5000, 1);
  for (const Crc32Kernel k : FastKernels()) {
    for (size_t offset = 0; offset < 16; ++offset) {
      for (size_t n = 0; n + offset <= 1100; ++n) {
        ASSERT_EQ(Crc32With(k, 0x12345678u, Bytes(data) + offset, n),
                  Crc32With(Crc32Kernel::kPortable, 0x12345678u, Bytes(data) + offset, n))
            << "kernel " << static_cast<int>(k) << ", offset " << offset << ", " << n << " bytes";
      }
    }
    for (size_t n = 1100; n <= data.size(); n += 37) {
      ASSERT_EQ(Crc32With(k, 0, Bytes(data), n),
                Crc32With(Crc32Kernel::kPortable, 0, Bytes(data), n))
          << n;
    }
  }
}

TEST(Crc32Test, ExtendsAnEarlierCrc) {
  const std::string data = RandomBytes(300000, 2);
  const uint32_t whole = Crc32With(Crc32Kernel::kPortable, 0, Bytes(data), data.size());
  EXPECT_EQ(Crc32(0, Bytes(data), data.size()), whole);
  for (const size_t split : {1, 63, 64, 65, 255, 256, 257, 1000, 150001}) {
    const uint32_t first = Crc32(0, Bytes(data), split);
    EXPECT_EQ(Crc32(first, Bytes(data) + split, data.size() - split), whole) << split;
  }
}

TEST(Crc32Test, AllOnesAndZeros) {
  for (const char fill : {'\0', '\xff'}) {
    const std::string data(4096 + 7, fill);
    for (const Crc32Kernel k : FastKernels()) {
      EXPECT_EQ(Crc32With(k, 0, Bytes(data), data.size()),
                Crc32With(Crc32Kernel::kPortable, 0, Bytes(data), data.size()));
    }
  }
}

}  // namespace
}  // namespace deflate_internal
}  // namespace pushgate
