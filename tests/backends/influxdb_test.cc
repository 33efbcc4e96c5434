// pushgate against a real InfluxDB 1.x (Debian's influxd, started here on loopback): a push
// of every metric type with grouping labels goes through the real front and aggregator to
// InfluxDB's /write (gzip line protocol), and InfluxQL over HTTP must show the measurements,
// tags, float fields and nanosecond timestamps that conversion.md prescribes.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/line_protocol/line_protocol.h"
#include "tests/backends/backend_util.h"
#include "tests/backends/influxdb_server.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

using ::pushgate::testing::FileTail;
using ::pushgate::testing::HttpRequestTo;
using ::pushgate::testing::HttpResult;
using ::pushgate::testing::PollUntil;
using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;

constexpr char kDatabase[] = "pushgate";

// The points of every series in the answer to a `SELECT * ... GROUP BY *`: empty tag values
// (tag keys a series lacks) and null fields (fields of other series) are left out.
std::vector<Point> PointsOf(const boost::json::array& results) {
  std::vector<Point> points;
  for (const auto& result : results) {
    const boost::json::value* series_list = result.as_object().if_contains("series");
    if (series_list == nullptr) continue;
    for (const auto& series_value : series_list->as_array()) {
      const boost::json::object& series = series_value.as_object();
      Point base;
      base.measurement = boost::json::value_to<std::string>(series.at("name"));
      if (const auto* tags = series.if_contains("tags")) {
        for (const auto& [key, value] : tags->as_object()) {
          std::string text = boost::json::value_to<std::string>(value);
          if (!text.empty()) base.tags.emplace_back(std::string(key), text);
        }
      }
      const boost::json::array& columns = series.at("columns").as_array();
      for (const auto& row_value : series.at("values").as_array()) {
        const boost::json::array& row = row_value.as_array();
        Point point = base;
        point.timestamp_ns = row.at(0).to_number<int64_t>();
        for (size_t i = 1; i < row.size(); ++i) {
          if (row[i].is_null()) continue;
          point.fields.emplace_back(boost::json::value_to<std::string>(columns.at(i)),
                                    row[i].to_number<double>());
        }
        points.push_back(std::move(point));
      }
    }
  }
  return points;
}

// Every metric type, with sample labels that need escaping in line protocol; the samples
// carry a timestamp except the gauge, which gets the push's receive time.
constexpr char kBody[] =
    "# TYPE http_requests_total counter\n"
    "http_requests_total{code=\"200\",path=\"/api v1,x=y\"} 1027 1700000000123\n"
    "http_requests_total{code=\"500\",path=\"/api v1,x=y\"} 3 1700000000123\n"
    "# TYPE process_open_fds gauge\n"
    "process_open_fds 12\n"
    "# TYPE rpc_duration_seconds summary\n"
    "rpc_duration_seconds{quantile=\"0.5\"} 0.05 1700000000123\n"
    "rpc_duration_seconds{quantile=\"0.99\"} 0.3 1700000000123\n"
    "rpc_duration_seconds_sum 17.5 1700000000123\n"
    "rpc_duration_seconds_count 120 1700000000123\n"
    "# TYPE request_latency_seconds histogram\n"
    "request_latency_seconds_bucket{le=\"0.1\"} 4 1700000000123\n"
    "request_latency_seconds_bucket{le=\"1\"} 9 1700000000123\n"
    "request_latency_seconds_bucket{le=\"+Inf\"} 10 1700000000123\n"
    "request_latency_seconds_sum 3.5 1700000000123\n"
    "request_latency_seconds_count 10 1700000000123\n";

// Pushed to /metrics/job/batch/instance/host-1/zone@base64/ZXUgd2VzdA== ("eu west").
constexpr char kExpected[] =
    "http,code=200,instance=host-1,job=batch,path=/api\\ v1\\,x\\=y,zone=eu\\ west "
    "http_requests_total=1027 1700000000123000000\n"
    "http,code=500,instance=host-1,job=batch,path=/api\\ v1\\,x\\=y,zone=eu\\ west "
    "http_requests_total=3 1700000000123000000\n"
    "process,instance=host-1,job=batch,zone=eu\\ west process_open_fds=12 NOW\n"
    "rpc,instance=host-1,job=batch,zone=eu\\ west "
    "rpc_duration_seconds_count=120,rpc_duration_seconds_sum=17.5 1700000000123000000\n"
    "rpc,instance=host-1,job=batch,quantile=0.5,zone=eu\\ west rpc_duration_seconds=0.05 "
    "1700000000123000000\n"
    "rpc,instance=host-1,job=batch,quantile=0.99,zone=eu\\ west rpc_duration_seconds=0.3 "
    "1700000000123000000\n"
    "request,instance=host-1,job=batch,zone=eu\\ west "
    "request_latency_seconds_count=10,request_latency_seconds_sum=3.5 1700000000123000000\n"
    "request,instance=host-1,job=batch,le=0.1,zone=eu\\ west request_latency_seconds_bucket=4 "
    "1700000000123000000\n"
    "request,instance=host-1,job=batch,le=1,zone=eu\\ west request_latency_seconds_bucket=9 "
    "1700000000123000000\n"
    "request,instance=host-1,job=batch,le=+Inf,zone=eu\\ west request_latency_seconds_bucket=10 "
    "1700000000123000000\n";

// A running InfluxDB with an empty database kDatabase, for each test.
class InfluxDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(influx.Start().ok()) << influx.log();
    ASSERT_TRUE(influx.Query(absl::StrCat("CREATE DATABASE ", kDatabase), "POST").ok())
        << influx.log();
  }
  std::string WriteUrl() const { return influx.url(absl::StrCat("/write?db=", kDatabase)); }

  testing::InfluxDbServer influx;
};

TEST_F(InfluxDbTest, PushOfEveryTypeIsQueryableWithTagsFieldsAndTimestamps) {
  Pushgate pushgate(PushgateOptions{WriteUrl(), {}, {"--flush_interval=20ms"}});
  const int64_t t0 = absl::GetCurrentTimeNanos();
  HttpResult pushed = HttpRequestTo(
      "PUT",
      pushgate.front_url() + "/metrics/job/batch/instance/host-1/zone@base64/ZXUgd2VzdA==", kBody,
      {"Content-Type: text/plain; version=0.0.4"});
  const int64_t t1 = absl::GetCurrentTimeNanos();
  ASSERT_EQ(pushed.status, 200) << pushed.body << pushed.error;

  absl::StatusOr<std::vector<Point>> expected = ParseLineProtocol(kExpected);
  ASSERT_TRUE(expected.ok()) << expected.status();
  const std::string select = "SELECT * FROM /.*/ GROUP BY *";
  absl::StatusOr<boost::json::array> answer;
  const bool arrived = PollUntil(absl::Seconds(20), [&] {
    answer = influx.Query(select, "GET", kDatabase);
    return answer.ok() && PointsOf(*answer).size() >= expected->size();
  });
  ASSERT_TRUE(arrived) << (answer.ok() ? boost::json::serialize(*answer)
                                       : std::string(answer.status().message()))
                       << "\ninfluxd log:\n"
                       << influx.log() << "\naggregator log:\n"
                       << FileTail(pushgate.aggregator().log_path());
  // Anything beyond the expected points would have had time to arrive by now.
  absl::SleepFor(absl::Milliseconds(300));
  answer = influx.Query(select, "GET", kDatabase);
  ASSERT_TRUE(answer.ok()) << answer.status();
  const absl::Status same = ComparePoints(*expected, PointsOf(*answer), t0, t1);
  EXPECT_TRUE(same.ok()) << same.message() << "\n" << boost::json::serialize(*answer);

  // Every field was written as a float (no `i` suffix), so later pushes of the same metric
  // with fractional values cannot hit a field type conflict.
  absl::StatusOr<boost::json::array> field_keys = influx.Query("SHOW FIELD KEYS", "GET", kDatabase);
  ASSERT_TRUE(field_keys.ok()) << field_keys.status();
  std::vector<std::string> fields;
  for (const auto& series : field_keys->at(0).as_object().at("series").as_array()) {
    for (const auto& row : series.as_object().at("values").as_array()) {
      fields.push_back(absl::StrCat(boost::json::value_to<std::string>(row.as_array().at(0)), ":",
                                    boost::json::value_to<std::string>(row.as_array().at(1))));
    }
  }
  EXPECT_THAT(fields,
              ::testing::UnorderedElementsAre(
                  "http_requests_total:float", "process_open_fds:float",
                  "rpc_duration_seconds:float", "rpc_duration_seconds_count:float",
                  "rpc_duration_seconds_sum:float", "request_latency_seconds_bucket:float",
                  "request_latency_seconds_count:float", "request_latency_seconds_sum:float"));
}

// InfluxDB refuses a point whose series key is over 64 KiB, and repeats the line in its
// X-Influxdb-Error header, which curl cannot read when a label value holds a NUL byte. That
// push is dropped; the pushes after it arrive (they were held back for good, retried behind
// it as if the network had failed).
TEST_F(InfluxDbTest, APushInfluxDbRefusesIsDroppedAndThePushesAfterItArrive) {
  Pushgate pushgate(PushgateOptions{WriteUrl(), {}, {"--flush_interval=20ms"}});

  const std::string value = std::string("a\0", 2) + std::string(15000, 'x');
  std::string labels;
  for (int i = 0; i < 5; ++i) absl::StrAppend(&labels, i ? "," : "", "l", i, "=\"", value, "\"");
  HttpResult pushed = HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/poison",
                                    absl::StrCat("poison_total{", labels, "} 1\n"));
  ASSERT_EQ(pushed.status, 200) << pushed.body << pushed.error;
  // Its upload is refused before the next push comes, so they cannot share a request.
  const bool refused = PollUntil(absl::Seconds(20), [&] {
    return absl::StrContains(FileTail(pushgate.aggregator().log_path()), "HTTP 400");
  });
  ASSERT_TRUE(refused) << FileTail(pushgate.aggregator().log_path());
  pushed = HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/after", "after_total 7\n");
  ASSERT_EQ(pushed.status, 200) << pushed.body << pushed.error;

  absl::StatusOr<boost::json::array> answer;
  const bool arrived = PollUntil(absl::Seconds(20), [&] {
    answer = influx.Query("SELECT * FROM after GROUP BY *", "GET", kDatabase);
    return answer.ok() && PointsOf(*answer).size() == 1;
  });
  EXPECT_TRUE(arrived) << "aggregator log:\n" << FileTail(pushgate.aggregator().log_path());
  answer = influx.Query("SELECT * FROM poison GROUP BY *", "GET", kDatabase);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_THAT(PointsOf(*answer), ::testing::IsEmpty());
}

// Remote write sent to InfluxDB's /write by mistake: InfluxDB takes the empty upload that
// would reveal it, then refuses every request. The pushes stay in the spool, the log names the
// flag, and once it is fixed they all arrive.
TEST_F(InfluxDbTest, RemoteWriteSentToInfluxDbWaitsForTheFormatToBeFixed) {
  Pushgate pushgate(
      PushgateOptions{WriteUrl(), {}, {"--upload_format=remote_write", "--flush_interval=20ms"}});
  for (int i = 0; i < 3; ++i) {
    const HttpResult pushed =
        HttpRequestTo("PUT", absl::StrCat(pushgate.front_url(), "/metrics/job/j", i),
                      absl::StrCat("kept_total ", i, "\n"));
    ASSERT_EQ(pushed.status, 200) << pushed.body << pushed.error;
  }
  const bool named = PollUntil(absl::Seconds(20), [&] {
    return absl::StrContains(FileTail(pushgate.aggregator().log_path()), "check --upload_format");
  });
  ASSERT_TRUE(named) << FileTail(pushgate.aggregator().log_path());

  pushgate.RestartAggregator({"--upload_format=lineproto", "--flush_interval=20ms"});
  absl::StatusOr<boost::json::array> answer;
  const bool arrived = PollUntil(absl::Seconds(20), [&] {
    answer = influx.Query("SELECT * FROM kept GROUP BY *", "GET", kDatabase);
    return answer.ok() && PointsOf(*answer).size() == 3;
  });
  EXPECT_TRUE(arrived) << "aggregator log:\n" << FileTail(pushgate.aggregator().log_path());
}

// InfluxDB 1.x takes remote write too, at /api/v1/prom/write, and refuses there what its
// retention policy does not keep: that refusal is about the data, so only that push is
// dropped and the pushes after it arrive.
TEST_F(InfluxDbTest, ItsRemoteWriteEndpointRefusesDataLikeAnyBackend) {
  ASSERT_TRUE(influx.Query("CREATE DATABASE hour WITH DURATION 1h", "POST").ok()) << influx.log();
  Pushgate pushgate(PushgateOptions{influx.url("/api/v1/prom/write?db=hour"),
                                    {},
                                    {"--upload_format=remote_write", "--flush_interval=20ms"}});
  const auto push = [&](const std::string& job, const std::string& body) {
    const HttpResult pushed =
        HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/" + job, body);
    EXPECT_EQ(pushed.status, 200) << pushed.body << pushed.error;
  };
  const auto points = [&](const std::string& measurement) {
    absl::StatusOr<boost::json::array> answer =
        influx.Query(absl::StrCat("SELECT * FROM ", measurement, " GROUP BY *"), "GET", "hour");
    return answer.ok() ? PointsOf(*answer).size() : 0;
  };
  push("a", "before_total 1\n");
  ASSERT_TRUE(PollUntil(absl::Seconds(20), [&] { return points("before_total") == 1; }))
      << FileTail(pushgate.aggregator().log_path());
  const int64_t two_hours_ago_ms = absl::ToUnixMillis(absl::Now() - absl::Hours(2));
  push("b", absl::StrCat("too_old_total 1 ", two_hours_ago_ms, "\n"));
  ASSERT_TRUE(PollUntil(absl::Seconds(20), [&] {
    return absl::StrContains(FileTail(pushgate.aggregator().log_path()), "permanently rejected");
  })) << FileTail(pushgate.aggregator().log_path());
  push("c", "after_total 1\n");
  EXPECT_TRUE(PollUntil(absl::Seconds(20), [&] { return points("after_total") == 1; }))
      << FileTail(pushgate.aggregator().log_path());
  EXPECT_EQ(points("too_old_total"), 0u);
}

}  // namespace
}  // namespace pushgate
