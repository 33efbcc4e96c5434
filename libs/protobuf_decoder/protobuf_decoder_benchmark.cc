// Decoder throughput on a push shaped like a Go client's (~160 KB: 50 families of 20 series
// with four labels, a third of them classic histograms), with the output on the heap and on
// an arena (as a caller that builds its PushRequest on an arena would have it).
#include <string>
#include <utility>

#include "benchmark/benchmark.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "libs/protobuf_decoder/protobuf_decoder.h"
#include "proto/ingest.pb.h"
#include "proto/prometheus_client.pb.h"

namespace pushgate {
namespace {

namespace client = ::io::prometheus::client;

std::string TypicalBody() {
  std::string body;
  google::protobuf::io::StringOutputStream stream(&body);
  for (int f = 0; f < 50; ++f) {
    const bool histogram = f % 3 == 0;
    client::MetricFamily family;
    family.set_name("http_server_request_duration_seconds_" + std::to_string(f));
    family.set_help("Duration of HTTP requests handled by the server.");
    family.set_type(histogram ? client::HISTOGRAM : client::COUNTER);
    for (int m = 0; m < 20; ++m) {
      client::Metric* metric = family.add_metric();
      for (const auto& [name, value] : {std::pair<std::string, std::string>{"method", "GET"},
                                        {"path", "/api/v1/items/" + std::to_string(m)},
                                        {"status", "200"},
                                        {"instance", "host-123.example.com:8080"}}) {
        client::LabelPair* label = metric->add_label();
        label->set_name(name);
        label->set_value(value);
      }
      if (histogram) {
        client::Histogram* h = metric->mutable_histogram();
        h->set_sample_count(100 + m);
        h->set_sample_sum(12.5 * m);
        int count = 0;
        for (double bound : {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0}) {
          client::Bucket* b = h->add_bucket();
          b->set_upper_bound(bound);
          b->set_cumulative_count(count += 9);
        }
      } else {
        metric->mutable_counter()->set_value(m * 1.5);
      }
    }
    google::protobuf::util::SerializeDelimitedToZeroCopyStream(family, &stream);
  }
  return body;
}

void BM_DecodeHeapOutput(benchmark::State& state) {
  const std::string body = TypicalBody();
  for (auto _ : state) {
    google::protobuf::RepeatedPtrField<v1::MetricFamily> out;
    if (!DecodeProtobufPush(body, {}, &out).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out.size());
  }
  state.SetBytesProcessed(state.iterations() * body.size());
}
BENCHMARK(BM_DecodeHeapOutput);

void BM_DecodeArenaOutput(benchmark::State& state) {
  const std::string body = TypicalBody();
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<v1::PushRequest>(&arena);
    if (!DecodeProtobufPush(body, {}, request->mutable_families()).ok()) {
      state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(request->families_size());
  }
  state.SetBytesProcessed(state.iterations() * body.size());
}
BENCHMARK(BM_DecodeArenaOutput);

}  // namespace
}  // namespace pushgate

BENCHMARK_MAIN();
