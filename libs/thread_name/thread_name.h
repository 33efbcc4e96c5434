// Names the calling thread, so that `top -H`, `perf` and debuggers show which part of a
// service a thread belongs to (e.g. "spool-commit" rather than the binary's name).
#ifndef PUSHGATE_LIBS_THREAD_NAME_THREAD_NAME_H_
#define PUSHGATE_LIBS_THREAD_NAME_THREAD_NAME_H_

#include <string>

#include "absl/strings/string_view.h"

namespace pushgate {

// Sets the calling thread's name; Linux keeps only the first 15 bytes. Best effort: a name
// the system refuses is ignored.
void SetCurrentThreadName(absl::string_view name);

// The calling thread's name ("" if it cannot be read).
std::string CurrentThreadName();

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_THREAD_NAME_THREAD_NAME_H_
