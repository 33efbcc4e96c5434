#include "libs/remote_write/remote_write.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/line_protocol/line_protocol.h"
#include "libs/protowire/wire_writer.h"

namespace pushgate {
namespace {

using ::pushgate::protowire::IsSetDouble;
using ::pushgate::protowire::kDoubleFieldSize;
using ::pushgate::protowire::LengthDelimitedFieldSize;
using ::pushgate::protowire::StringFieldSize;
using ::pushgate::protowire::VarintSize;
using ::pushgate::protowire::WireWriter;

// Field numbers of proto/remote_write.proto.
constexpr int kWriteRequestTimeSeries = 1;
constexpr int kTimeSeriesLabels = 1, kTimeSeriesSamples = 2;
constexpr int kLabelName = 1, kLabelValue = 2;
constexpr int kSampleValue = 1, kSampleTimestamp = 2;

size_t LabelSize(absl::string_view name, absl::string_view value) {
  return StringFieldSize(name.size()) + StringFieldSize(value.size());
}

// Writes the series of one push straight in wire form, as protobuf's serializer would write
// the WriteRequest holding them: building the message first took about eight times the
// output's size in memory (a Label object and two strings per label of every sample).
class SeriesWriter {
 public:
  SeriesWriter(const PushView& push, const RemoteWriteOptions& options, std::string* out)
      : push_(push), options_(options), out_(out) {}

  // One sample named `name` with the series' labels plus an optional extra label.
  void Add(absl::string_view name, const SeriesView& series, double value,
           absl::string_view extra_name = "", absl::string_view extra_value = "") {
    // In order of precedence: where a name comes twice, the first one written here wins (the
    // job, the grouping labels, the bucket's `le` or quantile's `quantile`, which a series
    // label of that name must not hide, or every bucket would be the same series, then the
    // series' own, first to last).
    labels_.clear();
    labels_.emplace_back("job", push_.job());
    for (const LabelView& label : push_.grouping_labels()) {
      labels_.emplace_back(label.name, label.value);
    }
    if (!extra_name.empty()) labels_.emplace_back(extra_name, extra_value);
    for (const LabelView& label : push_.labels(series)) {
      if (label.name == "__name__") continue;  // the name is the family's
      labels_.emplace_back(label.name, label.value);
    }
    labels_.emplace_back("__name__", name);
    // Remote write wants every series' labels sorted by name, __name__ among them (a name with
    // an upper-case letter sorts before it: 'A' < '_'), and each name once: receivers refuse
    // a repeated one. A stable sort keeps equal names in order of precedence, so the first of
    // each is the one kept; sorting also keeps a series of thousands of labels from costing
    // the square of their number, as comparing each with the others did.
    const auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
    if (labels_.size() <= kInsertionSortMax) {
      // Stable too, and without the buffer std::stable_sort allocates on every call.
      for (size_t i = 1; i < labels_.size(); ++i) {
        for (size_t k = i; k > 0 && by_name(labels_[k], labels_[k - 1]); --k) {
          std::swap(labels_[k], labels_[k - 1]);
        }
      }
    } else {
      std::stable_sort(labels_.begin(), labels_.end(), by_name);
    }
    labels_.erase(std::unique(labels_.begin(), labels_.end(),
                              [](const auto& a, const auto& b) { return a.first == b.first; }),
                  labels_.end());

    // Sizes first: each message's length comes before it.
    const int64_t timestamp = TimestampMs(series);
    const size_t sample_size =
        (IsSetDouble(value) ? kDoubleFieldSize : 0) +
        (timestamp != 0 ? 1 + VarintSize(static_cast<uint64_t>(timestamp)) : 0);
    size_t series_size = LengthDelimitedFieldSize(sample_size);
    for (const auto& [label_name, label_value] : labels_) {
      if (label_value.empty()) continue;
      series_size += LengthDelimitedFieldSize(LabelSize(label_name, label_value));
    }
    const size_t start = out_->size();
    out_->resize(start + LengthDelimitedFieldSize(series_size));
    WireWriter w(&(*out_)[start]);
    w.LengthDelimitedHeader(kWriteRequestTimeSeries, series_size);
    for (const auto& [label_name, label_value] : labels_) {
      if (label_value.empty()) continue;
      w.LengthDelimitedHeader(kTimeSeriesLabels, LabelSize(label_name, label_value));
      w.StringField(kLabelName, label_name);
      w.StringField(kLabelValue, label_value);
    }
    w.LengthDelimitedHeader(kTimeSeriesSamples, sample_size);
    w.OptionalDoubleField(kSampleValue, value);
    if (timestamp != 0) w.VarintField(kSampleTimestamp, static_cast<uint64_t>(timestamp));
    ++samples_;
  }

  size_t samples() const { return samples_; }

 private:
  int64_t TimestampMs(const SeriesView& series) const {
    if (options_.honor_timestamps && series.has_timestamp_ms && series.timestamp_ms > 0) {
      return series.timestamp_ms;
    }
    return push_.receive_time_ns() / 1000000;
  }

  const PushView& push_;
  const RemoteWriteOptions& options_;
  std::string* const out_;
  static constexpr size_t kInsertionSortMax = 32;
  std::vector<std::pair<absl::string_view, absl::string_view>> labels_;
  size_t samples_ = 0;
};

}  // namespace

size_t AppendRemoteWrite(const PushView& push, const RemoteWriteOptions& options,
                         std::string* out) {
  SeriesWriter writer(push, options, out);
  std::string name;
  for (const FamilyView& family : push.families()) {
    const absl::string_view base = family.name;
    for (const SeriesView& series : push.series(family)) {
      switch (series.data) {
        case SeriesData::kSummary:
          for (const QuantileView& q : push.quantiles(series)) {
            writer.Add(base, series, q.value, "quantile", FormatBound(q.quantile));
          }
          writer.Add(absl::StrCat(base, "_sum"), series, series.summary.sum);
          writer.Add(absl::StrCat(base, "_count"), series, series.summary.count);
          break;
        case SeriesData::kHistogram: {
          name = absl::StrCat(base, "_bucket");
          for (const BucketView& b : push.buckets(series)) {
            writer.Add(name, series, b.cumulative_count, "le", FormatBound(b.upper_bound));
          }
          writer.Add(absl::StrCat(base, "_sum"), series, series.histogram.sum);
          writer.Add(absl::StrCat(base, "_count"), series, series.histogram.count);
          break;
        }
        default:
          writer.Add(base, series, series.value);
      }
    }
  }
  return writer.samples();
}

size_t AppendRemoteWrite(const pushgate::v1::PushRequest& push, const RemoteWriteOptions& options,
                         std::string* out) {
  PushView view;
  view.Fill(push);
  return AppendRemoteWrite(view, options, out);
}

}  // namespace pushgate
