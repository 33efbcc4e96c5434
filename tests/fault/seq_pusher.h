// The load of the fault tests: pushes that each carry one point with a unique `seq` label
// (`fault_seq{seq="N"} N` to job "fault"), sent from background threads or one at a time,
// remembering which were answered 200, so a test can check that every one arrived.
#ifndef PUSHGATE_TESTS_FAULT_SEQ_PUSHER_H_
#define PUSHGATE_TESTS_FAULT_SEQ_PUSHER_H_

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace pushgate::testing {

class SeqPusher {
 public:
  // Starts `threads` threads pushing to the front at `front_url` until Stop().
  SeqPusher(std::string front_url, int threads);
  ~SeqPusher();  // Stop()

  void Stop();
  // One push, synchronously, as instance "t<instance>".
  void Push(int instance);

  std::set<int> acked();
  int refused();
  // How the refused pushes were answered, e.g. "503 x12 (first: aggregator is not
  // reachable)", so a failing test says why nothing was accepted. Empty when none were.
  std::string RefusalSummary();

 private:
  const std::string front_url_;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_seq_{0};
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  std::set<int> acked_ ABSL_GUARDED_BY(mu_);
  int refused_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<long, int> refusals_by_status_ ABSL_GUARDED_BY(mu_);
  std::string first_refusal_body_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_FAULT_SEQ_PUSHER_H_
