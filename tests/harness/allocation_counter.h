// For tests that check a decoder refuses an oversized input before building it: linking this
// library replaces the program's global operator new with one that counts the bytes asked
// for, so a test can compare the count before and after a call.
#ifndef PUSHGATE_TESTS_HARNESS_ALLOCATION_COUNTER_H_
#define PUSHGATE_TESTS_HARNESS_ALLOCATION_COUNTER_H_

#include <cstddef>

namespace pushgate {

// Bytes requested from operator new (any thread) since the program started; never decreases.
size_t BytesAllocatedSoFar();

}  // namespace pushgate

#endif  // PUSHGATE_TESTS_HARNESS_ALLOCATION_COUNTER_H_
