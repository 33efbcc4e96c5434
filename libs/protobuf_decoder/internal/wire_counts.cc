#include "libs/protobuf_decoder/internal/wire_counts.h"

#include "libs/protobuf_decoder/internal/wire_fields.h"
#include "libs/protowire/wire_reader.h"
#include "proto/prometheus_client.pb.h"

namespace pushgate {
namespace protobuf_decoder_internal {
namespace {

namespace client = ::io::prometheus::client;
using ::pushgate::protowire::kLengthDelimited;
using ::pushgate::protowire::WireReader;

// The fields numbered `repeated` (a summary's quantiles, a histogram's buckets) in a message.
size_t CountRepeated(WireReader message, uint32_t repeated) {
  size_t count = 0;
  ForEachField(message, [&](uint32_t number, uint32_t wire_type, WireReader* in) {
    if (number == repeated && wire_type == kLengthDelimited) ++count;
    return Skip(number, wire_type, in);
  });
  return count;
}

}  // namespace

FamilyCounts CountFamily(absl::string_view bytes, size_t max_labels_per_series) {
  FamilyCounts counts;
  ForEachField(WireReader(bytes, 0), [&](uint32_t number, uint32_t wire_type, WireReader* in) {
    if (number == client::MetricFamily::kNameFieldNumber && wire_type == kLengthDelimited) {
      return in->ReadBytes(&counts.name);
    }
    if (number != client::MetricFamily::kMetricFieldNumber || wire_type != kLengthDelimited) {
      return Skip(number, wire_type, in);
    }
    WireReader metric;
    if (!in->ReadMessage(&metric)) return false;
    size_t labels = 0;
    ForEachField(metric, [&](uint32_t field, uint32_t type, WireReader* m) {
      WireReader value;
      switch (field) {
        case client::Metric::kLabelFieldNumber:
          if (type == kLengthDelimited) ++labels;
          break;
        case client::Metric::kGaugeFieldNumber:
        case client::Metric::kCounterFieldNumber:
        case client::Metric::kUntypedFieldNumber:
          if (type == kLengthDelimited) ++counts.samples;
          break;
        case client::Metric::kSummaryFieldNumber:
          if (type != kLengthDelimited || !m->ReadMessage(&value)) return false;
          counts.samples += 2 + CountRepeated(value, client::Summary::kQuantileFieldNumber);
          return true;
        case client::Metric::kHistogramFieldNumber:
          if (type != kLengthDelimited || !m->ReadMessage(&value)) return false;
          counts.samples += 2 + CountRepeated(value, client::Histogram::kBucketFieldNumber);
          return true;
      }
      return Skip(field, type, m);
    });
    if (counts.metric_over_labels < 0 && max_labels_per_series != 0 &&
        labels > max_labels_per_series) {
      counts.metric_over_labels = static_cast<int>(counts.metrics);
      counts.labels_of_that_metric = labels;
    }
    ++counts.metrics;
    return true;
  });
  return counts;
}

}  // namespace protobuf_decoder_internal
}  // namespace pushgate
