#include "libs/naming/naming.h"

#include <string>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace {

NamingOptions Keep(bool keep) {
  NamingOptions options;
  options.keep_exist_metric_name = keep;
  return options;
}

MetricName Split(absl::string_view name, bool keep) { return NameMetric(Keep(keep), name, "j"); }

void ExpectName(const MetricName& got, absl::string_view measurement, absl::string_view field) {
  EXPECT_EQ(got.measurement, measurement);
  EXPECT_EQ(got.field, field);
}

TEST(NameMetricTest, DefaultsKeepTheWholeName) {
  NamingOptions options;
  ExpectName(NameMetric(options, "etcd_write_bytes_total", "job"), "etcd",
             "etcd_write_bytes_total");
}

TEST(NameMetricTest, SplitAtFirstUnderscore) {
  ExpectName(Split("etcd_write_bytes_total", true), "etcd", "etcd_write_bytes_total");
  ExpectName(Split("etcd_write_bytes_total", false), "etcd", "write_bytes_total");
}

TEST(NameMetricTest, NoUnderscoreUsesTheNameTwice) {
  for (bool keep : {true, false}) {
    ExpectName(Split("up", keep), "up", "up");
    ExpectName(Split("ab", keep), "ab", "ab");
  }
}

TEST(NameMetricTest, ShortNamesAreUnknown) {
  for (bool keep : {true, false}) {
    for (absl::string_view name : {"a", "_a", "_", "__", "", "___b"}) {
      SCOPED_TRACE(name);
      ExpectName(Split(name, keep), "unknown", "unknown");
    }
  }
}

TEST(NameMetricTest, LeadingUnderscoresAreStripped) {
  ExpectName(Split("__x_y", true), "x", "x_y");
  ExpectName(Split("__x_y", false), "x", "y");
  ExpectName(Split("_etcd_write_bytes_total", true), "etcd", "etcd_write_bytes_total");
  ExpectName(Split("_etcd_write_bytes_total", false), "etcd", "write_bytes_total");
  ExpectName(Split("_up", true), "up", "up");
}

TEST(NameMetricTest, TrailingOnlyUnderscoreIsDropped) {
  for (bool keep : {true, false}) {
    ExpectName(Split("etcd_", keep), "etcd", "etcd");
    ExpectName(Split("a_", keep), "a", "a");
    ExpectName(Split("_a_", keep), "a", "a");
  }
}

TEST(NameMetricTest, SeveralTrailingUnderscoresFollowTheGeneralRule) {
  // The first '_' is not the last character, so this is an ordinary split.
  ExpectName(Split("a__", true), "a", "a__");
  ExpectName(Split("a__", false), "a", "_");
  ExpectName(Split("a_b_", false), "a", "b_");
}

TEST(NameMetricTest, ColonIsAnOrdinaryCharacter) {
  ExpectName(Split("job:http_requests:rate5m", true), "job:http", "job:http_requests:rate5m");
  ExpectName(Split("job:http_requests:rate5m", false), "job:http", "requests:rate5m");
  ExpectName(Split("a:b", false), "a:b", "a:b");
}

TEST(NameMetricTest, MeasurementNameKeepsTheFullFamilyName) {
  for (bool keep : {true, false}) {
    NamingOptions options = Keep(keep);
    options.measurement_name = "prom";
    ExpectName(NameMetric(options, "go_gc_duration_seconds", "j"), "prom",
               "go_gc_duration_seconds");
    // Not even the leading underscores or the one-letter fallback apply.
    ExpectName(NameMetric(options, "_a", "j"), "prom", "_a");
  }
}

TEST(NameMetricTest, JobAsMeasurementKeepsTheFullFamilyName) {
  for (bool keep : {true, false}) {
    NamingOptions options = Keep(keep);
    options.job_as_measurement = true;
    ExpectName(NameMetric(options, "go_gc_duration_seconds", "myjob"), "myjob",
               "go_gc_duration_seconds");
    ExpectName(NameMetric(options, "s", "my job,x"), "my job,x", "s");
  }
}

// A job can be any string, but a line starting with '#' is a comment, a trailing backslash
// escapes the separator after it, and a leading tab is skipped: the measurement is mended.
TEST(NameMetricTest, AJobOrMeasurementNameIsMadeOneLineProtocolCanCarry) {
  NamingOptions options;
  options.job_as_measurement = true;
  ExpectName(NameMetric(options, "up", "#x"), "_#x", "up");
  ExpectName(NameMetric(options, "up", "\tx"), "_\tx", "up");
  ExpectName(NameMetric(options, "up", "\\"), "unknown", "up");
  ExpectName(NameMetric(options, "up", "a\\b\\\\"), "a\\b", "up");
  ExpectName(NameMetric(options, "up", "x#"), "x#", "up");
  options.measurement_name = "#prom";
  ExpectName(NameMetric(options, "up", "j"), "_#prom", "up");
}

// A producer streaming to the aggregator may name a family with any string: the split
// names are made carriable too (a measurement `#x` made the line a comment every backend
// skips, one of `\` escaped the comma after it).
TEST(NameMetricTest, SplitNamesAreMadeOnesLineProtocolCanCarry) {
  ExpectName(Split("#x_y", true), "_#x", "#x_y");
  ExpectName(Split("\\_abc", true), "unknown", "\\_abc");
  ExpectName(Split("\tmetric_tab", false), "_\tmetric", "tab");
  ExpectName(Split("#alone", true), "_#alone", "#alone");
  ExpectName(Split("ab_cd\\", true), "ab", "ab_cd");
  ExpectName(Split("ab_\\", false), "ab", "unknown");
}

TEST(NameMetricTest, MeasurementNameWinsOverJobAsMeasurement) {
  NamingOptions options;
  options.measurement_name = "prom_pushgateway";
  options.job_as_measurement = true;
  ExpectName(NameMetric(options, "up", "myjob"), "prom_pushgateway", "up");
}

}  // namespace
}  // namespace pushgate
