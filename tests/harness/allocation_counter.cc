#include "tests/harness/allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<size_t> allocated_bytes{0};
}  // namespace

// A program may replace these (the array and nothrow forms call them).
void* operator new(size_t size) {
  allocated_bytes.fetch_add(size, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace pushgate {

size_t BytesAllocatedSoFar() { return allocated_bytes.load(std::memory_order_relaxed); }

}  // namespace pushgate
