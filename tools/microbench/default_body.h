// The text body of the end-to-end benchmark's default workload, so that the microbenchmarks
// measure each stage on exactly what tools/bench pushes.
#ifndef PUSHGATE_TOOLS_MICROBENCH_DEFAULT_BODY_H_
#define PUSHGATE_TOOLS_MICROBENCH_DEFAULT_BODY_H_

#include <string>

namespace pushgate {

// The text body tools/bench_lib/bodies.py writes, byte for byte (7,216 bytes): 4 labelled
// counters (40 series), 7 gauges (20 series) and 3 histograms of 12 buckets plus +Inf, _sum
// and _count.
std::string BenchDefaultBody();

// Its samples: 40 + 20 + 3 * (13 buckets + _sum + _count).
inline constexpr int kBenchDefaultSamples = 105;

}  // namespace pushgate

#endif  // PUSHGATE_TOOLS_MICROBENCH_DEFAULT_BODY_H_
