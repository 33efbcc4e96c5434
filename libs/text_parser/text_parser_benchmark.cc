// Text parsing throughput on a body shaped like a typical client push (about 6 KB, 106
// series), with and without a protobuf arena for the output.
// Run: bazel run -c opt //libs/text_parser:text_parser_benchmark
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "google/protobuf/arena.h"
#include "libs/text_parser/text_parser.h"
#include "proto/ingest.pb.h"

namespace pushgate {
namespace {

// About 6 KB and 106 series: a summary, a labelled counter, a labelled gauge and a
// histogram, each with HELP and TYPE lines.
std::string TypicalBody() {
  std::string body;
  absl::StrAppend(&body,
                  "# HELP go_gc_duration_seconds A summary of the pause duration of garbage "
                  "collection cycles.\n# TYPE go_gc_duration_seconds summary\n");
  for (const char* q : {"0", "0.25", "0.5", "0.75", "1"}) {
    absl::StrAppend(&body, "go_gc_duration_seconds{quantile=\"", q, "\"} 2.4583e-05\n");
  }
  absl::StrAppend(&body, "go_gc_duration_seconds_sum 0.012817875\n",
                  "go_gc_duration_seconds_count 311\n");
  absl::StrAppend(&body,
                  "# HELP http_requests_total Requests handled, by code, method and handler.\n"
                  "# TYPE http_requests_total counter\n");
  for (const char* code : {"200", "201", "404", "500", "503"}) {
    for (const char* method : {"GET", "POST", "PUT", "DELETE"}) {
      for (const char* handler : {"/api", "/metrics"}) {
        absl::StrAppend(&body, "http_requests_total{code=\"", code, "\",method=\"", method,
                        "\",handler=\"", handler, "\"} ", 1027 + body.size() % 97, "\n");
      }
    }
  }
  absl::StrAppend(&body, "# HELP queue_depth Items waiting, by queue.\n",
                  "# TYPE queue_depth gauge\n");
  for (int q = 0; q < 63; ++q) {
    absl::StrAppend(&body, "queue_depth{queue=\"queue-", q, "\"} ", q * 3.25, "\n");
  }
  absl::StrAppend(&body, "# HELP http_request_duration_seconds Request latency.\n",
                  "# TYPE http_request_duration_seconds histogram\n");
  for (const char* method : {"GET", "POST"}) {
    for (const char* le :
         {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
      absl::StrAppend(&body, "http_request_duration_seconds_bucket{method=\"", method, "\",le=\"",
                      le, "\"} 42\n");
    }
    absl::StrAppend(&body, "http_request_duration_seconds_sum{method=\"", method,
                    "\"} 12.75\nhttp_request_duration_seconds_count{method=\"", method, "\"} 42\n");
  }
  return body;
}

void BM_ParseText(benchmark::State& state) {
  const std::string body = TypicalBody();
  const bool use_arena = state.range(0) != 0;
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = use_arena ? google::protobuf::Arena::CreateMessage<v1::PushRequest>(&arena)
                              : new v1::PushRequest;
    absl::Status status = ParseText(body, {}, request->mutable_families());
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    benchmark::DoNotOptimize(request);
    if (!use_arena) delete request;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * body.size());
  int series = 0;
  {
    v1::PushRequest request;
    (void)ParseText(body, {}, request.mutable_families());
    for (const auto& family : request.families()) series += family.series_size();
  }
  state.SetLabel(
      absl::StrCat(body.size(), " bytes, ", series, " series", use_arena ? ", arena" : ""));
}
BENCHMARK(BM_ParseText)->Arg(0)->Arg(1);

// The output reused across pushes: Clear() keeps the messages and strings for the next parse,
// so this is the parser's own cost with almost no allocation.
void BM_ParseTextReusingOutput(benchmark::State& state) {
  const std::string body = TypicalBody();
  v1::PushRequest request;
  for (auto _ : state) {
    request.mutable_families()->Clear();
    absl::Status status = ParseText(body, {}, request.mutable_families());
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    benchmark::DoNotOptimize(request);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * body.size());
}
BENCHMARK(BM_ParseTextReusingOutput);

}  // namespace
}  // namespace pushgate

BENCHMARK_MAIN();
