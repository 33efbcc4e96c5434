// CPU priority for threads whose work can wait. The aggregator acknowledges a push only after
// its spool commit, and the clients wait for that; converting, compressing and uploading the
// spooled pushes can run a little later without anyone waiting. On a busy machine, lowering the
// priority of the threads doing the latter lets the former run first, which is what keeps
// acknowledgements fast; the background threads still get every idle moment, and a share of
// the CPU when the machine is saturated.
#ifndef PUSHGATE_LIBS_THREAD_PRIORITY_THREAD_PRIORITY_H_
#define PUSHGATE_LIBS_THREAD_PRIORITY_THREAD_PRIORITY_H_

#include "absl/status/status.h"

namespace pushgate {

// Makes the calling thread (only it, not the process) background work: Linux' SCHED_BATCH
// policy, and a nice value of at least `nice` (1 to 19; a thread already nicer keeps its
// value, since raising priority takes privileges). `nice` 0 leaves the thread as it is.
// InvalidArgument outside 0..19; the system's error if it refuses.
absl::Status MakeCurrentThreadBackground(int nice);

// MakeCurrentThreadBackground for a thread that runs on either way: a refusal is logged as a
// warning naming the thread, which keeps its priority.
void MakeCurrentThreadBackgroundOrWarn(int nice);

// The calling thread's nice value.
int CurrentThreadNice();

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_THREAD_PRIORITY_THREAD_PRIORITY_H_
