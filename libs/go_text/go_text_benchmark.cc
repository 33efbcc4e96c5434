// IsValidUtf8 throughput on short and long text, ASCII and mixed, as the text parser meets it
// in label values and HELP lines.
// Run: bazel run -c opt //libs/go_text:go_text_benchmark
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "libs/go_text/go_text.h"

namespace pushgate {
namespace {

std::string Text(size_t bytes, bool ascii_only) {
  std::string out;
  while (out.size() < bytes) {
    absl::StrAppend(&out, "Requests handled, by code and handler ");
    if (!ascii_only) absl::StrAppend(&out, "(\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80) ");
  }
  return out;
}

void BM_IsValidUtf8(benchmark::State& state) {
  const std::string text = Text(static_cast<size_t>(state.range(0)), state.range(1) != 0);
  for (auto _ : state) {
    benchmark::DoNotOptimize(IsValidUtf8(text));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * text.size());
  state.SetLabel(state.range(1) != 0 ? "ascii" : "mixed");
}
BENCHMARK(BM_IsValidUtf8)
    ->Args({16, 1})
    ->Args({64, 1})
    ->Args({4096, 1})
    ->Args({64, 0})
    ->Args({4096, 0});

}  // namespace
}  // namespace pushgate

BENCHMARK_MAIN();
