// A test fixture for running out of file descriptors: while a NoFreeDescriptors is alive,
// every open(), socket() or accept() of the process fails with EMFILE. Tests use it to drive
// the error paths taken when a busy server hits its descriptor limit.
#ifndef PUSHGATE_TESTS_HARNESS_NO_FREE_DESCRIPTORS_H_
#define PUSHGATE_TESTS_HARNESS_NO_FREE_DESCRIPTORS_H_

#include <sys/resource.h>

#include <vector>

namespace pushgate {

// Lowers the soft descriptor limit to at most 256 and takes every descriptor left under it;
// the destructor gives them back and restores the limit. Descriptors opened before stay
// usable. Not for concurrent use by two tests of one process.
class NoFreeDescriptors {
 public:
  NoFreeDescriptors();
  ~NoFreeDescriptors();
  NoFreeDescriptors(const NoFreeDescriptors&) = delete;
  NoFreeDescriptors& operator=(const NoFreeDescriptors&) = delete;

 private:
  rlimit saved_;
  std::vector<int> taken_;
};

}  // namespace pushgate

#endif  // PUSHGATE_TESTS_HARNESS_NO_FREE_DESCRIPTORS_H_
