#include "libs/conversion/conversion.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <list>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "libs/line_protocol/line_protocol.h"
#include "libs/naming/naming.h"
#include "libs/protowire/wire_writer.h"
#include "libs/push_view/push_view.h"
#include "proto/ingest.pb.h"

namespace pushgate {
namespace {

using ::pushgate::v1::PushRequest;

// A label as pushed, before sanitizing: views into the request.
using RawLabel = std::pair<absl::string_view, absl::string_view>;
// A push rarely has more labels per series than this; more spill to the heap.
using Labels = absl::InlinedVector<RawLabel, 16>;
using Field = std::pair<absl::string_view, double>;

bool HasKey(const Labels& labels, absl::string_view key) {
  for (const RawLabel& label : labels) {
    if (label.first == key) return true;
  }
  return false;
}

void AppendLabel(absl::string_view key, absl::string_view value, Labels* labels) {
  // Member by member: building the pair first makes the compiler store its halves
  // separately and reload them as one, which stalls.
  RawLabel& label = labels->emplace_back();
  label.first = key;
  label.second = value;
}

// Where each key of a label set is, for sets too large to scan: a push may carry thousands of
// info or URL labels, all of which start every point's tags, and scanning them for each label
// of each series was quadratic (a review's 300 KB push took minutes to convert). Small sets,
// nearly all of them, are scanned and cost no allocation.
class KeyIndex {
 public:
  // The position of `key` in `labels`, the set this index follows, or -1.
  ptrdiff_t Find(const Labels& labels, absl::string_view key) const {
    if (labels.size() <= kScanMax) {
      for (size_t k = 0; k < labels.size(); ++k) {
        if (labels[k].first == key) return static_cast<ptrdiff_t>(k);
      }
      return -1;
    }
    const auto it = places_.find(key);
    return it == places_.end() ? -1 : static_cast<ptrdiff_t>(it->second);
  }
  // Takes in the label just appended to `labels` (a key Find did not find).
  void Appended(const Labels& labels) {
    if (labels.size() <= kScanMax) return;
    if (labels.size() == kScanMax + 1) {
      for (size_t k = 0; k + 1 < labels.size(); ++k) places_.emplace(labels[k].first, k);
    }
    places_.emplace(labels.back().first, labels.size() - 1);
  }

 private:
  static constexpr size_t kScanMax = 32;
  absl::flat_hash_map<absl::string_view, size_t> places_;
};

// A newline would end the line-protocol line, and a trailing backslash would escape the
// separator after the value.
std::string SanitizeTagValue(absl::string_view value) {
  while (!value.empty() && value.back() == '\\') value.remove_suffix(1);
  std::string sanitized(value);
  std::replace(sanitized.begin(), sanitized.end(), '\n', ' ');
  return sanitized;
}

// Whether a family of this type makes points: INFO labels are collected up front, and
// GAUGE_HISTOGRAM has none.
bool MakesPoints(v1::MetricType type) {
  switch (type) {
    case v1::COUNTER:
    case v1::GAUGE:
    case v1::UNTYPED:
    case v1::SUMMARY:
    case v1::HISTOGRAM:
      return true;
    default:
      return false;
  }
}

// The timestamp of every point of `series`.
int64_t SeriesTimestampNs(const PushView& push, const SeriesView& series,
                          const ConversionOptions& options) {
  constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max() / 1000000;
  if (options.honor_timestamps && series.has_timestamp_ms && series.timestamp_ms > 0 &&
      series.timestamp_ms <= kMaxMs) {
    return series.timestamp_ms * 1000000;
  }
  return push.receive_time_ns();
}

// The fields of one point: at most two (`_count` and `_sum`).
struct Fields {
  Field items[2];
  size_t size = 0;
};

// The `le` or `quantile` tag values of the previous series, by position: the histograms (or
// summaries) of a push nearly always share their bounds, and FormatBound is not cheap.
class BoundTexts {
 public:
  absl::string_view Get(size_t position, double bound) {
    if (position >= texts_.size()) texts_.resize(position + 1);
    Text& text = texts_[position];
    // Bits rather than ==, which would take -0 for 0 and never match NaN.
    uint64_t bits;
    std::memcpy(&bits, &bound, sizeof(bits));
    if (!text.valid || text.bits != bits) {
      text.text = FormatBound(bound);
      text.bits = bits;
      text.valid = true;
    }
    return text.text;
  }

 private:
  struct Text {
    bool valid = false;
    uint64_t bits = 0;
    std::string text;
  };
  std::vector<Text> texts_;
};

// Where the converter hands its points, one at a time; the views live only during the call.
// Tags are the winning labels as pushed: turning newlines into spaces, removing trailing
// backslashes and leaving out tags that end up empty is the sink's part, since the encoder
// does exactly that for every point anyway.
class PointSink {
 public:
  virtual ~PointSink() = default;
  virtual void Add(const PointView& point) = 0;
};

// Copies every point into a Point, with sanitized tags.
class PointVectorSink final : public PointSink {
 public:
  explicit PointVectorSink(std::vector<Point>* out) : out_(out) {}

  void Add(const PointView& view) override {
    Point& point = out_->emplace_back();
    point.measurement.assign(view.measurement.data(), view.measurement.size());
    point.tags.reserve(view.tags.size());
    for (const auto& [key, raw_value] : view.tags) {
      std::string value = SanitizeTagValue(raw_value);
      if (!value.empty()) point.tags.emplace_back(std::string(key), std::move(value));
    }
    point.fields.reserve(view.fields.size());
    for (const auto& [key, value] : view.fields) point.fields.emplace_back(key, value);
    point.timestamp_ns = view.timestamp_ns;
  }

 private:
  std::vector<Point>* const out_;
};

// Writes every point as a line, so that no string is copied but into the output.
class LineProtocolSink final : public PointSink {
 public:
  LineProtocolSink(LineProtocolEncoder* encoder, std::string* out) : encoder_(encoder), out_(out) {}

  void Add(const PointView& point) override {
    if (encoder_->AppendView(point, out_)) ++lines_;
  }

  size_t lines() const { return lines_; }

 private:
  LineProtocolEncoder* const encoder_;
  std::string* const out_;
  size_t lines_ = 0;
};

class PushConverter {
 public:
  PushConverter(const PushView& push, const ConversionOptions& options, PointSink* sink,
                ConversionStats* stats)
      : push_(push), options_(options), sink_(sink), stats_(stats) {}

  void Run() {
    CollectBaseLabels();
    for (const FamilyView& family : push_.families()) ConvertFamily(family);
  }

 private:
  // Info labels first, then the grouping key; bucket points get only the grouping key.
  void CollectBaseLabels() {
    // Later info samples overwrite earlier values; a label keeps its first place.
    Labels info_labels;
    KeyIndex info_keys;
    for (const FamilyView& family : push_.families()) {
      if (family.type != v1::INFO) continue;
      for (const SeriesView& series : push_.series(family)) {
        for (const LabelView& label : push_.labels(series)) {
          const ptrdiff_t place = info_keys.Find(info_labels, label.name);
          if (place >= 0) {
            info_labels[place].second = label.value;
          } else {
            Append(label.name, label.value, &info_labels, &info_keys);
          }
        }
      }
    }
    Labels url_labels;
    KeyIndex url_keys;
    Append("job", push_.job(), &url_labels, &url_keys);
    for (const LabelView& label : push_.grouping_labels()) {
      if (url_keys.Find(url_labels, label.name) < 0) {
        Append(label.name, label.value, &url_labels, &url_keys);
      }
    }

    labels_with_info_ = std::move(info_labels);
    with_info_keys_ = std::move(info_keys);
    for (const RawLabel& label : url_labels) {
      if (with_info_keys_.Find(labels_with_info_, label.first) < 0) {
        Append(label.first, label.second, &labels_with_info_, &with_info_keys_);
      }
    }
    labels_without_info_ = std::move(url_labels);
    without_info_keys_ = std::move(url_keys);
  }

  static void Append(absl::string_view key, absl::string_view value, Labels* labels,
                     KeyIndex* keys) {
    AppendLabel(key, value, labels);
    keys->Appended(*labels);
  }

  void ConvertFamily(const FamilyView& family) {
    if (!MakesPoints(family.type)) return;
    MetricName name = NameMetric(options_.naming, family.name, push_.job());
    measurement_ = std::move(name.measurement);
    field_ = std::move(name.field);
    if (family.type == v1::SUMMARY || family.type == v1::HISTOGRAM) {
      // assign + append keeps the strings' capacity from family to family.
      count_field_.assign(field_).append("_count");
      sum_field_.assign(field_).append("_sum");
      bucket_field_.assign(field_).append("_bucket");
    }
    for (const SeriesView& series : push_.series(family)) {
      timestamp_ns_ = SeriesTimestampNs(push_, series, options_);
      SeriesLabels(series, labels_with_info_, with_info_keys_, &series_labels_);
      switch (family.type) {
        case v1::SUMMARY:
          ConvertSummary(series);
          break;
        case v1::HISTOGRAM:
          ConvertHistogram(series);
          break;
        default:
          ConvertValue(series);
          break;
      }
    }
  }

  // The winning labels of a series on top of `base` (whose keys are `base_keys`): the series'
  // tags.
  void SeriesLabels(const SeriesView& series, const Labels& base, const KeyIndex& base_keys,
                    Labels* labels) {
    labels->assign(base.begin(), base.end());
    // Among the series' own labels (a protobuf push may repeat a name), the first wins. A
    // series may have any number of labels when a producer streams to the aggregator itself
    // (the front holds them to --max_labels_per_series): past a few dozen, a set finds the
    // repeats, as scanning for each label was quadratic (160,000 labels: 91 s).
    const auto own = push_.labels(series);
    const bool wide = own.size() > kWideSeriesLabels;
    if (wide) own_names_.clear();
    for (const LabelView& label : own) {
      if (base_keys.Find(base, label.name) >= 0) continue;
      bool repeated = false;
      if (wide) {
        repeated = !own_names_.insert(label.name).second;
      } else {
        for (size_t k = base.size(); k < labels->size() && !repeated; ++k) {
          repeated = (*labels)[k].first == label.name;
        }
      }
      if (!repeated) AppendLabel(label.name, label.value, labels);
    }
  }

  // Keeps a finite value as a field; counts and drops anything else.
  void AddField(absl::string_view key, double value, Fields* fields) {
    if (std::isfinite(value)) {
      fields->items[fields->size++] = {key, value};
    } else if (stats_ != nullptr) {
      ++stats_->dropped_non_finite;
    }
  }

  // Emits a point of the current series, unless all its fields were dropped.
  void Emit(const Labels& tags, const Fields& fields) {
    if (fields.size == 0) return;
    PointView point;
    point.measurement = measurement_;
    point.tags = tags;
    point.fields = absl::MakeConstSpan(fields.items, fields.size);
    point.timestamp_ns = timestamp_ns_;
    sink_->Add(point);
  }

  // Emits a point with `tags` plus tag `bound_key`=`bound_text`, unless the series' labels
  // already claimed that key (even with an empty value). The tag is added to `tags` only for
  // the call, which saves copying the series' tags for every bucket.
  void EmitWithBound(Labels* tags, bool bound_key_taken, absl::string_view bound_key,
                     absl::string_view bound_text, const Fields& fields) {
    if (fields.size == 0) return;
    if (bound_key_taken) {
      Emit(*tags, fields);
      return;
    }
    RawLabel& bound_tag = tags->emplace_back();
    bound_tag.first = bound_key;
    bound_tag.second = bound_text;
    Emit(*tags, fields);
    tags->pop_back();
  }

  void ConvertValue(const SeriesView& series) {
    Fields fields;
    AddField(field_, series.value, &fields);
    Emit(series_labels_, fields);
  }

  void EmitCountSum(double count, double sum) {
    Fields fields;
    AddField(count_field_, count, &fields);
    AddField(sum_field_, sum, &fields);
    Emit(series_labels_, fields);
  }

  // A series of a SUMMARY family that holds something else has a zero count and sum and no
  // quantiles, as the message's summary() would.
  void ConvertSummary(const SeriesView& series) {
    EmitCountSum(series.summary.count, series.summary.sum);
    const absl::Span<const QuantileView> quantiles = push_.quantiles(series);
    const bool quantile_taken = HasKey(series_labels_, "quantile");
    for (size_t i = 0; i < quantiles.size(); ++i) {
      Fields fields;
      AddField(field_, quantiles[i].value, &fields);
      EmitWithBound(&series_labels_, quantile_taken, "quantile",
                    quantile_texts_.Get(i, quantiles[i].quantile), fields);
    }
  }

  void ConvertHistogram(const SeriesView& series) {
    EmitCountSum(series.histogram.count, series.histogram.sum);
    const absl::Span<const BucketView> buckets = push_.buckets(series);
    if (buckets.empty()) return;
    // Bucket points carry no info labels.
    SeriesLabels(series, labels_without_info_, without_info_keys_, &bucket_labels_);
    const bool le_taken = HasKey(bucket_labels_, "le");
    for (size_t i = 0; i < buckets.size(); ++i) {
      Fields fields;
      AddField(bucket_field_, buckets[i].cumulative_count, &fields);
      EmitWithBound(&bucket_labels_, le_taken, "le", le_texts_.Get(i, buckets[i].upper_bound),
                    fields);
    }
  }

  const PushView& push_;
  const ConversionOptions& options_;
  PointSink* const sink_;
  ConversionStats* const stats_;

  Labels labels_with_info_;
  Labels labels_without_info_;
  KeyIndex with_info_keys_;
  KeyIndex without_info_keys_;
  // Scratch of SeriesLabels for series with more than kWideSeriesLabels labels.
  static constexpr size_t kWideSeriesLabels = 32;
  absl::flat_hash_set<absl::string_view> own_names_;

  // The family and series being converted.
  std::string measurement_;
  std::string field_;
  std::string count_field_;
  std::string sum_field_;
  std::string bucket_field_;
  int64_t timestamp_ns_ = 0;
  Labels series_labels_;
  Labels bucket_labels_;
  BoundTexts quantile_texts_;
  BoundTexts le_texts_;
};

// A view of `push`, valid until the thread's next call. The view is kept so that converting
// message after message does not allocate its arrays anew each time.
const PushView& ViewOf(const PushRequest& push) {
  static thread_local PushView view;
  view.Fill(push);
  return view;
}

}  // namespace

void ConvertPush(const PushRequest& push, const ConversionOptions& options, std::vector<Point>* out,
                 ConversionStats* stats) {
  PointVectorSink sink(out);
  PushConverter(ViewOf(push), options, &sink, stats).Run();
}

size_t ConvertPushToLineProtocol(const PushView& push, const ConversionOptions& options,
                                 LineProtocolEncoder* encoder, std::string* out,
                                 ConversionStats* stats) {
  LineProtocolSink sink(encoder, out);
  PushConverter(push, options, &sink, stats).Run();
  return sink.lines();
}

size_t ConvertPushToLineProtocol(const PushRequest& push, const ConversionOptions& options,
                                 LineProtocolEncoder* encoder, std::string* out,
                                 ConversionStats* stats) {
  return ConvertPushToLineProtocol(ViewOf(push), options, encoder, out, stats);
}

namespace {

// Allowances of ConvertedBytesBound, each the larger of the two formats' worst case. Per
// label: remote write's three tags and three length varints (line protocol needs 2 bytes,
// `,` and `=`). Per point, in line protocol: `=` and `,` around the fields, the names'
// suffixes, the timestamp (20), two spaces and the newline, and a `,quantile=` tag with its
// bound (34); in remote write the TimeSeries and Sample framing, value and timestamp, and the
// `__name__`, `le` or `quantile` labels but for the name. Field values are counted apart, at
// what line protocol writes for each (PlainFloatBound: no exponent, so up to 344 characters).
constexpr uint64_t kBytesPerLabel = 18;
constexpr uint64_t kBytesPerPoint = 96;

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  uint64_t sum;
  return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

uint64_t SaturatingMultiply(uint64_t a, uint64_t b) {
  uint64_t product;
  return __builtin_mul_overflow(a, b, &product) ? UINT64_MAX : product;
}

uint64_t LabelBytes(absl::Span<const LabelView> labels) {
  uint64_t bytes = 0;
  for (const LabelView& label : labels) {
    bytes += label.name.size() + label.value.size() + kBytesPerLabel;
  }
  return bytes;
}

uint64_t PointsOf(const SeriesView& series) {
  switch (series.data) {
    case SeriesData::kSummary:
      return uint64_t{series.summary.quantiles.size()} + 2;
    case SeriesData::kHistogram:
      return uint64_t{series.histogram.buckets.size()} + 2;
    default:
      return 1;
  }
}

// The characters line protocol may take for the series' field values.
uint64_t ValueBytes(const PushView& push, const SeriesView& series) {
  switch (series.data) {
    case SeriesData::kValue:
      return PlainFloatBound(series.value);
    case SeriesData::kSummary: {
      uint64_t bytes = PlainFloatBound(series.summary.count) + PlainFloatBound(series.summary.sum);
      for (const QuantileView& q : push.quantiles(series)) bytes += PlainFloatBound(q.value);
      return bytes;
    }
    case SeriesData::kHistogram: {
      uint64_t bytes =
          PlainFloatBound(series.histogram.count) + PlainFloatBound(series.histogram.sum);
      for (const BucketView& b : push.buckets(series)) bytes += PlainFloatBound(b.cumulative_count);
      return bytes;
    }
    default:
      return 0;
  }
}

}  // namespace

uint64_t ConvertedBytesBound(const PushView& push, const ConversionOptions& options) {
  // What every point of the push carries: the job is a tag and may be the measurement too.
  // Sizes within one push (under 2 GiB) cannot overflow 64 bits; the products and the total
  // can.
  constexpr absl::string_view kJobKey = "job";
  uint64_t shared = kBytesPerPoint + LabelBytes(push.grouping_labels()) + kJobKey.size() +
                    kBytesPerLabel + 2 * uint64_t{push.job().size()} +
                    options.naming.measurement_name.size();
  for (const FamilyView& family : push.families()) {
    if (family.type != v1::INFO) continue;
    for (const SeriesView& series : push.series(family)) shared += LabelBytes(push.labels(series));
  }
  uint64_t total = 0;
  for (const FamilyView& family : push.families()) {
    const uint64_t family_bytes = shared + 3 * uint64_t{family.name.size()};
    for (const SeriesView& series : push.series(family)) {
      const uint64_t point_bytes = family_bytes + LabelBytes(push.labels(series));
      total = SaturatingAdd(total, SaturatingMultiply(PointsOf(series), point_bytes));
      total = SaturatingAdd(total, ValueBytes(push, series));
    }
  }
  return total;
}

namespace {

// Calls `line(values, count, timestamp_ns)` for every point PushConverter hands its sink, in
// the same order, with the values of the fields it gives the point (in the same order too)
// before any is dropped for being non-finite: the values a line template is filled with.
// Stops, returning false, when `line` does.
template <typename LineFn>
bool ForEachPointValues(const PushView& push, const ConversionOptions& options, LineFn line) {
  for (const FamilyView& family : push.families()) {
    if (!MakesPoints(family.type)) continue;
    for (const SeriesView& series : push.series(family)) {
      const int64_t timestamp_ns = SeriesTimestampNs(push, series, options);
      if (family.type == v1::SUMMARY) {
        const double count_sum[] = {series.summary.count, series.summary.sum};
        if (!line(count_sum, 2, timestamp_ns)) return false;
        for (const QuantileView& quantile : push.quantiles(series)) {
          if (!line(&quantile.value, 1, timestamp_ns)) return false;
        }
      } else if (family.type == v1::HISTOGRAM) {
        const double count_sum[] = {series.histogram.count, series.histogram.sum};
        if (!line(count_sum, 2, timestamp_ns)) return false;
        for (const BucketView& bucket : push.buckets(series)) {
          if (!line(&bucket.cumulative_count, 1, timestamp_ns)) return false;
        }
      } else {
        if (!line(&series.value, 1, timestamp_ns)) return false;
      }
    }
  }
  return true;
}

bool AllFinite(const double* values, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i])) return false;
  }
  return true;
}

// What a push's lines depend on besides its values and timestamps, written by
// WriteShapeKey: every string with its length before it, so that no two shapes write the
// same key. A Writer first measures the key (kMeasure), then writes it through a pointer into
// space sized for it: appending its thousands of short pieces to a string one by one costs
// more than all the rest of a cached push.
template <bool kMeasure>
class ShapeKeyWriter {
 public:
  // `out` is unused when measuring.
  explicit ShapeKeyWriter(char* out) : out_(out) {}

  void Text(absl::string_view text) {
    Number(static_cast<uint32_t>(text.size()));
    // Inline copies: a call to memcpy for each of a key's thousand-odd short pieces cost more
    // than the copying.
    if (!kMeasure) protowire::CopyBytes(out_ + size_, text.data(), text.size());
    size_ += text.size();
  }
  template <typename T>
  void Number(T n) {
    if (!kMeasure) std::memcpy(out_ + size_, &n, sizeof(n));
    size_ += sizeof(n);
  }
  void Labels(absl::Span<const LabelView> labels) {
    Number(static_cast<uint32_t>(labels.size()));
    for (const LabelView& label : labels) {
      Text(label.name);
      Text(label.value);
    }
  }
  size_t size() const { return size_; }

 private:
  char* const out_;
  size_t size_ = 0;
};

// Every family counts, not only those with points: INFO labels become tags.
// Returns the key's size.
template <bool kMeasure>
size_t WriteShapeKey(const PushView& push, char* out) {
  ShapeKeyWriter<kMeasure> w(out);
  w.Text(push.job());
  w.Labels(push.grouping_labels());
  w.Number(static_cast<uint32_t>(push.families().size()));
  for (const FamilyView& family : push.families()) {
    w.Text(family.name);
    w.Number(static_cast<int32_t>(family.type));
    w.Number(family.series.size());
    for (const SeriesView& series : push.series(family)) {
      w.Labels(push.labels(series));
      // Bounds are tag values; their number is the number of lines.
      const absl::Span<const QuantileView> quantiles = push.quantiles(series);
      w.Number(static_cast<uint32_t>(quantiles.size()));
      for (const QuantileView& quantile : quantiles) w.Number(quantile.quantile);
      const absl::Span<const BucketView> buckets = push.buckets(series);
      w.Number(static_cast<uint32_t>(buckets.size()));
      for (const BucketView& bucket : buckets) w.Number(bucket.upper_bound);
    }
  }
  return w.size();
}

// Replaces `key` with the shape key of `push`.
void MakeShapeKey(const PushView& push, std::string* key) {
  key->resize(WriteShapeKey<true>(push, nullptr));
  WriteShapeKey<false>(push, &(*key)[0]);
}

// Makes a template of every point, and writes the point's line from it.
class TemplateSink final : public PointSink {
 public:
  TemplateSink(LineProtocolEncoder* encoder, std::string* out, LineTemplates* templates)
      : encoder_(encoder), out_(out), templates_(templates) {}

  void Add(const PointView& point) override {
    encoder_->AddTemplate(point, templates_);
    values_.clear();  // the converter's points have one or two fields
    for (const auto& field : point.fields) values_.push_back(field.second);
    if (encoder_->AppendFromTemplate(*templates_, templates_->size() - 1, values_.data(),
                                     point.timestamp_ns, out_)) {
      ++written_;
    }
  }

  size_t written() const { return written_; }

 private:
  LineProtocolEncoder* const encoder_;
  std::string* const out_;
  LineTemplates* const templates_;
  absl::InlinedVector<double, 2> values_;
  size_t written_ = 0;
};

}  // namespace

class ConversionCache::Impl {
 public:
  explicit Impl(size_t max_bytes) : max_bytes_(max_bytes) {}

  size_t Convert(const PushView& push, const ConversionOptions& options,
                 LineProtocolEncoder* encoder, std::string* out, ConversionStats* stats) {
    const size_t lines = ConvertWithKey(push, options, encoder, out, stats);
    // A huge push's key is not kept for the life of the thread.
    if (key_.capacity() > kMaxKeptKeyBytes) std::string().swap(key_);
    return lines;
  }

  Stats stats() const {
    Stats stats;
    stats.hits = hits_.load(std::memory_order_relaxed);
    stats.misses = misses_.load(std::memory_order_relaxed);
    stats.evictions = evictions_.load(std::memory_order_relaxed);
    stats.too_large = too_large_.load(std::memory_order_relaxed);
    stats.shapes = shapes_count_.load(std::memory_order_relaxed);
    stats.bytes = bytes_published_.load(std::memory_order_relaxed);
    return stats;
  }

 private:
  struct Shape {
    std::string key;
    LineTemplates lines;  // one per point, in order
    size_t bytes = 0;
  };

  size_t ConvertWithKey(const PushView& push, const ConversionOptions& options,
                        LineProtocolEncoder* encoder, std::string* out, ConversionStats* stats) {
    if (max_bytes_ == 0) {
      Count(&misses_);
      return ConvertPushToLineProtocol(push, options, encoder, out, stats);
    }
    MakeShapeKey(push, &key_);
    auto found = index_.find(key_);
    if (found != index_.end()) {
      shapes_.splice(shapes_.begin(), shapes_, found->second);  // now the most recent
      const size_t start = out->size();
      size_t lines = 0;
      if (Replay(*found->second, push, options, encoder, out, &lines)) {
        Count(&hits_);
        return lines;
      }
      // A non-finite value leaves a field out, which the templates cannot.
      out->resize(start);
      Count(&misses_);
      return ConvertPushToLineProtocol(push, options, encoder, out, stats);
    }
    Count(&misses_);
    // A shape is remembered the second time it comes: making templates costs about half a
    // conversion more, which groups that never come back (a job per run, with its run id in
    // the grouping key) would pay on every push.
    if (!SeenBefore(absl::HashOf(key_)) || !Admit()) {
      return ConvertPushToLineProtocol(push, options, encoder, out, stats);
    }
    // Templates hold each line but its values, so they take at most the lines' size, which is
    // at most twice the bound (escapes). A shape that may not fit the cache would be made only
    // to be thrown away, and past 4 GiB its templates' 32-bit offsets would wrap.
    constexpr uint64_t kMaxTemplateBound = uint64_t{1} << 31;
    if (ConvertedBytesBound(push, options) > std::min<uint64_t>(max_bytes_, kMaxTemplateBound)) {
      Count(&too_large_);
      return ConvertPushToLineProtocol(push, options, encoder, out, stats);
    }
    // Only a push whose values are all finite shows every line its shape can have.
    size_t expected_points = 0;
    const bool finite =
        ForEachPointValues(push, options, [&](const double* values, size_t count, int64_t) {
          ++expected_points;
          return AllFinite(values, count);
        });
    if (!finite) return ConvertPushToLineProtocol(push, options, encoder, out, stats);

    Shape shape;
    TemplateSink sink(encoder, out, &shape.lines);
    PushConverter(push, options, &sink, stats).Run();
    if (shape.lines.size() == expected_points) Insert(std::move(shape));
    return sink.written();
  }

  // Whether a shape with this hash came since the record of them was last cleared; records it.
  // The record is cleared when it holds kMaxSeen hashes, so that its memory stays bounded; a
  // shape that comes back after that is recorded again.
  bool SeenBefore(size_t hash) {
    if (seen_.size() >= kMaxSeen) seen_.clear();
    return !seen_.insert(hash).second;
  }

  // Whether to make templates for a new shape. Always while there is room. Once the cache is
  // (nearly) full, only one new shape in kAdmitOneIn is let in, each pushing out the least
  // recently used one: when more groups recur than fit, admitting every one would push out
  // each shape before its group came back (every push then paying for templates, with no hit
  // to show for it), while this keeps most shapes long enough to be used, and still lets a new
  // working set in over time.
  bool Admit() {
    // Full: a shape like the last one kept would push another out.
    if (bytes_ + last_shape_bytes_ <= max_bytes_) return true;
    return ++admissions_asked_ % kAdmitOneIn == 0;
  }

  // Writes the push's lines from `shape`; false, with `out` partly written, at the first
  // non-finite value.
  static bool Replay(const Shape& shape, const PushView& push, const ConversionOptions& options,
                     LineProtocolEncoder* encoder, std::string* out, size_t* lines) {
    size_t next = 0;
    return ForEachPointValues(
               push, options,
               [&](const double* values, size_t count, int64_t timestamp_ns) {
                 if (next == shape.lines.size() || !AllFinite(values, count)) return false;
                 if (encoder->AppendFromTemplate(shape.lines, next++, values, timestamp_ns, out)) {
                   ++*lines;
                 }
                 return true;
               }) &&
           next == shape.lines.size();
  }

  void Insert(Shape shape) {
    shape.key = key_;
    shape.lines.ShrinkToFit();
    shape.bytes = sizeof(Shape) + shape.key.capacity() + shape.lines.bytes() + kEntryOverhead;
    if (shape.bytes > max_bytes_) return;
    while (bytes_ + shape.bytes > max_bytes_) {
      const Shape& oldest = shapes_.back();
      bytes_ -= oldest.bytes;
      index_.erase(oldest.key);
      shapes_.pop_back();
      Count(&evictions_);
    }
    last_shape_bytes_ = shape.bytes;
    shapes_.push_front(std::move(shape));
    bytes_ += shapes_.front().bytes;
    index_.emplace(shapes_.front().key, shapes_.begin());
    shapes_count_.store(shapes_.size(), std::memory_order_relaxed);
    bytes_published_.store(bytes_, std::memory_order_relaxed);
  }

  // Only the converting thread writes the counters; stats() may read them from any thread.
  static void Count(std::atomic<uint64_t>* counter) {
    counter->store(counter->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // A list node and an index slot, roughly.
  static constexpr size_t kEntryOverhead = 64;
  // About 1 MiB of hashes.
  static constexpr size_t kMaxSeen = 1 << 16;
  static constexpr uint64_t kAdmitOneIn = 16;
  // The usual push's key is a few KiB.
  static constexpr size_t kMaxKeptKeyBytes = 1 << 20;

  const size_t max_bytes_;
  std::list<Shape> shapes_;  // most recently used first
  // Views of the keys held in shapes_.
  absl::flat_hash_map<absl::string_view, std::list<Shape>::iterator> index_;
  size_t bytes_ = 0;
  size_t last_shape_bytes_ = 0;
  uint64_t admissions_asked_ = 0;     // while full
  absl::flat_hash_set<size_t> seen_;  // hashes of the shapes that came once
  std::string key_;                   // the current push's, reused
  std::atomic<uint64_t> hits_{0}, misses_{0}, evictions_{0}, too_large_{0};
  std::atomic<size_t> shapes_count_{0}, bytes_published_{0};
};

ConversionCache::ConversionCache(size_t max_bytes) : impl_(new Impl(max_bytes)) {}
ConversionCache::~ConversionCache() = default;

size_t ConversionCache::Convert(const PushView& push, const ConversionOptions& options,
                                LineProtocolEncoder* encoder, std::string* out,
                                ConversionStats* stats) {
  return impl_->Convert(push, options, encoder, out, stats);
}

ConversionCache::Stats ConversionCache::stats() const { return impl_->stats(); }

}  // namespace pushgate
