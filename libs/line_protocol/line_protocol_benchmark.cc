// Encoder throughput on points shaped like a typical push (a few tags, one field).
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "libs/line_protocol/line_protocol.h"

namespace pushgate {
namespace {

std::vector<Point> TypicalPoints() {
  std::vector<Point> points;
  for (int i = 0; i < 1000; ++i) {
    Point point;
    point.measurement = i % 3 ? "http" : "promhttp";
    point.tags = {{"status_code", std::to_string(200 + i % 5)},
                  {"job", "my-batch-job"},
                  {"instance", "host-" + std::to_string(i % 17) + ".example.com"},
                  {"method", i % 2 ? "GET" : "POST"}};
    if (i % 4 == 0) point.tags.emplace_back("le", "0.25");
    if (i % 5 == 0) {
      point.fields = {{"http_request_duration_seconds_sum", 0.002451013 * i},
                      {"http_request_duration_seconds_count", static_cast<double>(i)}};
    } else {
      point.fields = {{"http_requests_total", static_cast<double>(i * 37)}};
    }
    point.timestamp_ns = 1700000000123000000 + i;
    points.push_back(std::move(point));
  }
  return points;
}

void BM_Encode(benchmark::State& state) {
  const std::vector<Point> points = TypicalPoints();
  LineProtocolEncoder encoder;
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    for (const Point& point : points) encoder.Append(point, &out);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_Encode);

void BM_AppendFloatNoExponent(benchmark::State& state) {
  const double values[] = {0.002451013, 15143, 1e-7, 0.5, 123456789.125, 3.14159, 1e21, 42};
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (const double v : values) AppendFloatNoExponent(v, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 8);
}
BENCHMARK(BM_AppendFloatNoExponent);

}  // namespace
}  // namespace pushgate

BENCHMARK_MAIN();
