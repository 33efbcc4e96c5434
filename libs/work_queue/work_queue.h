// A fixed set of named threads that run submitted tasks in the order given. The front hands
// it the pushes whose decoding would hold up the other connections of the HTTP thread that
// read them; anything that must not run on a latency-sensitive thread can use it.
#ifndef PUSHGATE_LIBS_WORK_QUEUE_WORK_QUEUE_H_
#define PUSHGATE_LIBS_WORK_QUEUE_WORK_QUEUE_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace pushgate {

class WorkQueue {
 public:
  // Starts `threads` threads (at least one), named `name` (see SetCurrentThreadName).
  WorkQueue(std::string name, int threads);
  // Runs every task already submitted, then joins the threads.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `task` to run on one of the threads. Never blocks.
  void Submit(std::function<void()> task);

  // Tasks submitted and not yet started.
  size_t queued() const;

 private:
  void Run();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const std::string name_;
  std::vector<std::thread> threads_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_WORK_QUEUE_WORK_QUEUE_H_
