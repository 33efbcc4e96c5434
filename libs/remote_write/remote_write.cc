#include "libs/remote_write/remote_write.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/line_protocol/line_protocol.h"
#include "proto/remote_write.pb.h"

namespace pushgate {
namespace {

using pushgate::v1::MetricFamily;
using pushgate::v1::PushRequest;
using pushgate::v1::Series;

// Builds the series of one push into a reused WriteRequest.
class SeriesWriter {
 public:
  SeriesWriter(const PushRequest& push, const RemoteWriteOptions& options,
               prometheus::WriteRequest* request)
      : push_(push), options_(options), request_(request) {}

  // One sample named `name` with the series' labels plus an optional extra label.
  void Add(absl::string_view name, const Series& series, double value,
           absl::string_view extra_name = "", absl::string_view extra_value = "") {
    labels_.clear();
    for (const auto& label : push_.grouping_key().labels()) {
      labels_.emplace_back(label.name(), label.value());
    }
    labels_.emplace_back("job", push_.grouping_key().job());
    const size_t grouping = labels_.size();
    for (const auto& label : series.labels()) {
      if (label.name() == "__name__") continue;  // the name is the family's
      bool overridden = false;
      for (size_t i = 0; i < grouping && !overridden; ++i) {
        overridden = labels_[i].first == label.name();
      }
      if (!overridden) labels_.emplace_back(label.name(), label.value());
    }
    if (!extra_name.empty()) labels_.emplace_back(extra_name, extra_value);
    // Remote write wants every series' labels sorted by name, __name__ among them: a name
    // with an upper-case letter sorts before it ('A' < '_').
    labels_.emplace_back("__name__", name);
    std::sort(labels_.begin(), labels_.end());

    prometheus::TimeSeries* ts = request_->add_timeseries();
    for (const auto& [label_name, label_value] : labels_) {
      if (label_value.empty()) continue;
      auto* label = ts->add_labels();
      label->set_name(std::string(label_name));
      label->set_value(std::string(label_value));
    }
    auto* sample = ts->add_samples();
    sample->set_value(value);
    sample->set_timestamp(TimestampMs(series));
    ++samples_;
  }

  size_t samples() const { return samples_; }

 private:
  int64_t TimestampMs(const Series& series) const {
    if (options_.honor_timestamps && series.has_timestamp_ms() && series.timestamp_ms() > 0) {
      return series.timestamp_ms();
    }
    return push_.receive_time_ns() / 1000000;
  }

  const PushRequest& push_;
  const RemoteWriteOptions& options_;
  prometheus::WriteRequest* request_;
  std::vector<std::pair<absl::string_view, absl::string_view>> labels_;
  size_t samples_ = 0;
};

}  // namespace

size_t AppendRemoteWrite(const PushRequest& push, const RemoteWriteOptions& options,
                         std::string* out) {
  prometheus::WriteRequest request;
  SeriesWriter writer(push, options, &request);
  std::string name;
  for (const MetricFamily& family : push.families()) {
    const std::string& base = family.name();
    for (const Series& series : family.series()) {
      switch (series.data_case()) {
        case Series::kSummary:
          for (const auto& q : series.summary().quantiles()) {
            writer.Add(base, series, q.value(), "quantile", FormatBound(q.quantile()));
          }
          writer.Add(absl::StrCat(base, "_sum"), series, series.summary().sum());
          writer.Add(absl::StrCat(base, "_count"), series, series.summary().count());
          break;
        case Series::kHistogram: {
          name = absl::StrCat(base, "_bucket");
          for (const auto& b : series.histogram().buckets()) {
            writer.Add(name, series, b.cumulative_count(), "le", FormatBound(b.upper_bound()));
          }
          writer.Add(absl::StrCat(base, "_sum"), series, series.histogram().sum());
          writer.Add(absl::StrCat(base, "_count"), series, series.histogram().count());
          break;
        }
        default:
          writer.Add(base, series, series.value());
      }
    }
  }
  request.AppendToString(out);
  return writer.samples();
}

}  // namespace pushgate
