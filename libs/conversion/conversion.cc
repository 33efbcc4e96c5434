#include "libs/conversion/conversion.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "libs/line_protocol/line_protocol.h"
#include "libs/naming/naming.h"
#include "proto/ingest.pb.h"

namespace pushgate {
namespace {

using ::pushgate::v1::MetricFamily;
using ::pushgate::v1::MetricType;
using ::pushgate::v1::PushRequest;
using ::pushgate::v1::Series;

// A label as pushed, before sanitizing; points into the request.
using RawLabel = std::pair<absl::string_view, absl::string_view>;
using Tags = std::vector<std::pair<std::string, std::string>>;

bool HasKey(const std::vector<RawLabel>& labels, absl::string_view key) {
  for (const RawLabel& label : labels) {
    if (label.first == key) return true;
  }
  return false;
}

// Tag precedence: the first source to name a key keeps it.
void AddIfAbsent(absl::string_view key, absl::string_view value, std::vector<RawLabel>* labels) {
  if (!HasKey(*labels, key)) labels->emplace_back(key, value);
}

// A newline would end the line-protocol line, and a trailing backslash would escape the
// separator after the value.
std::string SanitizeTagValue(absl::string_view value) {
  while (!value.empty() && value.back() == '\\') value.remove_suffix(1);
  std::string sanitized(value);
  std::replace(sanitized.begin(), sanitized.end(), '\n', ' ');
  return sanitized;
}

void AppendTags(const std::vector<RawLabel>& labels, Tags* tags) {
  for (const RawLabel& label : labels) {
    std::string value = SanitizeTagValue(label.second);
    if (value.empty()) continue;
    tags->emplace_back(std::string(label.first), std::move(value));
  }
}

class PushConverter {
 public:
  PushConverter(const PushRequest& push, const ConversionOptions& options, std::vector<Point>* out,
                ConversionStats* stats)
      : push_(push), options_(options), out_(out), stats_(stats) {}

  void Run() {
    CollectBaseLabels();
    for (const MetricFamily& family : push_.families()) ConvertFamily(family);
  }

 private:
  // Info labels first, then the grouping key; bucket points get only the grouping key.
  void CollectBaseLabels() {
    for (const MetricFamily& family : push_.families()) {
      if (family.type() != v1::INFO) continue;
      for (const Series& series : family.series()) {
        for (const v1::Label& label : series.labels()) {
          auto it = std::find_if(info_labels_.begin(), info_labels_.end(),
                                 [&](const RawLabel& l) { return l.first == label.name(); });
          // Later info samples overwrite earlier values.
          if (it != info_labels_.end()) {
            it->second = label.value();
          } else {
            info_labels_.emplace_back(label.name(), label.value());
          }
        }
      }
    }
    const v1::GroupingKey& key = push_.grouping_key();
    std::vector<RawLabel> url_labels;
    AddIfAbsent("job", key.job(), &url_labels);
    for (const v1::Label& label : key.labels())
      AddIfAbsent(label.name(), label.value(), &url_labels);

    labels_with_info_ = info_labels_;
    for (const RawLabel& label : url_labels)
      AddIfAbsent(label.first, label.second, &labels_with_info_);
    labels_without_info_ = std::move(url_labels);
  }

  void ConvertFamily(const MetricFamily& family) {
    switch (family.type()) {
      case v1::COUNTER:
      case v1::GAUGE:
      case v1::UNTYPED:
      case v1::SUMMARY:
      case v1::HISTOGRAM:
        break;
      default:  // INFO labels are collected up front; GAUGE_HISTOGRAM has no points.
        return;
    }
    const MetricName name = NameMetric(options_.naming, family.name(), push_.grouping_key().job());
    measurement_ = name.measurement;
    field_ = name.field;
    count_field_ = field_ + "_count";
    sum_field_ = field_ + "_sum";
    bucket_field_ = field_ + "_bucket";
    for (const Series& series : family.series()) {
      const int64_t timestamp_ns = TimestampNs(series);
      SeriesTags(series, labels_with_info_, &raw_labels_, &series_tags_);
      switch (family.type()) {
        case v1::SUMMARY:
          ConvertSummary(series, timestamp_ns);
          break;
        case v1::HISTOGRAM:
          ConvertHistogram(series, timestamp_ns);
          break;
        default:
          ConvertValue(series, timestamp_ns);
          break;
      }
    }
  }

  int64_t TimestampNs(const Series& series) const {
    constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max() / 1000000;
    if (options_.honor_timestamps && series.has_timestamp_ms() && series.timestamp_ms() > 0 &&
        series.timestamp_ms() <= kMaxMs) {
      return series.timestamp_ms() * 1000000;
    }
    return push_.receive_time_ns();
  }

  // The winning raw labels of a series on top of `base`, and the tags they give.
  static void SeriesTags(const Series& series, const std::vector<RawLabel>& base,
                         std::vector<RawLabel>* raw, Tags* tags) {
    raw->assign(base.begin(), base.end());
    for (const v1::Label& label : series.labels()) AddIfAbsent(label.name(), label.value(), raw);
    tags->clear();
    AppendTags(*raw, tags);
  }

  // Keeps a finite value as a field; counts and drops anything else.
  void AddField(const std::string& key, double value,
                std::vector<std::pair<std::string, double>>* fields) {
    if (std::isfinite(value)) {
      fields->emplace_back(key, value);
    } else {
      CountDropped();
    }
  }

  void CountDropped() {
    if (stats_ != nullptr) ++stats_->dropped_non_finite;
  }

  // Emits a point with `tags` plus, unless `raw` already claimed the key, tag `extra_key`.
  void Emit(const Tags& tags, const std::vector<RawLabel>& raw, absl::string_view extra_key,
            double extra_bound, std::vector<std::pair<std::string, double>> fields,
            int64_t timestamp_ns) {
    if (fields.empty()) return;
    Point point;
    point.measurement = measurement_;
    point.tags.reserve(tags.size() + 1);
    point.tags.assign(tags.begin(), tags.end());
    if (!extra_key.empty() && !HasKey(raw, extra_key)) {
      point.tags.emplace_back(std::string(extra_key), FormatBound(extra_bound));
    }
    point.fields = std::move(fields);
    point.timestamp_ns = timestamp_ns;
    out_->push_back(std::move(point));
  }

  void ConvertValue(const Series& series, int64_t timestamp_ns) {
    std::vector<std::pair<std::string, double>> fields;
    AddField(field_, series.value(), &fields);
    Emit(series_tags_, raw_labels_, "", 0, std::move(fields), timestamp_ns);
  }

  void EmitCountSum(double count, double sum, int64_t timestamp_ns) {
    std::vector<std::pair<std::string, double>> fields;
    AddField(count_field_, count, &fields);
    AddField(sum_field_, sum, &fields);
    Emit(series_tags_, raw_labels_, "", 0, std::move(fields), timestamp_ns);
  }

  void ConvertSummary(const Series& series, int64_t timestamp_ns) {
    const v1::Summary& summary = series.summary();
    EmitCountSum(summary.count(), summary.sum(), timestamp_ns);
    for (const v1::Quantile& quantile : summary.quantiles()) {
      std::vector<std::pair<std::string, double>> fields;
      AddField(field_, quantile.value(), &fields);
      Emit(series_tags_, raw_labels_, "quantile", quantile.quantile(), std::move(fields),
           timestamp_ns);
    }
  }

  void ConvertHistogram(const Series& series, int64_t timestamp_ns) {
    const v1::Histogram& histogram = series.histogram();
    EmitCountSum(histogram.count(), histogram.sum(), timestamp_ns);
    if (histogram.buckets().empty()) return;
    // Bucket points carry no info labels.
    SeriesTags(series, labels_without_info_, &bucket_raw_labels_, &bucket_tags_);
    for (const v1::Bucket& bucket : histogram.buckets()) {
      std::vector<std::pair<std::string, double>> fields;
      AddField(bucket_field_, bucket.cumulative_count(), &fields);
      Emit(bucket_tags_, bucket_raw_labels_, "le", bucket.upper_bound(), std::move(fields),
           timestamp_ns);
    }
  }

  const PushRequest& push_;
  const ConversionOptions& options_;
  std::vector<Point>* const out_;
  ConversionStats* const stats_;

  std::vector<RawLabel> info_labels_;
  std::vector<RawLabel> labels_with_info_;
  std::vector<RawLabel> labels_without_info_;

  // The family and series being converted.
  std::string measurement_;
  std::string field_;
  std::string count_field_;
  std::string sum_field_;
  std::string bucket_field_;
  std::vector<RawLabel> raw_labels_;
  Tags series_tags_;
  std::vector<RawLabel> bucket_raw_labels_;
  Tags bucket_tags_;
};

}  // namespace

void ConvertPush(const PushRequest& push, const ConversionOptions& options, std::vector<Point>* out,
                 ConversionStats* stats) {
  PushConverter(push, options, out, stats).Run();
}

}  // namespace pushgate
