// Text parsing throughput, in bytes/s and samples/s, on two bodies: the end-to-end benchmark's
// default push (tools/bench_lib/bodies.py: ~7 KB, 105 samples) and an older ~7 KB body with a
// summary and wider families. Each is parsed into a fresh arena, onto the heap, and into a
// reused output; parsed into an arena and serialized (what a producer sending messages pays);
// and parsed straight to wire format (ParseTextToWire) into a fresh or a reused string.
// Run: bazel run -c opt //libs/text_parser:text_parser_benchmark
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "google/protobuf/arena.h"
#include "libs/text_parser/text_parser.h"
#include "proto/ingest.pb.h"
#include "tools/microbench/default_body.h"

namespace pushgate {
namespace {

// About 7 KB and 106 series: a summary, a labelled counter, a labelled gauge and a
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

enum BodyKind { kDefault = 0, kTypical = 1 };
enum Output { kHeap = 0, kArena = 1, kReused = 2 };

std::string BodyOf(int kind) { return kind == kDefault ? BenchDefaultBody() : TypicalBody(); }

// Samples in a parsed push: a summary or histogram series counts its quantiles or buckets
// plus _sum and _count, as the text has one line each.
int64_t SampleCount(const v1::PushRequest& request) {
  int64_t samples = 0;
  for (const auto& family : request.families()) {
    for (const auto& series : family.series()) {
      if (series.has_histogram()) {
        samples += series.histogram().buckets_size() + 2;
      } else if (series.has_summary()) {
        samples += series.summary().quantiles_size() + 2;
      } else {
        samples += 1;
      }
    }
  }
  return samples;
}

void BM_ParseText(benchmark::State& state) {
  const std::string body = BodyOf(state.range(0));
  const auto output = static_cast<Output>(state.range(1));
  v1::PushRequest reused;
  for (auto _ : state) {
    if (output == kReused) {
      reused.mutable_families()->Clear();
      absl::Status status = ParseText(body, {}, reused.mutable_families());
      if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
      benchmark::DoNotOptimize(reused);
      continue;
    }
    google::protobuf::Arena arena;
    auto* request = output == kArena
                        ? google::protobuf::Arena::CreateMessage<v1::PushRequest>(&arena)
                        : new v1::PushRequest;
    absl::Status status = ParseText(body, {}, request->mutable_families());
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    benchmark::DoNotOptimize(request);
    if (output != kArena) delete request;
  }
  v1::PushRequest request;
  (void)ParseText(body, {}, request.mutable_families());
  const int64_t samples = SampleCount(request);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * body.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * samples);
  const char* output_names[] = {"heap", "arena", "reused output"};
  state.SetLabel(absl::StrCat(state.range(0) == kDefault ? "default" : "typical", " body, ",
                              body.size(), " bytes, ", samples, " samples, ",
                              output_names[output]));
}
BENCHMARK(BM_ParseText)->ArgsProduct({{kDefault, kTypical}, {kArena, kHeap, kReused}});

void SetCounters(benchmark::State& state, const std::string& body, absl::string_view what) {
  v1::PushRequest request;
  (void)ParseText(body, {}, request.mutable_families());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * body.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * SampleCount(request));
  state.SetLabel(absl::StrCat(state.range(0) == kDefault ? "default" : "typical", " body, ",
                              body.size(), " bytes, ", what));
}

// What a producer that sends messages pays: parse into a fresh arena, then serialize.
void BM_ParseTextAndSerialize(benchmark::State& state) {
  const std::string body = BodyOf(state.range(0));
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<v1::PushRequest>(&arena);
    absl::Status status = ParseText(body, {}, request->mutable_families());
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    std::string wire;
    request->SerializeToString(&wire);
    benchmark::DoNotOptimize(wire);
  }
  SetCounters(state, body, "ParseText into an arena + SerializeToString");
}
BENCHMARK(BM_ParseTextAndSerialize)->DenseRange(kDefault, kTypical);

// The same bytes straight from the parser, into a fresh string (range(1) == 0, as a producer
// that hands each push away does) or into one reused across pushes (1).
void BM_ParseTextToWire(benchmark::State& state) {
  const std::string body = BodyOf(state.range(0));
  const bool reuse = state.range(1) != 0;
  std::string reused;
  for (auto _ : state) {
    std::string fresh;
    std::string* out = reuse ? &reused : &fresh;
    out->clear();
    absl::Status status = ParseTextToWire(body, {}, out);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    benchmark::DoNotOptimize(*out);
  }
  SetCounters(state, body,
              reuse ? "ParseTextToWire, reused string" : "ParseTextToWire, fresh string");
}
BENCHMARK(BM_ParseTextToWire)->ArgsProduct({{kDefault, kTypical}, {0, 1}});

}  // namespace
}  // namespace pushgate

BENCHMARK_MAIN();
