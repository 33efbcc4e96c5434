#include "tests/harness/no_free_descriptors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace pushgate {

NoFreeDescriptors::NoFreeDescriptors() {
  getrlimit(RLIMIT_NOFILE, &saved_);
  rlimit low = saved_;
  low.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, 256);
  setrlimit(RLIMIT_NOFILE, &low);
  for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) taken_.push_back(fd);
}

NoFreeDescriptors::~NoFreeDescriptors() {
  for (int fd : taken_) close(fd);
  setrlimit(RLIMIT_NOFILE, &saved_);
}

}  // namespace pushgate
