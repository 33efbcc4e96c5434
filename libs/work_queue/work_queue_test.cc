#include "libs/work_queue/work_queue.h"

#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/thread_name/thread_name.h"

namespace pushgate {
namespace {

TEST(WorkQueueTest, RunsTasksInOrderOnItsOwnNamedThread) {
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<std::string> names;
  {
    WorkQueue queue("decode", 1);
    for (int i = 0; i < 100; ++i) {
      queue.Submit([&, i] {
        absl::MutexLock lock(&mu);
        order.push_back(i);
        names.push_back(CurrentThreadName());
      });
    }
  }  // the destructor runs what was submitted
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_THAT(names, ::testing::Each(std::string("decode")));
}

TEST(WorkQueueTest, ATaskThatWaitsHoldsUpNeitherTheSubmitterNorTheOtherThreads) {
  absl::Notification release, second_ran;
  WorkQueue queue("work", 2);
  queue.Submit([&] { release.WaitForNotification(); });
  queue.Submit([&] { second_ran.Notify(); });  // Submit returned although a task blocks
  EXPECT_TRUE(second_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  queue.Submit([] {});
  release.Notify();
}

TEST(WorkQueueTest, CountsTasksNotYetStarted) {
  absl::Notification started, release;
  WorkQueue queue("work", 1);
  queue.Submit([&] {
    started.Notify();
    release.WaitForNotification();
  });
  started.WaitForNotification();
  std::atomic<int> ran{0};
  queue.Submit([&] { ++ran; });
  queue.Submit([&] { ++ran; });
  EXPECT_EQ(queue.queued(), 2u);
  release.Notify();
  // The destructor of a queue in scope would run them; here they are awaited.
  for (int i = 0; i < 1000 && ran < 2; ++i) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(ran.load(), 2);
  EXPECT_EQ(queue.queued(), 0u);
}

}  // namespace
}  // namespace pushgate
