#include "libs/self_metrics/self_metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace {

TEST(MetricsRegistryTest, RendersCountersGaugesAndCallbacksInTextFormat) {
  MetricsRegistry registry;
  auto& requests = registry.Counter("t_requests_total", "Requests.", {"code", "path"});
  auto& inflight = registry.Gauge("t_inflight", "In flight.");
  registry.CallbackGauge("t_queue", "Queue.", [] { return 2.5; });
  requests.Add({"200", "/a"});
  requests.Add({"200", "/a"}, 2);
  requests.Add({"400", "a\"b\\c\nd"});
  inflight.Set(7);

  EXPECT_EQ(registry.Render(),
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{code=\"200\",path=\"/a\"} 3\n"
            "t_requests_total{code=\"400\",path=\"a\\\"b\\\\c\\nd\"} 1\n"
            "# HELP t_inflight In flight.\n"
            "# TYPE t_inflight gauge\n"
            "t_inflight 7\n"
            "# HELP t_queue Queue.\n"
            "# TYPE t_queue gauge\n"
            "t_queue 2.5\n");
  EXPECT_EQ(requests.Get({"200", "/a"}), 3);
  EXPECT_EQ(requests.Get({"500", "/a"}), 0);
}

TEST(MetricsRegistryTest, CallbackCounterIsReadWhenRenderingAndTypedCounter) {
  MetricsRegistry registry;
  double hits = 1;
  registry.CallbackCounter("t_hits_total", "Hits.", [&] { return hits; });
  hits = 4;
  EXPECT_EQ(registry.Render(),
            "# HELP t_hits_total Hits.\n"
            "# TYPE t_hits_total counter\n"
            "t_hits_total 4\n");
}

TEST(MetricsRegistryTest, CallbackFamilyReadsSeriesWhenRendering) {
  MetricsRegistry registry;
  double sent = 1;
  registry.CallbackFamily("t_sent_total", "Sent.", "counter", {"backend"}, [&] {
    return MetricsRegistry::SeriesList{{{"a"}, sent}, {{"b"}, 2 * sent}};
  });
  sent = 5;
  EXPECT_EQ(registry.Render(),
            "# HELP t_sent_total Sent.\n# TYPE t_sent_total counter\n"
            "t_sent_total{backend=\"a\"} 5\nt_sent_total{backend=\"b\"} 10\n");
}

TEST(MetricsRegistryTest, CallbackHistogramRendersCumulativeBucketsSumAndCount) {
  MetricsRegistry registry;
  MetricsRegistry::HistogramValues values;
  values.upper_bounds = {0.001, 0.01};
  values.counts = {3, 0, 2};  // 3 at most 1 ms, none in (1 ms, 10 ms], 2 above 10 ms
  values.sum = 1.25;
  registry.CallbackHistogram("t_seconds", "Took.", [&] { return values; });
  EXPECT_EQ(registry.Render(),
            "# HELP t_seconds Took.\n# TYPE t_seconds histogram\n"
            "t_seconds_bucket{le=\"0.001\"} 3\n"
            "t_seconds_bucket{le=\"0.01\"} 3\n"
            "t_seconds_bucket{le=\"+Inf\"} 5\n"
            "t_seconds_sum 1.25\n"
            "t_seconds_count 5\n");
}

TEST(MetricsRegistryTest, HistogramCountsObservationsInTheFirstBucketThatHoldsThem) {
  MetricsRegistry registry;
  HistogramMetric& histogram = registry.Histogram("t_seconds", "Took.", {0.001, 0.01});
  histogram.Observe(0.0005);
  histogram.Observe(0.001);  // a bound belongs to its own bucket (le = "less or equal")
  histogram.Observe(0.5);
  histogram.Observe(std::numeric_limits<double>::quiet_NaN());  // not counted
  EXPECT_EQ(registry.Render(),
            "# HELP t_seconds Took.\n# TYPE t_seconds histogram\n"
            "t_seconds_bucket{le=\"0.001\"} 2\n"
            "t_seconds_bucket{le=\"0.01\"} 2\n"
            "t_seconds_bucket{le=\"+Inf\"} 3\n"
            "t_seconds_sum 0.5015\n"
            "t_seconds_count 3\n");
}

TEST(MetricsRegistryTest, UnlabelledFamilyWithNoUpdatesRendersZero) {
  MetricsRegistry registry;
  registry.Counter("t_total", "Nothing yet.");
  EXPECT_THAT(registry.Render(), ::testing::HasSubstr("\nt_total 0\n"));
}

TEST(FormatMetricValueTest, SpecialValues) {
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1e21), "1e+21");
  // As Prometheus' Go client writes bucket bounds: "0.0001", not the shorter "1e-04".
  EXPECT_EQ(FormatMetricValue(0.0001), "0.0001");
  EXPECT_EQ(FormatMetricValue(0.0005), "0.0005");
  EXPECT_EQ(FormatMetricValue(0.00001), "1e-05");
}

TEST(MetricsRegistryTest, HelpTextEscapesBackslashesAndLineBreaks) {
  MetricsRegistry registry;
  registry.Counter("t_total", "Counts a\\b\nacross lines.", {}).Add({});
  registry.CallbackGauge("t_gauge", "Path C:\\x", [] { return 1.0; });
  const std::string out = registry.Render();
  EXPECT_NE(out.find("# HELP t_total Counts a\\\\b\\nacross lines.\n# TYPE t_total counter\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("# HELP t_gauge Path C:\\\\x\n"), std::string::npos) << out;
}

// The value of the unlabelled series `name` in `text`, or NaN.
double ValueOf(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = text.find(key);
  if (at == std::string::npos) return std::nan("");
  return std::strtod(text.c_str() + at + key.size(), nullptr);
}

// Dashboards written for any exporter read these; they must be this process's figures.
TEST(ProcessMetricsTest, ReportThisProcess) {
  MetricsRegistry registry;
  RegisterProcessMetrics(&registry);
  const std::string before = registry.Render();
  EXPECT_GT(ValueOf(before, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(ValueOf(before, "process_virtual_memory_bytes"),
            ValueOf(before, "process_resident_memory_bytes"));
  const double now = static_cast<double>(absl::ToUnixSeconds(absl::Now()));
  EXPECT_LE(ValueOf(before, "process_start_time_seconds"), now + 1);
  EXPECT_GT(ValueOf(before, "process_start_time_seconds"), now - 3600);
  EXPECT_GT(ValueOf(before, "process_max_fds"), ValueOf(before, "process_open_fds"));

  const int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  volatile double sink = 0;  // burn some CPU
  for (int i = 0; i < 50000000; ++i) sink = sink + i;
  const std::string after = registry.Render();
  close(fd);
  EXPECT_EQ(ValueOf(after, "process_open_fds"), ValueOf(before, "process_open_fds") + 1);
  EXPECT_GT(ValueOf(after, "process_cpu_seconds_total"),
            ValueOf(before, "process_cpu_seconds_total"));
  EXPECT_THAT(after, ::testing::HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
}

}  // namespace
}  // namespace pushgate
