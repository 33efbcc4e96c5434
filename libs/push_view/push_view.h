// A zero-copy decoding of one pushgate.v1.PushRequest (proto/ingest.proto): how the aggregator
// reads pushes straight from their wire bytes (to check a batched push when it arrives, and to
// convert it when it leaves the spool), without building protobuf messages.
//
// A PushView holds string_views into the bytes it was parsed from (or into the message it was
// filled from) and flat arrays that the nested parts index into: a family names a range of
// series, a series ranges of labels, quantiles or buckets. The arrays are kept between pushes,
// so decoding push after push into the same view allocates nothing once they are large enough
// (arrays a huge push grew are let go at the next push).
//
// Parse accepts exactly the inputs PushRequest::ParseFromString accepts (protobuf 3.21: sizes,
// varint and tag lengths, UTF-8 strings, nesting at most 100 deep, unknown fields of every wire
// type skipped, a known field with another wire type taken as unknown, packed and unpacked
// repeated scalars) and yields what the message would hold: the last occurrence of a scalar
// wins, repeated fields append, a message field that occurs twice is merged, a member of the
// oneof `data` set after another clears it, and `timestamp_ms` has presence. Native histograms
// are validated but not kept: conversion uses only a histogram's count and sum.
#ifndef PUSHGATE_LIBS_PUSH_VIEW_PUSH_VIEW_H_
#define PUSHGATE_LIBS_PUSH_VIEW_PUSH_VIEW_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "proto/ingest.pb.h"

namespace pushgate {

// Positions [begin, end) in one of a PushView's arrays. 32 bits: a push that parses is
// under 2 GiB, and every entry takes at least two of its bytes.
struct IndexRange {
  uint32_t begin = 0;
  uint32_t end = 0;

  uint32_t size() const { return end - begin; }
};

struct LabelView {
  absl::string_view name;
  absl::string_view value;
};

struct QuantileView {
  double quantile = 0;
  double value = 0;
};

struct BucketView {
  double upper_bound = 0;
  double cumulative_count = 0;
};

struct SummaryView {
  double count = 0;
  double sum = 0;
  IndexRange quantiles;  // into PushView::quantiles()
};

struct HistogramView {
  double count = 0;
  double sum = 0;
  IndexRange buckets;  // into PushView::buckets()
};

// Which member of Series' oneof `data` is set.
enum class SeriesData : uint8_t { kNone, kValue, kSummary, kHistogram };

// The members other than `data` are zero (empty) as in a message: `value`, `summary`,
// `histogram` hold something only when `data` says so.
struct SeriesView {
  IndexRange labels;  // into PushView::labels()
  SeriesData data = SeriesData::kNone;
  double value = 0;
  SummaryView summary;
  HistogramView histogram;
  bool has_timestamp_ms = false;
  int64_t timestamp_ms = 0;
};

struct FamilyView {
  absl::string_view name;
  absl::string_view help;
  // Any int32, as protobuf keeps enum values it does not know.
  pushgate::v1::MetricType type = pushgate::v1::UNTYPED;
  IndexRange series;  // into PushView::series()
};

class PushView {
 public:
  PushView() = default;
  // Copying would copy views that point into someone else's bytes; there is no need to.
  PushView(const PushView&) = delete;
  PushView& operator=(const PushView&) = delete;
  PushView(PushView&&) = default;
  PushView& operator=(PushView&&) = default;

  // Decodes `wire`, a serialized PushRequest, replacing what the view held. The view points
  // into `wire`, which must outlive its use. A push protobuf would refuse returns
  // InvalidArgument, one line saying where (`byte B`, the offset of the field's tag, and the
  // message and field number) and what is wrong; the view is then empty but for the scalars of
  // the PushRequest itself (sequence, method, receive_time_ns) decoded before the damage, so
  // that a refusal can name the push's sequence.
  absl::Status Parse(absl::string_view wire);

  // Shows `push`, replacing what the view held: the same content Parse gives for its
  // serialization, with views into `push`'s strings (so `push` must outlive their use and stay
  // unchanged). This lets callers that hold a message share the code that reads views.
  void Fill(const pushgate::v1::PushRequest& push);

  // Empties the view; keeps the arrays' capacity, unless a huge push grew them.
  void Clear();

  uint64_t sequence() const { return sequence_; }
  // Any int32, as protobuf keeps enum values it does not know.
  pushgate::v1::Method method() const { return method_; }
  int64_t receive_time_ns() const { return receive_time_ns_; }
  // The grouping key.
  absl::string_view job() const { return job_; }
  absl::Span<const LabelView> grouping_labels() const { return grouping_labels_; }

  absl::Span<const FamilyView> families() const { return families_; }
  absl::Span<const SeriesView> series(const FamilyView& family) const {
    return Slice(series_, family.series);
  }
  absl::Span<const LabelView> labels(const SeriesView& series) const {
    return Slice(labels_, series.labels);
  }
  absl::Span<const QuantileView> quantiles(const SeriesView& series) const {
    return Slice(quantiles_, series.summary.quantiles);
  }
  absl::Span<const BucketView> buckets(const SeriesView& series) const {
    return Slice(buckets_, series.histogram.buckets);
  }

  // Every field, one family, series, label... per line, doubles exact (NaN with its bits):
  // two views hold the same push exactly when their DebugStrings are equal.
  std::string DebugString() const;

 private:
  class Decoder;  // push_view.cc

  // Appends a series whose ranges are empty, at the ends of the arrays.
  SeriesView& AddSeries();
  // Makes `data` the member of the series' oneof. Another member set before is cleared, as in
  // a message, with its quantiles or buckets: the series is the last one, so they are the last
  // entries of their array.
  void SetData(SeriesView* series, SeriesData data);

  template <typename T>
  static absl::Span<const T> Slice(const std::vector<T>& all, IndexRange range) {
    return absl::MakeConstSpan(all.data() + range.begin, range.size());
  }

  uint64_t sequence_ = 0;
  pushgate::v1::Method method_ = pushgate::v1::PUT;
  int64_t receive_time_ns_ = 0;
  absl::string_view job_;
  std::vector<LabelView> grouping_labels_;
  std::vector<FamilyView> families_;
  std::vector<SeriesView> series_;
  std::vector<LabelView> labels_;
  std::vector<QuantileView> quantiles_;
  std::vector<BucketView> buckets_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PUSH_VIEW_PUSH_VIEW_H_
