// What one io.prometheus.client.MetricFamily holds, counted from its wire bytes without
// building it. The general path materializes a family as protobuf messages of a hundred bytes
// or more each, for as little as two bytes of wire data apiece (an empty label pair, metric or
// bucket), so the push limits are checked on these counts first: a 60 MB body of empty
// elements (a few KB gzip'd) would otherwise take gigabytes before its limit error.
#ifndef PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_WIRE_COUNTS_H_
#define PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_WIRE_COUNTS_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace pushgate {
namespace protobuf_decoder_internal {

struct FamilyCounts {
  absl::string_view name;  // the last name field read, if any
  size_t metrics = 0;
  // Per metric: 1 for each counter, gauge or untyped value; the quantiles of a summary or the
  // buckets of a histogram, plus 2 (its sum and count); each native-histogram span, delta and
  // count; each exemplar and exemplar label (not carried, but built before they are dropped);
  // and each field kept as an unknown one (below). TextParserLimits::max_samples counts these.
  size_t samples = 0;
  // Fields, at any depth, that protobuf's parser keeps as unknown fields (a number the schema
  // lacks, or a known field in another wire type): it builds each, at some 60 bytes for two
  // bytes of wire.
  size_t unknown_fields = 0;
  // The first metric (from 0) with more than the given number of labels, and its label count;
  // -1 if none.
  int metric_over_labels = -1;
  size_t labels_of_that_metric = 0;
};

// Counts what it can read of `bytes` (a MetricFamily's wire data); data that is not valid
// wire format ends the count there, for the general path's parse to report.
FamilyCounts CountFamily(absl::string_view bytes, size_t max_labels_per_series);

}  // namespace protobuf_decoder_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PROTOBUF_DECODER_INTERNAL_WIRE_COUNTS_H_
