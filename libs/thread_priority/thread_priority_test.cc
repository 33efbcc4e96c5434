#include "libs/thread_priority/thread_priority.h"

#include <sched.h>

#include <algorithm>
#include <thread>

#include "gtest/gtest.h"

namespace pushgate {
namespace {

TEST(ThreadPriorityTest, LowersOnlyTheCallingThread) {
  const int before = CurrentThreadNice();
  const int policy_before = sched_getscheduler(0);
  int nice_in_thread = -100, policy_in_thread = -1;
  std::thread background([&] {
    ASSERT_TRUE(MakeCurrentThreadBackground(std::max(before, 7)).ok());
    nice_in_thread = CurrentThreadNice();
    policy_in_thread = sched_getscheduler(0);
  });
  background.join();
  EXPECT_EQ(nice_in_thread, std::max(before, 7));
  EXPECT_EQ(policy_in_thread, SCHED_BATCH);
  EXPECT_EQ(CurrentThreadNice(), before);
  EXPECT_EQ(sched_getscheduler(0), policy_before);
}

TEST(ThreadPriorityTest, NeverRaisesAThreadsPriority) {
  std::thread background([] {
    ASSERT_TRUE(MakeCurrentThreadBackground(15).ok());
    // Asking for less than it has is not an error, and keeps 15.
    EXPECT_TRUE(MakeCurrentThreadBackground(3).ok());
    EXPECT_GE(CurrentThreadNice(), 15);
  });
  background.join();
}

TEST(ThreadPriorityTest, ZeroLeavesTheThreadAsItIs) {
  std::thread thread([] {
    const int before = CurrentThreadNice();
    const int policy_before = sched_getscheduler(0);
    EXPECT_TRUE(MakeCurrentThreadBackground(0).ok());
    EXPECT_EQ(CurrentThreadNice(), before);
    EXPECT_EQ(sched_getscheduler(0), policy_before);
  });
  thread.join();
}

TEST(ThreadPriorityTest, RefusesValuesOutsideTheNiceRange) {
  EXPECT_EQ(MakeCurrentThreadBackground(-1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeCurrentThreadBackground(20).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pushgate
