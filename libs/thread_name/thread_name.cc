#include "libs/thread_name/thread_name.h"

#include <pthread.h>

namespace pushgate {

// The kernel's limit (TASK_COMM_LEN) including the terminating NUL.
constexpr size_t kMaxNameBytes = 16;

void SetCurrentThreadName(absl::string_view name) {
  std::string truncated(name.substr(0, kMaxNameBytes - 1));
  pthread_setname_np(pthread_self(), truncated.c_str());
}

std::string CurrentThreadName() {
  char name[kMaxNameBytes] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0) return "";
  return name;
}

}  // namespace pushgate
