#include "libs/thread_name/thread_name.h"

#include <thread>

#include "gtest/gtest.h"

namespace pushgate {
namespace {

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  const std::string before = CurrentThreadName();
  std::string inside;
  std::thread([&] {
    SetCurrentThreadName("spool-commit");
    inside = CurrentThreadName();
  }).join();
  EXPECT_EQ(inside, "spool-commit");
  EXPECT_EQ(CurrentThreadName(), before);
}

TEST(ThreadNameTest, LongNamesAreCutToWhatTheKernelKeeps) {
  std::string inside;
  std::thread([&] {
    SetCurrentThreadName("a-name-longer-than-fifteen-bytes");
    inside = CurrentThreadName();
  }).join();
  EXPECT_EQ(inside, "a-name-longer-t");
}

}  // namespace
}  // namespace pushgate
