// Fuzz target for libs/conversion's ConversionCache: the input is taken as a serialized
// pushgate.v1.PushRequest, and for every one that parses, ConvertPushToLineProtocol is the
// reference. It checks what the header promises, that the cache appends exactly those lines,
// counts them and the dropped values alike:
//   - for the push as it came, three times over (the first converted directly, the second
//     making templates, the third written from them);
//   - for the same shape with other values and timestamps (again from the templates, or
//     directly where a value became non-finite);
// with one cache kept across inputs, as the dispatcher keeps its own, and small enough that
// shapes are also dropped.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "libs/conversion/conversion.h"
#include "libs/line_protocol/line_protocol.h"
#include "libs/push_view/push_view.h"
#include "proto/ingest.pb.h"
#include "tools/fuzz_targets/fuzz_check.h"

namespace pushgate {
namespace fuzz {
namespace {

void CheckSameLines(const PushView& view, ConversionCache* cache) {
  static LineProtocolEncoder* const encoder = new LineProtocolEncoder;
  std::string direct = "earlier\n", cached = "earlier\n";
  ConversionStats direct_stats, cached_stats;
  const size_t direct_count = ConvertPushToLineProtocol(view, {}, encoder, &direct, &direct_stats);
  const size_t cached_count = cache->Convert(view, {}, encoder, &cached, &cached_stats);
  FUZZ_CHECK(cached == direct, "the cache wrote\n", cached, "instead of\n", direct);
  FUZZ_CHECK(cached_count == direct_count, cached_count, " lines counted instead of ",
             direct_count);
  FUZZ_CHECK(cached_stats.dropped_non_finite == direct_stats.dropped_non_finite,
             cached_stats.dropped_non_finite, " dropped values counted instead of ",
             direct_stats.dropped_non_finite);
}

// Another value of the same kind: shifted, scaled, and now and then non-finite or -0.
double Other(double v, uint64_t* state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  switch ((*state >> 60) % 8) {
    case 0:
      return std::nan("");
    case 1:
      return -0.0;
    case 2:
      return v * 1e300;
    default:
      return v * 3 + 0.5;
  }
}

// The push with every value and timestamp changed and nothing else.
void ChangeValues(v1::PushRequest* push, uint64_t seed) {
  uint64_t state = seed;
  // Shifted with wrap-around: any int64 may come in.
  const auto shift = [](int64_t t, uint64_t by) {
    return static_cast<int64_t>(static_cast<uint64_t>(t) + by);
  };
  push->set_receive_time_ns(shift(push->receive_time_ns(), 1000000007));
  for (auto& family : *push->mutable_families()) {
    for (auto& series : *family.mutable_series()) {
      if (series.has_timestamp_ms()) series.set_timestamp_ms(shift(series.timestamp_ms(), 15000));
      if (series.has_value()) series.set_value(Other(series.value(), &state));
      if (series.has_summary()) {
        auto* summary = series.mutable_summary();
        summary->set_count(Other(summary->count(), &state));
        summary->set_sum(Other(summary->sum(), &state));
        for (auto& quantile : *summary->mutable_quantiles()) {
          quantile.set_value(Other(quantile.value(), &state));
        }
      }
      if (series.has_histogram()) {
        auto* histogram = series.mutable_histogram();
        histogram->set_count(Other(histogram->count(), &state));
        histogram->set_sum(Other(histogram->sum(), &state));
        for (auto& bucket : *histogram->mutable_buckets()) {
          bucket.set_cumulative_count(Other(bucket.cumulative_count(), &state));
        }
      }
    }
  }
}

void Check(absl::string_view wire) {
  // Small, so that the corpus also drops shapes.
  static ConversionCache* const cache = new ConversionCache(256 << 10);
  static PushView* const view = new PushView;
  if (!view->Parse(wire).ok()) return;
  for (int round = 0; round < 3; ++round) CheckSameLines(*view, cache);

  v1::PushRequest push;
  FUZZ_CHECK(push.ParseFromArray(wire.data(), static_cast<int>(wire.size())),
             "PushView parsed what protobuf refuses");
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    v1::PushRequest changed = push;
    ChangeValues(&changed, seed * wire.size());
    PushView changed_view;
    changed_view.Fill(changed);
    CheckSameLines(changed_view, cache);
  }
}

}  // namespace
}  // namespace fuzz
}  // namespace pushgate

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // protobuf logs every string that is not UTF-8 before refusing it: only noise here.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pushgate::fuzz::Check(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
