// pushgate against a real Prometheus (Debian's prometheus 2.x, started here on loopback with
// its remote-write receiver): with --upload_format=remote_write a push of every metric type
// goes through the real front and aggregator to /api/v1/write, and PromQL over HTTP must
// show the Prometheus-named series, their labels (grouping labels winning over the sample's
// own), values (NaN included) and millisecond timestamps.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/line_protocol/line_protocol.h"
#include "tests/backends/backend_util.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

using ::pushgate::testing::FetchJson;
using ::pushgate::testing::FileTail;
using ::pushgate::testing::FreePort;
using ::pushgate::testing::HttpRequestTo;
using ::pushgate::testing::HttpResult;
using ::pushgate::testing::PollUntil;
using ::pushgate::testing::Process;
using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;
using ::pushgate::testing::ScratchDir;
using ::pushgate::testing::UrlQueryEncode;

// A prometheus with no scrape jobs, its TSDB under TEST_TMPDIR; killed when destroyed.
class Prometheus {
 public:
  Prometheus() : dir_(ScratchDir("prometheus")), port_(FreePort()) {
    testing::WriteFileOrDie(dir_ + "/prometheus.yml", "global:\n  scrape_interval: 1m\n");
    // 2.42 has --web.enable-remote-write-receiver (the older
    // --enable-feature=remote-write-receiver is deprecated there).
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + dir_ + "/prometheus.yml",
                                 "--storage.tsdb.path=" + dir_ + "/data",
                                 absl::StrCat("--web.listen-address=127.0.0.1:", port_),
                                 "--web.enable-remote-write-receiver", "--log.level=warn"},
        dir_ + "/prometheus.log");
  }

  std::string url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  std::string log() const { return FileTail(process_->log_path()); }

  // The "data.result" array of an instant query.
  absl::StatusOr<boost::json::array> Query(const std::string& promql) {
    absl::StatusOr<boost::json::value> answer =
        FetchJson(url("/api/v1/query?query=" + UrlQueryEncode(promql)));
    if (!answer.ok()) return answer.status();
    return answer->as_object().at("data").as_object().at("result").as_array();
  }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

// The samples of a range-vector query's matrix as points: measurement = metric name, tags =
// the other labels, one field "value", timestamp in ns (Prometheus keeps milliseconds).
std::vector<Point> PointsOf(const boost::json::array& matrix) {
  std::vector<Point> points;
  for (const auto& series_value : matrix) {
    const boost::json::object& series = series_value.as_object();
    Point base;
    for (const auto& [name, value] : series.at("metric").as_object()) {
      std::string text = boost::json::value_to<std::string>(value);
      if (name == "__name__") {
        base.measurement = text;
      } else {
        base.tags.emplace_back(std::string(name), text);
      }
    }
    for (const auto& sample : series.at("values").as_array()) {
      Point point = base;
      const double seconds = sample.as_array().at(0).to_number<double>();
      point.timestamp_ns = std::llround(seconds * 1000) * 1000000;
      double value = 0;
      CHECK(absl::SimpleAtod(boost::json::value_to<std::string>(sample.as_array().at(1)), &value));
      point.fields.emplace_back("value", value);
      points.push_back(std::move(point));
    }
  }
  return points;
}

TEST(PrometheusRemoteWriteTest, PushOfEveryTypeIsQueryableWithPrometheusNamesAndLabels) {
  Prometheus prometheus;
  ASSERT_TRUE(testing::WaitForHttp200(prometheus.url("/-/ready"), absl::Seconds(30)).ok())
      << prometheus.log();
  Pushgate pushgate(PushgateOptions{prometheus.url("/api/v1/write"),
                                    {},
                                    {"--upload_format=remote_write", "--flush_interval=20ms"}});

  // Sample timestamps close to now: Prometheus refuses samples outside its head block.
  const int64_t ts_ms = testing::NowMs() - 5000;
  const std::string ts = absl::StrCat(" ", ts_ms, "\n");
  const std::string body = absl::StrCat(
      "# TYPE http_requests_total counter\n",
      "http_requests_total{code=\"200\",path=\"/api v1,x=y\"} 1027", ts,
      // The grouping key's instance wins over the sample's own.
      "http_requests_total{code=\"500\",path=\"/api v1,x=y\",instance=\"from-body\"} 3", ts,
      "# TYPE process_open_fds gauge\n", "process_open_fds 12\n",  // gets the receive time
      "# TYPE last_run_ratio gauge\n", "last_run_ratio NaN", ts,
      "# TYPE rpc_duration_seconds summary\n", "rpc_duration_seconds{quantile=\"0.5\"} 0.05", ts,
      "rpc_duration_seconds{quantile=\"0.99\"} 0.3", ts, "rpc_duration_seconds_sum 17.5", ts,
      "rpc_duration_seconds_count 120", ts, "# TYPE request_latency_seconds histogram\n",
      "request_latency_seconds_bucket{le=\"0.1\"} 4", ts,
      "request_latency_seconds_bucket{le=\"1\"} 9", ts,
      "request_latency_seconds_bucket{le=\"+Inf\"} 10", ts, "request_latency_seconds_sum 3.5", ts,
      "request_latency_seconds_count 10", ts);
  const int64_t t0 = absl::GetCurrentTimeNanos();
  HttpResult pushed = HttpRequestTo(
      "PUT",
      pushgate.front_url() + "/metrics/job/batch/instance/host-1/zone@base64/ZXUgd2VzdA==", body,
      {"Content-Type: text/plain; version=0.0.4"});
  const int64_t t1 = absl::GetCurrentTimeNanos();
  ASSERT_EQ(pushed.status, 200) << pushed.body << pushed.error;

  // Grouping labels instance=host-1, job=batch, zone="eu west" on every series.
  const std::string at = absl::StrCat(" ", ts_ms * 1000000, "\n");
  const std::string group = "instance=host-1,job=batch,zone=eu\\ west";
  const std::string path = "path=/api\\ v1\\,x\\=y";
  absl::StatusOr<std::vector<Point>> expected = ParseLineProtocol(
      absl::StrCat("http_requests_total,code=200,", group, ",", path, " value=1027", at,
                   "http_requests_total,code=500,", group, ",", path, " value=3", at,  //
                   "process_open_fds,", group, " value=12 NOW\n",                      //
                   "rpc_duration_seconds,", group, ",quantile=0.5 value=0.05", at,     //
                   "rpc_duration_seconds,", group, ",quantile=0.99 value=0.3", at,     //
                   "rpc_duration_seconds_sum,", group, " value=17.5", at,              //
                   "rpc_duration_seconds_count,", group, " value=120", at,             //
                   "request_latency_seconds_bucket,", group, ",le=0.1 value=4", at,
                   "request_latency_seconds_bucket,", group, ",le=1 value=9", at,
                   "request_latency_seconds_bucket,", group, ",le=+Inf value=10", at,
                   "request_latency_seconds_sum,", group, " value=3.5", at,  //
                   "request_latency_seconds_count,", group, " value=10", at));
  ASSERT_TRUE(expected.ok()) << expected.status();

  // Every sample of the push, with its own timestamp.
  const std::string promql = "{job=\"batch\"}[10m]";
  absl::StatusOr<boost::json::array> matrix;
  const bool arrived = PollUntil(absl::Seconds(20), [&] {
    matrix = prometheus.Query(promql);
    return matrix.ok() && matrix->size() >= expected->size() + 1;
  });
  ASSERT_TRUE(arrived) << (matrix.ok() ? boost::json::serialize(*matrix)
                                       : std::string(matrix.status().message()))
                       << "\nprometheus log:\n"
                       << prometheus.log() << "\naggregator log:\n"
                       << FileTail(pushgate.aggregator().log_path());
  absl::SleepFor(absl::Milliseconds(300));  // time for anything unexpected to arrive
  matrix = prometheus.Query(promql);
  ASSERT_TRUE(matrix.ok()) << matrix.status();

  // NaN is stored as NaN (no equality to compare it with), so it is checked on its own.
  std::vector<Point> actual;
  std::vector<Point> nan_points;
  for (Point& point : PointsOf(*matrix)) {
    (point.measurement == "last_run_ratio" ? nan_points : actual).push_back(std::move(point));
  }
  const absl::Status same = ComparePoints(*expected, actual, t0 / 1000000 * 1000000, t1);
  EXPECT_TRUE(same.ok()) << same.message() << "\n" << boost::json::serialize(*matrix);
  ASSERT_EQ(nan_points.size(), 1u) << boost::json::serialize(*matrix);
  EXPECT_TRUE(std::isnan(nan_points[0].fields.at(0).second));
  EXPECT_EQ(nan_points[0].timestamp_ns, ts_ms * 1000000);
  EXPECT_THAT(nan_points[0].tags,
              ::testing::UnorderedElementsAre(::testing::Pair("instance", "host-1"),
                                              ::testing::Pair("job", "batch"),
                                              ::testing::Pair("zone", "eu west")));

  // The series API sees the same series names.
  absl::StatusOr<boost::json::value> names =
      FetchJson(prometheus.url("/api/v1/label/__name__/values"));
  ASSERT_TRUE(names.ok()) << names.status();
  std::vector<std::string> name_list;
  for (const auto& name : names->as_object().at("data").as_array()) {
    name_list.push_back(boost::json::value_to<std::string>(name));
  }
  EXPECT_THAT(name_list, ::testing::UnorderedElementsAre(
                             "http_requests_total", "last_run_ratio", "process_open_fds",
                             "request_latency_seconds_bucket", "request_latency_seconds_count",
                             "request_latency_seconds_sum", "rpc_duration_seconds",
                             "rpc_duration_seconds_count", "rpc_duration_seconds_sum"));
}

}  // namespace
}  // namespace pushgate
