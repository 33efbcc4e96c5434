// End to end: pushes sent over HTTP to the real front come out of the real aggregator as
// line protocol at the upload URL (a local receiver) or in the embedded default file sink.
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/compression/compression.h"
#include "libs/line_protocol/line_protocol.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

using ::pushgate::testing::HttpRequestTo;
using ::pushgate::testing::HttpResult;
using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;
using ::pushgate::testing::UploadReceiver;
using ::testing::HasSubstr;

constexpr char kBody[] =
    "# TYPE http_requests_total counter\n"
    "http_requests_total{code=\"200\",instance=\"from-body\"} 1027 1700000000000\n"
    "# TYPE process_open_fds gauge\n"
    "process_open_fds 12\n";

// The points kBody must produce when pushed to /metrics/job/demo/instance@base64/<"a/b">.
constexpr char kExpected[] =
    "http,code=200,instance=a/b,job=demo http_requests_total=1027 1700000000000000000\n"
    "process,instance=a/b,job=demo process_open_fds=12 NOW\n";

// Pushes `body`, then waits for `expected` at the receiver and compares (NOW = the push's
// receive time, which lies between sending and the answer).
void PushAndExpect(Pushgate& pushgate, UploadReceiver& receiver, const std::string& body,
                   const std::vector<std::string>& headers, const std::string& expected) {
  size_t lines_before = 0;
  for (char c : receiver.Received()) lines_before += c == '\n';
  int64_t t0 = absl::GetCurrentTimeNanos();
  HttpResult result = HttpRequestTo(
      "PUT", pushgate.front_url() + "/metrics/job/demo/instance@base64/YS9i", body, headers);
  int64_t t1 = absl::GetCurrentTimeNanos();
  ASSERT_EQ(result.status, 200) << result.body << result.error;
  EXPECT_EQ(result.body, "");
  auto want = ParseLineProtocol(expected);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_TRUE(receiver.WaitForLines(lines_before + want->size(), absl::Seconds(10)))
      << "received so far:\n"
      << receiver.Received();
  std::string received = receiver.Received();
  size_t start = 0;
  for (size_t i = 0; i < lines_before; ++i) start = received.find('\n', start) + 1;
  auto got = ParseLineProtocol(received.substr(start));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(ComparePoints(*want, *got, t0, t1).ok())
      << ComparePoints(*want, *got, t0, t1) << "\nreceived:\n"
      << received.substr(start);
}

TEST(PushToUploadTest, PlainAndGzipTextPushesArriveAsExactPoints) {
  UploadReceiver receiver;
  Pushgate pushgate(PushgateOptions{receiver.url()});

  PushAndExpect(pushgate, receiver, kBody, {"Content-Type: text/plain; version=0.0.4"}, kExpected);

  std::string gzipped;
  ASSERT_TRUE(GzipCompress(kBody, &gzipped).ok());
  PushAndExpect(pushgate, receiver, gzipped, {"Content-Encoding: gzip"}, kExpected);

  // Both services account for what they did on their own /metrics.
  HttpResult front = HttpRequestTo("GET", pushgate.front_url() + "/metrics");
  EXPECT_THAT(
      front.body,
      HasSubstr("pushgate_front_requests_total{route=\"push\",method=\"PUT\",code=\"200\"} 2\n"));
  EXPECT_THAT(front.body, HasSubstr("pushgate_front_upstream_connected 1\n"));
  // One after the other, so each push went in a batch of its own.
  EXPECT_THAT(front.body, HasSubstr("pushgate_front_upstream_pushes_total 2\n"));
  EXPECT_THAT(front.body, HasSubstr("pushgate_front_upstream_batches_total 2\n"));
  HttpResult aggregator = HttpRequestTo("GET", pushgate.aggregator_metrics_url());
  EXPECT_THAT(aggregator.body, HasSubstr("pushgate_aggregator_pushes_total{method=\"PUT\"} 2\n"));
  EXPECT_THAT(aggregator.body, HasSubstr("pushgate_aggregator_upload_points_total{backend=\""));
  EXPECT_THAT(aggregator.body, HasSubstr("pushgate_aggregator_spool_unreleased_bytes "));
  // And say which build they run.
  EXPECT_THAT(front.body, HasSubstr("pushgate_front_build_info{version=\""));
  EXPECT_THAT(aggregator.body, HasSubstr("pushgate_aggregator_build_info{version=\""));
}

// A group pushed again and again, as cron jobs do: from the third push on the aggregator
// writes its lines from templates (--conversion_cache_bytes), each push with its own values,
// and a push with a NaN among them leaves that point out as always.
TEST(PushToUploadTest, RepeatedPushesOfAGroupArriveWithTheirOwnValues) {
  UploadReceiver receiver;
  Pushgate pushgate(PushgateOptions{receiver.url()});
  const auto body = [](const std::string& requests, const std::string& fds) {
    return absl::StrCat(
        "# TYPE http_requests_total counter\n"
        "http_requests_total{code=\"200\",instance=\"from-body\"} ",
        requests,
        " 1700000000000\n"
        "# TYPE process_open_fds gauge\n"
        "process_open_fds ",
        fds, "\n");
  };
  const auto expected = [](const std::string& requests, const std::string& fds) {
    std::string lines =
        absl::StrCat("http,code=200,instance=a/b,job=demo http_requests_total=", requests,
                     " 1700000000000000000\n");
    if (!fds.empty()) {
      absl::StrAppend(&lines, "process,instance=a/b,job=demo process_open_fds=", fds, " NOW\n");
    }
    return lines;
  };
  PushAndExpect(pushgate, receiver, body("1027", "12"), {}, expected("1027", "12"));
  PushAndExpect(pushgate, receiver, body("1028", "13"), {}, expected("1028", "13"));
  PushAndExpect(pushgate, receiver, body("1029.5", "14"), {}, expected("1029.5", "14"));
  PushAndExpect(pushgate, receiver, body("1030", "NaN"), {}, expected("1030", ""));
  PushAndExpect(pushgate, receiver, body("1e21", "-0"), {}, expected("1e21", "-0"));

  HttpResult aggregator = HttpRequestTo("GET", pushgate.aggregator_metrics_url());
  EXPECT_THAT(aggregator.body, HasSubstr("pushgate_aggregator_conversion_cache_hits_total 2\n"));
  EXPECT_THAT(aggregator.body, HasSubstr("pushgate_aggregator_conversion_cache_misses_total 3\n"));
  EXPECT_THAT(aggregator.body, HasSubstr("pushgate_aggregator_dropped_non_finite_total 1\n"));
  // The front wrote pushes 3 to 5 from the shape of push 2, its text but for the values.
  HttpResult front = HttpRequestTo("GET", pushgate.front_url() + "/metrics");
  EXPECT_THAT(front.body, HasSubstr("pushgate_front_text_shape_cache_hits_total 3\n"));
  EXPECT_THAT(front.body, HasSubstr("pushgate_front_text_shape_cache_misses_total 2\n"));
}

TEST(PushToUploadTest, RejectedPushUploadsNothing) {
  UploadReceiver receiver;
  Pushgate pushgate(PushgateOptions{receiver.url()});

  // The second line is malformed: the whole push is refused, its valid first line included.
  HttpResult bad = HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/demo",
                                 "good_metric 1\nbad_metric{x=\"1\" 2\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("line 2"));
  HttpResult bad_url =
      HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/demo/odd", "good_metric 1\n");
  EXPECT_EQ(bad_url.status, 400);

  // A valid push afterwards is the only thing that arrives.
  PushAndExpect(pushgate, receiver, "only_metric 5\n", {},
                "only,instance=a/b,job=demo only_metric=5 NOW\n");
  absl::SleepFor(absl::Milliseconds(300));  // Several flush intervals: nothing else comes.
  EXPECT_THAT(receiver.Received(), ::testing::Not(HasSubstr("good_metric")));
}

TEST(PushToUploadTest, DefaultSinkWritesLineProtocolUnderDataDir) {
  Pushgate pushgate(PushgateOptions{});
  HttpResult result = HttpRequestTo("POST", pushgate.front_url() + "/metrics/job/cron/instance/a",
                                    "done_total 3\n");
  ASSERT_EQ(result.status, 200) << result.body;
  std::string path = pushgate.data_dir() + "/points.lp";
  std::string contents;
  for (int i = 0; i < 200 && contents.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    contents = buffer.str();
  }
  auto got = ParseLineProtocol(contents);
  ASSERT_TRUE(got.ok()) << got.status() << contents;
  auto want = ParseLineProtocol("done,instance=a,job=cron done_total=3 NOW\n");
  EXPECT_TRUE(ComparePoints(*want, *got, 0, absl::GetCurrentTimeNanos()).ok()) << contents;
}

// The default sink's file is kept to about twice --file_sink_max_bytes: points.lp and the
// points.lp.1 it rotated into, every push in one or the other and none lost.
TEST(PushToUploadTest, DefaultSinkRotatesAndLosesNothing) {
  Pushgate pushgate(
      PushgateOptions{"", {}, {"--file_sink_max_bytes=300", "--flush_interval=10ms"}});
  const std::string path = pushgate.data_dir() + "/points.lp";
  const auto read = [](const std::string& file) {
    std::ifstream in(file);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  };
  // One at a time, each delivered before the next: one batch each, about 50 bytes.
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/rotate",
                            absl::StrCat("rotated_total ", i, "\n"))
                  .status,
              200);
    const std::string expected = absl::StrCat("rotated_total=", i, " ");
    for (int tries = 0; tries < 200 && !absl::StrContains(read(path), expected); ++tries) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_THAT(read(path), HasSubstr(expected));
  }
  const std::string current = read(path), previous = read(path + ".1");
  EXPECT_LE(current.size(), 300u);
  EXPECT_LE(previous.size(), 300u);
  EXPECT_FALSE(previous.empty());
  // The newest pushes, in order, across the two files; the oldest were rotated out.
  const std::string both = previous + current;
  size_t at = 0;
  int kept = 0;
  for (int i = 0; i < 12; ++i) {
    const size_t found = both.find(absl::StrCat("rotated_total=", i, " "));
    if (found == std::string::npos) {
      EXPECT_EQ(kept, 0) << "push " << i << " is missing between others:\n" << both;
      continue;
    }
    EXPECT_GE(found, at) << both;
    at = found;
    ++kept;
  }
  EXPECT_GE(kept, 6) << both;  // 600 bytes of about 50-byte lines
}

TEST(PushToUploadTest, RoutePrefixPrefixesEveryRoute) {
  UploadReceiver receiver;
  Pushgate pushgate(PushgateOptions{receiver.url(), {"--route_prefix=pushgateway/"}, {}});
  const std::string base = pushgate.front_url();
  EXPECT_EQ(HttpRequestTo("GET", base + "/pushgateway/-/healthy").status, 200);
  EXPECT_EQ(HttpRequestTo("PUT", base + "/metrics/job/p", "x 1\n").status, 404);
  HttpResult pushed = HttpRequestTo("PUT", base + "/pushgateway/metrics/job/p", "prefixed 1\n");
  EXPECT_EQ(pushed.status, 200) << pushed.body;
  EXPECT_TRUE(receiver.WaitForLines(1, absl::Seconds(10)));
  EXPECT_THAT(receiver.Received(), HasSubstr("prefixed,job=p prefixed=1 "));
}

// The DataKit-style environment variables configure both services; a flag given on the
// command line wins over its variable.
TEST(PushToUploadTest, EnvironmentVariablesConfigureAndFlagsWin) {
  setenv("ENV_INPUT_PUSHGATEWAY_ROUTE_PREFIX", "/gw", 1);
  setenv("ENV_INPUT_PUSHGATEWAY_JOB_AS_MEASUREMENT", "true", 1);
  setenv("ENV_INPUT_PUSHGATEWAY_KEEP_EXIST_METRIC_NAME", "false", 1);
  UploadReceiver receiver;
  {
    Pushgate pushgate(PushgateOptions{receiver.url(), {}, {"--keep_exist_metric_name=true"}});
    EXPECT_EQ(HttpRequestTo("PUT", pushgate.front_url() + "/gw/metrics/job/nightly",
                            "backup_bytes_total 5\n")
                  .status,
              200);
    EXPECT_TRUE(receiver.WaitForLines(1, absl::Seconds(10)));
  }
  unsetenv("ENV_INPUT_PUSHGATEWAY_ROUTE_PREFIX");
  unsetenv("ENV_INPUT_PUSHGATEWAY_JOB_AS_MEASUREMENT");
  unsetenv("ENV_INPUT_PUSHGATEWAY_KEEP_EXIST_METRIC_NAME");
  // Job as measurement from the environment; the whole name kept because the flag said so.
  EXPECT_THAT(receiver.Received(), HasSubstr("nightly,job=nightly backup_bytes_total=5 "));
}

TEST(PushToUploadTest, AggregatorDownMeans503WithRetryAfter) {
  UploadReceiver receiver;
  Pushgate pushgate(PushgateOptions{receiver.url()});
  pushgate.aggregator().Stop(9);
  HttpResult result = HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/demo", "x 1\n");
  EXPECT_EQ(result.status, 503);
  EXPECT_THAT(result.headers, HasSubstr("Retry-After:"));
  HttpResult ready = HttpRequestTo("GET", pushgate.front_url() + "/-/ready");
  EXPECT_EQ(ready.status, 503);
}

}  // namespace
}  // namespace pushgate
