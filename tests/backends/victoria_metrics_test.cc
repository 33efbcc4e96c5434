// pushgate against a real VictoriaMetrics (Debian's victoria-metrics, started here on
// loopback), through both upload formats at once: one pushgate uploads line protocol to VM's
// InfluxDB endpoint /write and, fanned out, to a local receiver; another uploads remote write
// to /api/v1/write. The same push sent to both must show up in /api/v1/export as VM names
// each path's series (line protocol: `<measurement>_<field>`; remote write: the Prometheus
// names), with the grouping labels, values and millisecond timestamps.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/line_protocol/line_protocol.h"
#include "tests/backends/backend_util.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

using ::pushgate::testing::FileTail;
using ::pushgate::testing::FreePort;
using ::pushgate::testing::HttpRequestTo;
using ::pushgate::testing::HttpResult;
using ::pushgate::testing::ParseJson;
using ::pushgate::testing::PollUntil;
using ::pushgate::testing::Process;
using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;
using ::pushgate::testing::ScratchDir;
using ::pushgate::testing::UploadReceiver;
using ::pushgate::testing::UrlQueryEncode;

// A single-node victoria-metrics with its data under TEST_TMPDIR; killed when destroyed.
class VictoriaMetrics {
 public:
  VictoriaMetrics() : dir_(ScratchDir("victoria-metrics")), port_(FreePort()) {
    // Samples reach /api/v1/export once /internal/force_flush moved them out of VM's
    // in-memory buffers; -search.latencyOffset=0s also makes them visible to queries at once.
    process_ = std::make_unique<Process>(
        std::vector<std::string>{
            "/usr/bin/victoria-metrics", absl::StrCat("-httpListenAddr=127.0.0.1:", port_),
            "-storageDataPath=" + dir_ + "/data", "-search.latencyOffset=0s", "-loggerLevel=WARN"},
        dir_ + "/victoria-metrics.log");
  }

  std::string url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  std::string log() const { return FileTail(process_->log_path()); }

  // Flushes what VM buffered, then exports the series matching `selector` as points:
  // measurement = metric name, tags = the other labels, one field "value", ns timestamps.
  absl::StatusOr<std::vector<Point>> Export(const std::string& selector) {
    HttpResult flushed = HttpRequestTo("GET", url("/internal/force_flush"));
    if (flushed.status != 200) {
      return absl::UnavailableError(absl::StrCat("force_flush: ", flushed.status, flushed.error));
    }
    HttpResult exported =
        HttpRequestTo("GET", url("/api/v1/export?match[]=" + UrlQueryEncode(selector)));
    if (exported.status != 200) {
      return absl::UnavailableError(
          absl::StrCat("export: ", exported.status, exported.error, exported.body));
    }
    std::vector<Point> points;
    for (absl::string_view line : absl::StrSplit(exported.body, '\n', absl::SkipEmpty())) {
      absl::StatusOr<boost::json::value> series = ParseJson(line);
      if (!series.ok()) return series.status();
      Point base;
      for (const auto& [name, value] : series->as_object().at("metric").as_object()) {
        std::string text = boost::json::value_to<std::string>(value);
        if (name == "__name__") {
          base.measurement = text;
        } else {
          base.tags.emplace_back(std::string(name), text);
        }
      }
      const boost::json::array& values = series->as_object().at("values").as_array();
      const boost::json::array& timestamps = series->as_object().at("timestamps").as_array();
      for (size_t i = 0; i < values.size() && i < timestamps.size(); ++i) {
        Point point = base;
        point.fields.emplace_back("value", values[i].to_number<double>());
        point.timestamp_ns = timestamps[i].to_number<int64_t>() * 1000000;
        points.push_back(std::move(point));
      }
    }
    return points;
  }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

std::string PointsText(const std::vector<Point>& points) {
  std::string text;
  LineProtocolEncoder encoder;
  for (const Point& point : points) encoder.Append(point, &text);
  return text;
}

TEST(VictoriaMetricsTest, LineProtocolAndRemoteWritePushesAreQueryable) {
  VictoriaMetrics vm;
  ASSERT_TRUE(testing::WaitForHttp200(vm.url("/health"), absl::Seconds(30)).ok()) << vm.log();

  UploadReceiver fan_out_copy;
  Pushgate lineproto(PushgateOptions{
      vm.url("/write"), {}, {"--upload_url=" + fan_out_copy.url(), "--flush_interval=20ms"}});
  Pushgate remote_write(PushgateOptions{
      vm.url("/api/v1/write"), {}, {"--upload_format=remote_write", "--flush_interval=20ms"}});

  // Timestamps close to now: VM drops samples outside its retention period (1 month).
  const int64_t ts_ms = testing::NowMs() - 5000;
  const std::string ts = absl::StrCat(" ", ts_ms, "\n");
  const std::string body = absl::StrCat(
      "# TYPE http_requests_total counter\n",
      "http_requests_total{code=\"200\",path=\"/api v1\"} 1027", ts,
      "# TYPE process_open_fds gauge\n", "process_open_fds 12\n",  // gets the receive time
      "# TYPE rpc_duration_seconds summary\n", "rpc_duration_seconds{quantile=\"0.5\"} 0.05", ts,
      "rpc_duration_seconds_sum 17.5", ts, "rpc_duration_seconds_count 120", ts,
      "# TYPE request_latency_seconds histogram\n", "request_latency_seconds_bucket{le=\"0.1\"} 4",
      ts, "request_latency_seconds_bucket{le=\"+Inf\"} 10", ts, "request_latency_seconds_sum 3.5",
      ts, "request_latency_seconds_count 10", ts);
  auto push = [&body](Pushgate& pushgate, const std::string& job, int64_t* t0, int64_t* t1) {
    *t0 = absl::GetCurrentTimeNanos();
    HttpResult pushed =
        HttpRequestTo("PUT", absl::StrCat(pushgate.front_url(), "/metrics/job/", job, "/zone/eu"),
                      body, {"Content-Type: text/plain; version=0.0.4"});
    *t1 = absl::GetCurrentTimeNanos();
    EXPECT_EQ(pushed.status, 200) << pushed.body << pushed.error;
  };
  int64_t lp_t0, lp_t1, rw_t0, rw_t1;
  push(lineproto, "via_lineproto", &lp_t0, &lp_t1);
  push(remote_write, "via_remote_write", &rw_t0, &rw_t1);

  const std::string at = absl::StrCat(" ", ts_ms * 1000000, "\n");
  // The line-protocol path as pushgate writes it (DataKit naming) ...
  absl::StatusOr<std::vector<Point>> lp_points = ParseLineProtocol(absl::StrCat(
      "http,code=200,job=via_lineproto,path=/api\\ v1,zone=eu http_requests_total=1027", at,
      "process,job=via_lineproto,zone=eu process_open_fds=12 NOW\n",
      "rpc,job=via_lineproto,zone=eu rpc_duration_seconds_count=120,rpc_duration_seconds_sum=17.5",
      at, "rpc,job=via_lineproto,quantile=0.5,zone=eu rpc_duration_seconds=0.05", at,
      "request,job=via_lineproto,zone=eu "
      "request_latency_seconds_count=10,request_latency_seconds_sum=3.5",
      at, "request,job=via_lineproto,le=0.1,zone=eu request_latency_seconds_bucket=4", at,
      "request,job=via_lineproto,le=+Inf,zone=eu request_latency_seconds_bucket=10", at));
  ASSERT_TRUE(lp_points.ok()) << lp_points.status();
  // ... and as VM stores it: one series per field, named <measurement>_<field>.
  absl::StatusOr<std::vector<Point>> lp_series = ParseLineProtocol(absl::StrCat(
      "http_http_requests_total,code=200,job=via_lineproto,path=/api\\ v1,zone=eu value=1027", at,
      "process_process_open_fds,job=via_lineproto,zone=eu value=12 NOW\n",
      "rpc_rpc_duration_seconds_count,job=via_lineproto,zone=eu value=120", at,
      "rpc_rpc_duration_seconds_sum,job=via_lineproto,zone=eu value=17.5", at,
      "rpc_rpc_duration_seconds,job=via_lineproto,quantile=0.5,zone=eu value=0.05", at,
      "request_request_latency_seconds_count,job=via_lineproto,zone=eu value=10", at,
      "request_request_latency_seconds_sum,job=via_lineproto,zone=eu value=3.5", at,
      "request_request_latency_seconds_bucket,job=via_lineproto,le=0.1,zone=eu value=4", at,
      "request_request_latency_seconds_bucket,job=via_lineproto,le=+Inf,zone=eu value=10", at));
  ASSERT_TRUE(lp_series.ok()) << lp_series.status();
  // The remote-write path keeps the Prometheus names.
  absl::StatusOr<std::vector<Point>> rw_series = ParseLineProtocol(absl::StrCat(
      "http_requests_total,code=200,job=via_remote_write,path=/api\\ v1,zone=eu value=1027", at,
      "process_open_fds,job=via_remote_write,zone=eu value=12 NOW\n",
      "rpc_duration_seconds_count,job=via_remote_write,zone=eu value=120", at,
      "rpc_duration_seconds_sum,job=via_remote_write,zone=eu value=17.5", at,
      "rpc_duration_seconds,job=via_remote_write,quantile=0.5,zone=eu value=0.05", at,
      "request_latency_seconds_count,job=via_remote_write,zone=eu value=10", at,
      "request_latency_seconds_sum,job=via_remote_write,zone=eu value=3.5", at,
      "request_latency_seconds_bucket,job=via_remote_write,le=0.1,zone=eu value=4", at,
      "request_latency_seconds_bucket,job=via_remote_write,le=+Inf,zone=eu value=10", at));
  ASSERT_TRUE(rw_series.ok()) << rw_series.status();

  absl::StatusOr<std::vector<Point>> lp_actual, rw_actual;
  const bool arrived = PollUntil(absl::Seconds(30), [&] {
    lp_actual = vm.Export("{job=\"via_lineproto\"}");
    rw_actual = vm.Export("{job=\"via_remote_write\"}");
    return lp_actual.ok() && rw_actual.ok() && lp_actual->size() >= lp_series->size() &&
           rw_actual->size() >= rw_series->size();
  });
  ASSERT_TRUE(arrived) << "line protocol: "
                       << (lp_actual.ok() ? PointsText(*lp_actual) : lp_actual.status().ToString())
                       << "\nremote write: "
                       << (rw_actual.ok() ? PointsText(*rw_actual) : rw_actual.status().ToString())
                       << "\nvictoria-metrics log:\n"
                       << vm.log() << "\naggregator logs:\n"
                       << FileTail(lineproto.aggregator().log_path()) << "\n"
                       << FileTail(remote_write.aggregator().log_path());
  absl::SleepFor(absl::Milliseconds(300));  // time for anything unexpected to arrive
  lp_actual = vm.Export("{job=\"via_lineproto\"}");
  rw_actual = vm.Export("{job=\"via_remote_write\"}");
  ASSERT_TRUE(lp_actual.ok()) << lp_actual.status();
  ASSERT_TRUE(rw_actual.ok()) << rw_actual.status();

  // VM keeps milliseconds, so NOW is the receive time truncated to them.
  const absl::Status lp_same =
      ComparePoints(*lp_series, *lp_actual, lp_t0 / 1000000 * 1000000, lp_t1);
  EXPECT_TRUE(lp_same.ok()) << lp_same.message() << "\n" << PointsText(*lp_actual);
  const absl::Status rw_same =
      ComparePoints(*rw_series, *rw_actual, rw_t0 / 1000000 * 1000000, rw_t1);
  EXPECT_TRUE(rw_same.ok()) << rw_same.message() << "\n" << PointsText(*rw_actual);

  // The fan-out's second backend got the same push as exact line protocol.
  ASSERT_TRUE(fan_out_copy.WaitForLines(lp_points->size(), absl::Seconds(10)))
      << fan_out_copy.Received();
  absl::StatusOr<std::vector<Point>> copied = ParseLineProtocol(fan_out_copy.Received());
  ASSERT_TRUE(copied.ok()) << copied.status();
  const absl::Status copy_same = ComparePoints(*lp_points, *copied, lp_t0, lp_t1);
  EXPECT_TRUE(copy_same.ok()) << copy_same.message() << "\n" << fan_out_copy.Received();
}

}  // namespace
}  // namespace pushgate
