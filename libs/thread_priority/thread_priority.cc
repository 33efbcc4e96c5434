#include "libs/thread_priority/thread_priority.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace pushgate {
namespace {

// On Linux, PRIO_PROCESS with a thread id addresses that one thread.
id_t CurrentThreadId() { return static_cast<id_t>(syscall(SYS_gettid)); }

}  // namespace

int CurrentThreadNice() {
  // Asking about oneself cannot fail, so -1 is a nice value here, not an error.
  return getpriority(PRIO_PROCESS, CurrentThreadId());
}

absl::Status MakeCurrentThreadBackground(int nice) {
  if (nice < 0 || nice > 19) {
    return absl::InvalidArgumentError(
        absl::StrCat("background nice value must be between 0 and 19, not ", nice));
  }
  if (nice == 0) return absl::OkStatus();
  const int target = std::max(nice, CurrentThreadNice());
  // SCHED_BATCH: the scheduler does not let this thread preempt a waking one, so the
  // acknowledging threads get the CPU as soon as they are woken.
  sched_param param{};
  param.sched_priority = 0;
  if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) {
    return absl::InternalError(absl::StrCat("sched_setscheduler(SCHED_BATCH): ", strerror(errno)));
  }
  if (setpriority(PRIO_PROCESS, CurrentThreadId(), target) != 0) {
    return absl::InternalError(absl::StrCat("setpriority(", target, "): ", strerror(errno)));
  }
  return absl::OkStatus();
}

void MakeCurrentThreadBackgroundOrWarn(int nice) {
  const absl::Status lowered = MakeCurrentThreadBackground(nice);
  if (lowered.ok()) return;
  char name[16] = "";  // Linux thread names are at most 15 bytes
  pthread_getname_np(pthread_self(), name, sizeof(name));
  LOG(WARNING) << "thread " << name << " keeps its CPU priority: " << lowered;
}

}  // namespace pushgate
