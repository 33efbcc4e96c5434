// Invariant checks for the fuzz targets in this directory. A failed check prints what broke
// and aborts, which libFuzzer reports as a crash (and saves the input), and which fails the
// corpus replay test when the same target runs under Bazel.
#ifndef PUSHGATE_TOOLS_FUZZ_TARGETS_FUZZ_CHECK_H_
#define PUSHGATE_TOOLS_FUZZ_TARGETS_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace pushgate {
namespace fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* condition,
                              const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n  %s\n", file, line, condition,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace fuzz
}  // namespace pushgate

// FUZZ_CHECK(condition, pieces...): the pieces (anything absl::StrCat takes) explain a failure.
#define FUZZ_CHECK(condition, ...)                                                       \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      ::pushgate::fuzz::Fail(__FILE__, __LINE__, #condition, absl::StrCat(__VA_ARGS__)); \
    }                                                                                    \
  } while (0)

#endif  // PUSHGATE_TOOLS_FUZZ_TARGETS_FUZZ_CHECK_H_
