#include "libs/protowire/wire_writer.h"

#include <string>

#include "gtest/gtest.h"

namespace pushgate {
namespace protowire {
namespace {

// Every length around the inline cases' edges: exactly the source bytes, nothing around them.
TEST(CopyBytesTest, CopiesExactlyTheGivenBytes) {
  std::string src;
  for (int i = 0; i < 70; ++i) src.push_back(static_cast<char>('!' + i));
  for (size_t n = 0; n <= src.size(); ++n) {
    std::string dst(src.size() + 4, '.');
    CopyBytes(&dst[2], src.data(), n);
    EXPECT_EQ(dst, ".." + src.substr(0, n) + std::string(src.size() + 2 - n, '.')) << n;
  }
}

}  // namespace
}  // namespace protowire
}  // namespace pushgate
