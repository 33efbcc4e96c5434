// Google Benchmark microbenchmarks of every stage a push goes through, on the body the
// end-to-end benchmark pushes (tools/bench's default workload, BenchDefaultBody: 7,216 bytes,
// 105 samples). Each stage reports bytes/s (of its input) and items/s (samples).
//
//   bazel run -c opt //tools/microbench:pipeline_benchmark
//
// With --write_peer_inputs=DIR it instead writes the inputs tools/peerbench gives the peers'
// code (tools/microbench/peers): the text body (body.txt), the same push as delimited protobuf
// (body.pb), and its points as the line protocol the dispatcher writes (points.lp).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "benchmark/benchmark.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "libs/compression/compression.h"
#include "libs/conversion/conversion.h"
#include "libs/deflate/deflate.h"
#include "libs/line_protocol/line_protocol.h"
#include "libs/naming/naming.h"
#include "libs/protobuf_decoder/protobuf_decoder.h"
#include "libs/push_view/push_view.h"
#include "libs/remote_write/remote_write.h"
#include "libs/text_parser/internal/text_shape.h"
#include "libs/text_parser/text_parser.h"
#include "libs/text_parser/text_shape_cache.h"
#include "libs/uploader/uploader.h"
#include "proto/ingest.pb.h"
#include "proto/prometheus_client.pb.h"
#include "tools/microbench/default_body.h"

namespace pushgate {
namespace {

// The samples of BenchDefaultBody(), the body tools/bench pushes.
constexpr int kSamples = kBenchDefaultSamples;

pushgate::v1::PushRequest ParsedPush() {
  pushgate::v1::PushRequest push;
  push.mutable_grouping_key()->set_job("bench");
  auto* label = push.mutable_grouping_key()->add_labels();
  label->set_name("instance");
  label->set_value("i1");
  push.set_receive_time_ns(1700000000000000000);
  if (!ParseText(BenchDefaultBody(), {}, push.mutable_families()).ok()) std::abort();
  return push;
}

// The same push as delimited io.prometheus.client.MetricFamily messages.
std::string ProtobufBody() {
  using io::prometheus::client::MetricFamily;
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  const pushgate::v1::PushRequest push = ParsedPush();
  for (const auto& family : push.families()) {
    MetricFamily mf;
    mf.set_name(family.name());
    mf.set_help(family.help());
    for (const auto& series : family.series()) {
      auto* metric = mf.add_metric();
      for (const auto& l : series.labels()) {
        auto* pair = metric->add_label();
        pair->set_name(l.name());
        pair->set_value(l.value());
      }
      switch (family.type()) {
        case pushgate::v1::COUNTER:
          mf.set_type(io::prometheus::client::COUNTER);
          metric->mutable_counter()->set_value(series.value());
          break;
        case pushgate::v1::HISTOGRAM: {
          mf.set_type(io::prometheus::client::HISTOGRAM);
          auto* h = metric->mutable_histogram();
          h->set_sample_count(series.histogram().count());
          h->set_sample_sum(series.histogram().sum());
          for (const auto& b : series.histogram().buckets()) {
            auto* bucket = h->add_bucket();
            bucket->set_upper_bound(b.upper_bound());
            bucket->set_cumulative_count(b.cumulative_count());
          }
          break;
        }
        default:
          mf.set_type(io::prometheus::client::GAUGE);
          metric->mutable_gauge()->set_value(series.value());
      }
    }
    coded.WriteVarint32(mf.ByteSizeLong());
    mf.SerializeToCodedStream(&coded);
  }
  coded.Trim();
  return out;
}

void BM_TextParse(benchmark::State& state) {
  // Messages on an arena: what tests and protobuf-minded callers get (ParseText decodes the
  // wire bytes of ParseTextToWire).
  const std::string body = BenchDefaultBody();
  google::protobuf::Arena arena;
  for (auto _ : state) {
    auto* push = google::protobuf::Arena::CreateMessage<pushgate::v1::PushRequest>(&arena);
    benchmark::DoNotOptimize(ParseText(body, {}, push->mutable_families()));
    if (arena.SpaceUsed() > (64 << 20)) arena.Reset();
  }
  state.SetBytesProcessed(state.iterations() * body.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_TextParse);

void BM_TextParseToWire(benchmark::State& state) {
  // What the front runs on a text push: the families written straight as wire bytes.
  const std::string body = BenchDefaultBody();
  std::string wire;
  for (auto _ : state) {
    wire.clear();
    benchmark::DoNotOptimize(ParseTextToWire(body, {}, &wire));
  }
  state.SetBytesProcessed(state.iterations() * body.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_TextParseToWire);

// The default body as a job pushing the same metrics again sends it: the same text, each value
// times `factor` (a 0 stays 0).
std::string DefaultBodyWithValuesTimes(double factor) {
  text_parser_internal::TextShape shape;
  std::string wire;
  const std::string body = BenchDefaultBody();
  if (!text_parser_internal::ParseAndMakeShape(body, {}, &wire, nullptr, &shape).ok()) {
    std::abort();
  }
  return text_parser_internal::ReplaceValues(shape, [factor](size_t, absl::string_view text) {
    return absl::StrCat(std::strtod(std::string(text).c_str(), nullptr) * factor);
  });
}

void BM_TextParseToWireCached(benchmark::State& state) {
  // What the front runs on groups' repeated pushes: each text compared with the shape of the
  // group's earlier push, only the values parsed. The values change on every push. Over
  // state.range(0) groups in turn, all sharing one shape: with many, each push's group is
  // looked up (a hash of its URL path, under the cache's mutex) in a cache that holds them all.
  std::vector<std::string> bodies;
  for (int k = 0; k < 8; ++k) bodies.push_back(DefaultBodyWithValuesTimes(1 + 0.25 * k));
  std::vector<std::string> groups;
  for (int i = 0; i < state.range(0); ++i) {
    groups.push_back(absl::StrCat("job/bench/instance/i", i));
  }
  TextShapeCache cache({}, 64 << 20);
  std::string wire;
  for (int round = 0; round < 2; ++round) {
    for (const std::string& group : groups) {
      if (!cache.ParseToWire(group, bodies[0], &wire).ok()) std::abort();
    }
  }
  const uint64_t hits = cache.stats().hits;
  size_t bytes = 0;
  size_t next = 0;
  for (auto _ : state) {
    const std::string& body = bodies[next % bodies.size()];
    wire.clear();
    benchmark::DoNotOptimize(cache.ParseToWire(groups[next++ % groups.size()], body, &wire));
    bytes += body.size();
  }
  if (cache.stats().hits - hits != state.iterations()) state.SkipWithError("a push was parsed");
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_TextParseToWireCached)->Arg(1)->Arg(1000);

void BM_ProtobufDecode(benchmark::State& state) {
  const std::string body = ProtobufBody();
  google::protobuf::Arena arena;
  for (auto _ : state) {
    auto* push = google::protobuf::Arena::CreateMessage<pushgate::v1::PushRequest>(&arena);
    benchmark::DoNotOptimize(DecodeProtobufPush(body, {}, push->mutable_families()));
    if (arena.SpaceUsed() > (64 << 20)) arena.Reset();
  }
  state.SetBytesProcessed(state.iterations() * body.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_ProtobufDecode);

void BM_ProtobufDecodeToWire(benchmark::State& state) {
  // What the front runs on a protobuf push: the families written straight as wire bytes.
  const std::string body = ProtobufBody();
  std::string wire;
  for (auto _ : state) {
    wire.clear();
    benchmark::DoNotOptimize(DecodeProtobufPushToWire(body, {}, &wire));
  }
  state.SetBytesProcessed(state.iterations() * body.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_ProtobufDecodeToWire);

void BM_Naming(benchmark::State& state) {
  const pushgate::v1::PushRequest push = ParsedPush();
  NamingOptions options;
  size_t bytes = 0;
  for (const auto& family : push.families()) bytes += family.name().size();
  for (auto _ : state) {
    for (const auto& family : push.families()) {
      benchmark::DoNotOptimize(NameMetric(options, family.name(), "bench"));
    }
  }
  state.SetBytesProcessed(state.iterations() * bytes);
  state.SetItemsProcessed(state.iterations() * push.families_size());
}
BENCHMARK(BM_Naming);

void BM_ConvertPush(benchmark::State& state) {
  const pushgate::v1::PushRequest push = ParsedPush();
  std::vector<Point> points;
  for (auto _ : state) {
    points.clear();
    ConvertPush(push, {}, &points, nullptr);
    benchmark::DoNotOptimize(points.data());
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_ConvertPush);

// What the aggregator's dispatcher does with every push before upload when it goes through
// Points: ConvertPush into a vector cleared per push, then each point encoded.
void BM_ConvertPushThenEncode(benchmark::State& state) {
  const pushgate::v1::PushRequest push = ParsedPush();
  std::vector<Point> points;
  std::string out;
  LineProtocolEncoder encoder;
  for (auto _ : state) {
    points.clear();
    out.clear();
    ConvertPush(push, {}, &points, nullptr);
    for (const Point& p : points) encoder.Append(p, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * out.size());  // output bytes
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_ConvertPushThenEncode);

// The same output written directly, without Points, from a message (which fills a PushView
// of it first).
void BM_ConvertPushToLineProtocol(benchmark::State& state) {
  const pushgate::v1::PushRequest push = ParsedPush();
  std::string out;
  LineProtocolEncoder encoder;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(ConvertPushToLineProtocol(push, {}, &encoder, &out, nullptr));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * out.size());  // output bytes
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_ConvertPushToLineProtocol);

// Converts a view parsed from `push`'s wire bytes, as the dispatcher does, in the benchmark's
// loop; counts output bytes and `samples` per push.
void ConvertViewLoop(benchmark::State& state, const pushgate::v1::PushRequest& push,
                     int64_t samples) {
  const std::string wire = push.SerializeAsString();
  PushView view;
  if (!view.Parse(wire).ok()) std::abort();
  std::string out;
  LineProtocolEncoder encoder;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(ConvertPushToLineProtocol(view, {}, &encoder, &out, nullptr));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * out.size());  // output bytes
  state.SetItemsProcessed(state.iterations() * samples);
}

// What the aggregator's dispatcher converts: a view parsed from the push's wire bytes.
void BM_ConvertPushViewToLineProtocol(benchmark::State& state) {
  ConvertViewLoop(state, ParsedPush(), kSamples);
}
BENCHMARK(BM_ConvertPushViewToLineProtocol);

// The remote-write encoding of the default push, as the dispatcher makes it for a
// --upload_format=remote_write backend: from the PushView of the spooled record.
void BM_RemoteWriteFromView(benchmark::State& state) {
  const std::string wire = ParsedPush().SerializeAsString();
  PushView view;
  if (!view.Parse(wire).ok()) std::abort();
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(AppendRemoteWrite(view, {}, &out));
  }
  state.SetBytesProcessed(state.iterations() * out.size());  // output bytes
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_RemoteWriteFromView);

// The same from the record's bytes through a PushRequest message, as the dispatcher did before
// it encoded from the view (the message's parse included).
void BM_RemoteWriteFromMessage(benchmark::State& state) {
  const std::string wire = ParsedPush().SerializeAsString();
  pushgate::v1::PushRequest push;
  std::string out;
  for (auto _ : state) {
    out.clear();
    push.ParseFromString(wire);
    benchmark::DoNotOptimize(AppendRemoteWrite(push, {}, &out));
  }
  state.SetBytesProcessed(state.iterations() * out.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_RemoteWriteFromMessage);

// A push whose info series carries many labels (range(0)), which tag each of its 200 gauges:
// how conversion scales with the tags on a point. Names are written in descending order,
// the worst case for an insertion sort.
void BM_ConvertPushWithManyInfoLabels(benchmark::State& state) {
  pushgate::v1::PushRequest push;
  push.mutable_grouping_key()->set_job("bench");
  auto* info = push.add_families();
  info->set_name("target_info");
  info->set_type(pushgate::v1::INFO);
  auto* info_series = info->add_series();
  for (int64_t i = state.range(0); i > 0; --i) {
    auto* label = info_series->add_labels();
    label->set_name(absl::StrCat("l", 100000 + i));
    label->set_value("x");
  }
  info_series->set_value(1);
  auto* gauges = push.add_families();
  gauges->set_name("g");
  gauges->set_type(pushgate::v1::GAUGE);
  for (int i = 0; i < 200; ++i) {
    auto* series = gauges->add_series();
    auto* label = series->add_labels();
    label->set_name("s");
    label->set_value(absl::StrCat(i));
    series->set_value(i);
  }
  ConvertViewLoop(state, push, 200);
}
BENCHMARK(BM_ConvertPushWithManyInfoLabels)
    ->Arg(8)
    ->Arg(64)
    ->Arg(2000)
    ->Unit(benchmark::kMicrosecond);

// The same conversion through a ConversionCache that knows the push's shape: the lines are
// written from templates (output bytes per second, as above).
void BM_ConvertPushViewToLineProtocolCached(benchmark::State& state) {
  const std::string wire = ParsedPush().SerializeAsString();
  PushView view;
  if (!view.Parse(wire).ok()) std::abort();
  ConversionCache cache(64 << 20);
  std::string out;
  LineProtocolEncoder encoder;
  for (int i = 0; i < 2; ++i) cache.Convert(view, {}, &encoder, &out, nullptr);  // learn it
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(cache.Convert(view, {}, &encoder, &out, nullptr));
    benchmark::DoNotOptimize(out.data());
  }
  if (cache.stats().hits != state.iterations()) std::abort();
  state.SetBytesProcessed(state.iterations() * out.size());  // output bytes
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_ConvertPushViewToLineProtocolCached);

// The dispatcher's hand-over of one push's lines to an upload batch (Uploader::Add), batches
// sealed by size (5,000 points) as under load and sent to a sink that drops them.
void BM_UploaderAdd(benchmark::State& state) {
  class DroppingSink : public Sink {
   public:
    absl::Status Send(absl::string_view) override { return absl::OkStatus(); }
    std::string Describe() const override { return "drop"; }
  };
  const std::string wire = ParsedPush().SerializeAsString();
  PushView view;
  if (!view.Parse(wire).ok()) std::abort();
  std::string lines;
  LineProtocolEncoder encoder;
  const size_t points = ConvertPushToLineProtocol(view, {}, &encoder, &lines, nullptr);
  UploaderOptions options;
  options.flush_interval = absl::Hours(1);  // only full batches are sealed
  Uploader uploader(std::make_unique<DroppingSink>(), options);
  uint64_t position = 0;
  for (auto _ : state) uploader.Add(lines, points, ++position);
  uploader.Stop(absl::Seconds(10));
  state.SetBytesProcessed(state.iterations() * lines.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_UploaderAdd);

void BM_LineProtocolEncode(benchmark::State& state) {
  std::vector<Point> points;
  ConvertPush(ParsedPush(), {}, &points, nullptr);
  std::string out;
  LineProtocolEncoder encoder;
  for (const Point& p : points) encoder.Append(p, &out);
  const size_t bytes = out.size();
  for (auto _ : state) {
    out.clear();
    for (const Point& p : points) encoder.Append(p, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);  // output bytes
  state.SetItemsProcessed(state.iterations() * points.size());
}
BENCHMARK(BM_LineProtocolEncode);

void BM_UploadGzip(benchmark::State& state) {
  std::vector<Point> points;
  ConvertPush(ParsedPush(), {}, &points, nullptr);
  std::string lines, out;
  LineProtocolEncoder encoder;
  for (int i = 0; i < 50; ++i) {  // a batch of 50 pushes
    for (const Point& p : points) encoder.Append(p, &lines);
  }
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(GzipCompress(lines, &out, static_cast<int>(state.range(0))));
  }
  state.SetBytesProcessed(state.iterations() * lines.size());
  state.SetItemsProcessed(state.iterations() * 50 * kSamples);
}
BENCHMARK(BM_UploadGzip)->Arg(1)->Arg(6);

// Line protocol as the aggregator uploads it: copies of the default push (about 6 KB of
// lines each), each from another instance, 15 s later and with other values, as a batch from
// many pushers would be, until it holds at least `bytes`.
std::string UploadBatch(size_t bytes) {
  pushgate::v1::PushRequest push = ParsedPush();
  std::string lines;
  LineProtocolEncoder encoder;
  for (int k = 0; lines.size() < bytes; ++k) {
    push.mutable_grouping_key()->mutable_labels(0)->set_value(absl::StrCat("i", k % 20));
    push.set_receive_time_ns(1700000000000000000 + int64_t{k} * 15000000000 + k * 7919);
    for (auto& family : *push.mutable_families()) {
      for (auto& series : *family.mutable_series()) series.set_value(series.value() + k % 7);
    }
    ConvertPushToLineProtocol(push, {}, &encoder, &lines, nullptr);
  }
  return lines;
}

// What the uploader pays to gzip a batch: zlib at level 1 (GzipCompress) against
// FastGzipCompress (libs/deflate), on two pushes (12 KB) and a 1 MB batch (the argument is
// the least size). Counter "ratio": input bytes per compressed byte.
void BM_UploadZlibLevel1(benchmark::State& state) {
  const std::string lines = UploadBatch(state.range(0));
  // glibc maps zlib's ~270 KB of per-call state afresh (page faults on every call) until a
  // block that large has once been freed, which raises its mmap threshold; a long-running
  // aggregator is past that point, so the baseline here is too.
  void* large = std::malloc(size_t{4} << 20);
  benchmark::DoNotOptimize(large);
  std::free(large);
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(GzipCompress(lines, &out, 1));
  }
  state.SetBytesProcessed(state.iterations() * lines.size());
  state.counters["ratio"] = static_cast<double>(lines.size()) / out.size();
}
BENCHMARK(BM_UploadZlibLevel1)->Arg(10 << 10)->Arg(1 << 20);

void BM_UploadFastGzip(benchmark::State& state) {
  const std::string lines = UploadBatch(state.range(0));
  std::string out;
  for (auto _ : state) {
    out.clear();
    FastGzipCompress(lines, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * lines.size());
  state.counters["ratio"] = static_cast<double>(lines.size()) / out.size();
}
BENCHMARK(BM_UploadFastGzip)->Arg(10 << 10)->Arg(1 << 20);

void BM_PushRequestSerializeParse(benchmark::State& state) {
  // One serialize and one parse: what a protobuf push costs on the gRPC hop (a text push is
  // not serialized, see BM_TextParseToWire; the aggregator decodes pushes into PushViews, see
  // BM_PushViewParse).
  const pushgate::v1::PushRequest push = ParsedPush();
  std::string wire;
  pushgate::v1::PushRequest copy;
  for (auto _ : state) {
    wire.clear();
    push.SerializeToString(&wire);
    copy.ParseFromString(wire);
    benchmark::DoNotOptimize(copy.families_size());
  }
  state.SetBytesProcessed(state.iterations() * wire.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_PushRequestSerializeParse);

// A protobuf parse into a reused message: what the aggregator paid twice per push before it
// decoded pushes into PushViews.
void BM_PushRequestParse(benchmark::State& state) {
  const std::string wire = ParsedPush().SerializeAsString();
  pushgate::v1::PushRequest push;
  for (auto _ : state) {
    push.ParseFromString(wire);
    benchmark::DoNotOptimize(push.families_size());
  }
  state.SetBytesProcessed(state.iterations() * wire.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_PushRequestParse);

// The same bytes decoded into a reused PushView: how the aggregator checks a batched push and
// decodes a spooled one.
void BM_PushViewParse(benchmark::State& state) {
  const std::string wire = ParsedPush().SerializeAsString();
  PushView view;
  for (auto _ : state) {
    benchmark::DoNotOptimize(view.Parse(wire));
    benchmark::DoNotOptimize(view.families().size());
  }
  state.SetBytesProcessed(state.iterations() * wire.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_PushViewParse);

// What the aggregator adds to that check before it accepts a push: the bound on its converted
// size (--max_converted_bytes_per_push). The counter `bound_over_lines` says how far above
// the push's real line protocol the bound is.
void BM_ConvertedBytesBound(benchmark::State& state) {
  const std::string wire = ParsedPush().SerializeAsString();
  PushView view;
  if (!view.Parse(wire).ok()) state.SkipWithError("the default push does not decode");
  uint64_t bound = 0;
  for (auto _ : state) {
    bound = ConvertedBytesBound(view, {});
    benchmark::DoNotOptimize(bound);
  }
  LineProtocolEncoder encoder;
  std::string lines;
  ConvertPushToLineProtocol(view, {}, &encoder, &lines, nullptr);
  state.counters["bound_over_lines"] = static_cast<double>(bound) / lines.size();
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_ConvertedBytesBound);

// The dispatcher's whole work for one spooled push with a line-protocol backend: decode the
// record, convert and encode it.
void BM_DispatchPushFromWire(benchmark::State& state) {
  const std::string wire = ParsedPush().SerializeAsString();
  PushView view;
  std::string out;
  LineProtocolEncoder encoder;
  for (auto _ : state) {
    out.clear();
    if (!view.Parse(wire).ok()) std::abort();
    benchmark::DoNotOptimize(ConvertPushToLineProtocol(view, {}, &encoder, &out, nullptr));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * wire.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
}
BENCHMARK(BM_DispatchPushFromWire);

// The benchmark's groups: the default push under /metrics/job/bench/instance/i<N>, N over
// 1,000 values, as spooled wire.
std::vector<std::string> GroupWires() {
  pushgate::v1::PushRequest push = ParsedPush();
  std::vector<std::string> wires;
  for (int i = 0; i < 1000; ++i) {
    push.mutable_grouping_key()->mutable_labels(0)->set_value("i" + std::to_string(i));
    wires.push_back(push.SerializeAsString());
  }
  return wires;
}

// The dispatcher's work per push with its conversion cache, pushes cycling over the 1,000
// groups. Arg: the cache's size. 64 MiB holds every group after the first round; 64 KiB only
// a few, so every push is a miss (converted point by point; one in 16 also made into
// templates that push out another shape); 0 turns the cache off, the baseline for both (the
// same 1,000 wires, unlike BM_DispatchPushFromWire's one).
void BM_DispatchPushFromWireCached(benchmark::State& state) {
  const std::vector<std::string> wires = GroupWires();
  ConversionCache cache(static_cast<size_t>(state.range(0)));
  PushView view;
  std::string out;
  LineProtocolEncoder encoder;
  size_t next = 0, wire_bytes = 0;
  for (auto _ : state) {
    out.clear();
    const std::string& wire = wires[next];
    next = next + 1 == wires.size() ? 0 : next + 1;
    if (!view.Parse(wire).ok()) std::abort();
    benchmark::DoNotOptimize(cache.Convert(view, {}, &encoder, &out, nullptr));
    benchmark::DoNotOptimize(out.data());
    wire_bytes += wire.size();
  }
  state.SetBytesProcessed(wire_bytes);
  state.SetItemsProcessed(state.iterations() * kSamples);
  const ConversionCache::Stats stats = cache.stats();
  state.counters["hit_ratio"] = static_cast<double>(stats.hits) / (stats.hits + stats.misses);
  state.counters["cache_MiB"] = stats.bytes / 1048576.0;
}
BENCHMARK(BM_DispatchPushFromWireCached)->Arg(64 << 20)->Arg(64 << 10)->Arg(0);

// The same with every push from a group never seen before (its instance a new number, written
// into the wire in place), as when a job's run id is part of its grouping key.
void BM_DispatchPushFromWireCachedNewGroups(benchmark::State& state) {
  pushgate::v1::PushRequest push = ParsedPush();
  constexpr absl::string_view kFirst = "i000000000";
  push.mutable_grouping_key()->mutable_labels(0)->set_value(std::string(kFirst));
  std::string wire = push.SerializeAsString();
  char* const digits = &wire[wire.find(std::string(kFirst)) + 1];
  ConversionCache cache(64 << 20);
  PushView view;
  std::string out;
  LineProtocolEncoder encoder;
  uint64_t group = 0;
  for (auto _ : state) {
    out.clear();
    uint64_t n = ++group;
    for (int i = static_cast<int>(kFirst.size()) - 2; i >= 0; --i, n /= 10)
      digits[i] = '0' + n % 10;
    if (!view.Parse(wire).ok()) std::abort();
    benchmark::DoNotOptimize(cache.Convert(view, {}, &encoder, &out, nullptr));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * wire.size());
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.counters["hit_ratio"] =
      static_cast<double>(cache.stats().hits) / (cache.stats().hits + cache.stats().misses);
}
BENCHMARK(BM_DispatchPushFromWireCachedNewGroups);

bool WriteFile(const std::string& path, const std::string& data) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << data;
  file.close();
  return file.good();
}

int WritePeerInputs(const std::string& dir) {
  std::string points;
  LineProtocolEncoder encoder;
  ConvertPushToLineProtocol(ParsedPush(), {}, &encoder, &points, nullptr);
  for (const auto& [name, data] :
       {std::pair<std::string, std::string>{"body.txt", BenchDefaultBody()},
        {"body.pb", ProtobufBody()},
        {"points.lp", points}}) {
    if (!WriteFile(dir + "/" + name, data)) {
      std::cerr << "cannot write " << dir << "/" << name << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace pushgate

int main(int argc, char** argv) {
  constexpr absl::string_view kFlag = "--write_peer_inputs=";
  for (int i = 1; i < argc; ++i) {
    if (absl::StartsWith(argv[i], kFlag)) {
      return pushgate::WritePeerInputs(
          std::string(absl::string_view(argv[i]).substr(kFlag.size())));
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
