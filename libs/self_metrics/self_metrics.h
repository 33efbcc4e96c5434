// Self metrics: counters, gauges and histograms that a pushgate service exposes about itself on its
// `/metrics` endpoint in the Prometheus text exposition format.
//
// Families are registered once at start-up and live as long as the registry; updating a
// series is thread-safe and cheap enough for once-per-push use (one short lock).
#ifndef PUSHGATE_LIBS_SELF_METRICS_SELF_METRICS_H_
#define PUSHGATE_LIBS_SELF_METRICS_SELF_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace pushgate {

// A family of series sharing a name and label names; values are set or added per label set.
class MetricFamilyValues {
 public:
  // Adds `delta` to the series with these label values (one per label name, in order).
  void Add(absl::Span<const std::string> label_values, double delta = 1);
  void Set(absl::Span<const std::string> label_values, double value);
  // Convenience for families without labels.
  void Add(double delta = 1) { Add({}, delta); }
  void Set(double value) { Set({}, value); }
  double Get(absl::Span<const std::string> label_values) const;

 private:
  friend class MetricsRegistry;
  MetricFamilyValues(std::string name, std::string help, std::string type,
                     std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(std::move(type)),
        label_names_(std::move(label_names)) {}
  void Render(std::string* out) const;

  const std::string name_, help_, type_;
  const std::vector<std::string> label_names_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, double> values_ ABSL_GUARDED_BY(mu_);
};

// A histogram whose observations are counted here, e.g. one request's latency each: its
// buckets are fixed at registration (MetricsRegistry::Histogram).
class HistogramMetric {
 public:
  // Counts `value` in the first bucket whose upper bound is at least `value` (or above all
  // bounds) and adds it to the sum. NaN is ignored.
  void Observe(double value);

 private:
  friend class MetricsRegistry;
  explicit HistogramMetric(std::vector<double> upper_bounds);
  struct Snapshot {
    std::vector<uint64_t> counts;  // per bucket, not cumulative; one more than the bounds
    double sum = 0;
  };
  Snapshot Read() const;

  const std::vector<double> upper_bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

class MetricsRegistry {
 public:
  // Registers a family; the returned reference is valid for the registry's lifetime.
  MetricFamilyValues& Counter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  MetricFamilyValues& Gauge(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  // A gauge or counter without labels whose value is read when rendering (a counter's must
  // never go down).
  void CallbackGauge(std::string name, std::string help, std::function<double()> read);
  void CallbackCounter(std::string name, std::string help, std::function<double()> read);

  // A family whose series are read when rendering, e.g. per-backend figures kept elsewhere.
  // `type` is "counter" or "gauge"; `read` returns (label values, value) pairs.
  using SeriesList = std::vector<std::pair<std::vector<std::string>, double>>;
  void CallbackFamily(std::string name, std::string help, std::string type,
                      std::vector<std::string> label_names, std::function<SeriesList()> read);

  // A histogram whose observations are counted elsewhere and read when rendering.
  struct HistogramValues {
    std::vector<double> upper_bounds;  // increasing; +Inf is implied
    // Observations per bucket, not cumulative: counts[i] are those above upper_bounds[i - 1]
    // and at most upper_bounds[i]; the last entry (one more than upper_bounds) those above
    // every bound.
    std::vector<uint64_t> counts;
    double sum = 0;
  };
  // Rendered as `name_bucket{le=...}` (cumulative, as Prometheus expects), `name_sum` and
  // `name_count`.
  void CallbackHistogram(std::string name, std::string help, std::function<HistogramValues()> read);
  // A histogram counted by the returned object (valid for the registry's lifetime), rendered
  // as CallbackHistogram renders. `upper_bounds` must be increasing; +Inf is implied.
  HistogramMetric& Histogram(std::string name, std::string help, std::vector<double> upper_bounds);

  // All families in the text exposition format (0.0.4), in registration order.
  std::string Render() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<MetricFamilyValues>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<HistogramMetric>> histograms_ ABSL_GUARDED_BY(mu_);
  struct Callback {
    std::string name, help, type;
    std::vector<std::string> label_names;
    std::function<SeriesList()> read;
    std::function<HistogramValues()> read_histogram;  // set instead of `read` for histograms
  };
  std::vector<Callback> callbacks_ ABSL_GUARDED_BY(mu_);
};

// Writes `v` the way Prometheus' text format expects ("NaN", "+Inf", shortest decimal).
std::string FormatMetricValue(double v);

// Registers the process metrics every Prometheus exporter has, under their usual names, read
// from /proc when rendering: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds and
// process_max_fds. A value that cannot be read renders as NaN.
void RegisterProcessMetrics(MetricsRegistry* registry);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_SELF_METRICS_SELF_METRICS_H_
