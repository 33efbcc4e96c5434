// Rules shared by the protobuf decoder's two paths: metric names are
// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, and each client metric type
// becomes the pushgate.v1 type of the same name.
#ifndef PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_RULES_H_
#define PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_RULES_H_

#include <cmath>
#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "proto/ingest.pb.h"
#include "proto/prometheus_client.pb.h"

namespace pushgate {
namespace protobuf_decoder_internal {

inline bool IsValidMetricName(absl::string_view name) {
  if (name.empty() || !(absl::ascii_isalpha(name[0]) || name[0] == '_' || name[0] == ':')) {
    return false;
  }
  for (char c : name.substr(1)) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == ':')) return false;
  }
  return true;
}

inline bool IsValidLabelName(absl::string_view name) {
  if (name.empty() || !(absl::ascii_isalpha(name[0]) || name[0] == '_')) return false;
  for (char c : name.substr(1)) {
    if (!(absl::ascii_isalnum(c) || c == '_')) return false;
  }
  return true;
}

// The pushgate.v1 type of a family of client type `type`; false for a number outside the
// client's enum.
inline bool MapType(io::prometheus::client::MetricType type, pushgate::v1::MetricType* out) {
  namespace client = ::io::prometheus::client;
  switch (type) {
    case client::COUNTER:
      *out = v1::COUNTER;
      return true;
    case client::GAUGE:
      *out = v1::GAUGE;
      return true;
    case client::SUMMARY:
      *out = v1::SUMMARY;
      return true;
    case client::UNTYPED:
      *out = v1::UNTYPED;
      return true;
    case client::HISTOGRAM:
      *out = v1::HISTOGRAM;
      return true;
    case client::GAUGE_HISTOGRAM:
      *out = v1::GAUGE_HISTOGRAM;
      return true;
  }
  return false;
}

// Whether a histogram whose sorted classic buckets number `count`, the last bounded by `last`,
// gets a `+Inf` bucket holding its count. Protobuf leaves that bucket implicit (the Go client
// never writes it), while the text format always carries it, and both Prometheus' protobuf
// scrape and the Pushgateway's exposition put it back; so that a histogram means the same
// whichever format pushed it (and `histogram_quantile` finds its `+Inf` in remote write), it
// is added to every classic histogram that lacks it. A native-only histogram (native fields,
// no classic bucket) gets none, as in Prometheus.
inline bool NeedsInfBucket(size_t count, bool native, double last) {
  if (count == 0) return !native;
  return !(last > 0 && std::isinf(last));
}

}  // namespace protobuf_decoder_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_RULES_H_
