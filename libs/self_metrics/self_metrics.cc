#include "libs/self_metrics/self_metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace pushgate {
namespace {

// `text` with a backslash and a line break escaped, and a double quote too when `quoted` (a
// label value; HELP text leaves quotes alone): the text format's rules.
void AppendEscaped(const std::string& text, bool quoted, std::string* out) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && quoted) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// A family's `# HELP` and `# TYPE` lines.
void AppendHeader(const std::string& name, const std::string& help, const std::string& type,
                  std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ");
  AppendEscaped(help, /*quoted=*/false, out);
  absl::StrAppend(out, "\n# TYPE ", name, " ", type, "\n");
}

void AppendSeries(const std::string& name, const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, double value, std::string* out) {
  out->append(name);
  if (!label_names.empty()) {
    out->push_back('{');
    for (size_t i = 0; i < label_names.size(); ++i) {
      if (i > 0) out->push_back(',');
      absl::StrAppend(out, label_names[i], "=\"");
      AppendEscaped(label_values[i], /*quoted=*/true, out);
      out->push_back('"');
    }
    out->push_back('}');
  }
  absl::StrAppend(out, " ", FormatMetricValue(value), "\n");
}

void AppendHistogram(const std::string& name, const MetricsRegistry::HistogramValues& values,
                     std::string* out) {
  DCHECK_EQ(values.counts.size(), values.upper_bounds.size() + 1) << name;
  const std::string bucket = name + "_bucket";
  const std::vector<std::string> le = {"le"};
  uint64_t cumulative = 0;
  for (size_t i = 0; i < values.counts.size(); ++i) {
    cumulative += values.counts[i];
    const double bound = i < values.upper_bounds.size() ? values.upper_bounds[i]
                                                        : std::numeric_limits<double>::infinity();
    AppendSeries(bucket, le, {FormatMetricValue(bound)}, cumulative, out);
  }
  AppendSeries(name + "_sum", {}, {}, values.sum, out);
  AppendSeries(name + "_count", {}, {}, cumulative, out);
}

}  // namespace

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  // Shortest round-trip digits, in %g style: plain decimals down to 0.0001, as Prometheus'
  // Go client writes them, which matters for `le` labels that queries match as strings.
  auto result = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general);
  return std::string(buf, result.ptr);
}

void MetricFamilyValues::Add(absl::Span<const std::string> label_values, double delta) {
  DCHECK_EQ(label_values.size(), label_names_.size()) << name_;
  absl::MutexLock lock(&mu_);
  values_[std::vector<std::string>(label_values.begin(), label_values.end())] += delta;
}

void MetricFamilyValues::Set(absl::Span<const std::string> label_values, double value) {
  DCHECK_EQ(label_values.size(), label_names_.size()) << name_;
  absl::MutexLock lock(&mu_);
  values_[std::vector<std::string>(label_values.begin(), label_values.end())] = value;
}

double MetricFamilyValues::Get(absl::Span<const std::string> label_values) const {
  absl::MutexLock lock(&mu_);
  auto it = values_.find(std::vector<std::string>(label_values.begin(), label_values.end()));
  return it == values_.end() ? 0 : it->second;
}

void MetricFamilyValues::Render(std::string* out) const {
  AppendHeader(name_, help_, type_, out);
  absl::MutexLock lock(&mu_);
  if (values_.empty() && label_names_.empty()) {
    absl::StrAppend(out, name_, " 0\n");
    return;
  }
  for (const auto& [label_values, value] : values_) {
    AppendSeries(name_, label_names_, label_values, value, out);
  }
}

MetricFamilyValues& MetricsRegistry::Counter(std::string name, std::string help,
                                             std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  families_.emplace_back(
      new MetricFamilyValues(std::move(name), std::move(help), "counter", std::move(label_names)));
  return *families_.back();
}

MetricFamilyValues& MetricsRegistry::Gauge(std::string name, std::string help,
                                           std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  families_.emplace_back(
      new MetricFamilyValues(std::move(name), std::move(help), "gauge", std::move(label_names)));
  return *families_.back();
}

namespace {

// One unlabelled series, read by `read`.
std::function<MetricsRegistry::SeriesList()> OneSeries(std::function<double()> read) {
  return [read = std::move(read)]() -> MetricsRegistry::SeriesList { return {{{}, read()}}; };
}

}  // namespace

void MetricsRegistry::CallbackGauge(std::string name, std::string help,
                                    std::function<double()> read) {
  CallbackFamily(std::move(name), std::move(help), "gauge", {}, OneSeries(std::move(read)));
}

void MetricsRegistry::CallbackCounter(std::string name, std::string help,
                                      std::function<double()> read) {
  CallbackFamily(std::move(name), std::move(help), "counter", {}, OneSeries(std::move(read)));
}

void MetricsRegistry::CallbackFamily(std::string name, std::string help, std::string type,
                                     std::vector<std::string> label_names,
                                     std::function<SeriesList()> read) {
  absl::MutexLock lock(&mu_);
  callbacks_.push_back(
      {std::move(name), std::move(help), std::move(type), std::move(label_names), std::move(read)});
}

void MetricsRegistry::CallbackHistogram(std::string name, std::string help,
                                        std::function<HistogramValues()> read) {
  absl::MutexLock lock(&mu_);
  callbacks_.push_back(
      {std::move(name), std::move(help), "histogram", {}, nullptr, std::move(read)});
}

HistogramMetric::HistogramMetric(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {
  DCHECK(std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()));
}

void HistogramMetric::Observe(double value) {
  if (std::isnan(value)) return;
  const size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  absl::MutexLock lock(&mu_);
  ++counts_[bucket];
  sum_ += value;
}

HistogramMetric::Snapshot HistogramMetric::Read() const {
  absl::MutexLock lock(&mu_);
  return {counts_, sum_};
}

HistogramMetric& MetricsRegistry::Histogram(std::string name, std::string help,
                                            std::vector<double> upper_bounds) {
  HistogramMetric* histogram;
  {
    absl::MutexLock lock(&mu_);
    histograms_.emplace_back(new HistogramMetric(std::move(upper_bounds)));
    histogram = histograms_.back().get();
  }
  CallbackHistogram(std::move(name), std::move(help), [histogram] {
    HistogramMetric::Snapshot snapshot = histogram->Read();
    HistogramValues values;
    values.upper_bounds = histogram->upper_bounds_;
    values.counts = std::move(snapshot.counts);
    values.sum = snapshot.sum;
    return values;
  });
  return *histogram;
}

std::string MetricsRegistry::Render() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& family : families_) family->Render(&out);
  for (const auto& callback : callbacks_) {
    AppendHeader(callback.name, callback.help, callback.type, &out);
    if (callback.read_histogram) {
      AppendHistogram(callback.name, callback.read_histogram(), &out);
      continue;
    }
    for (const auto& [label_values, value] : callback.read()) {
      AppendSeries(callback.name, callback.label_names, label_values, value, &out);
    }
  }
  return out;
}

}  // namespace pushgate
