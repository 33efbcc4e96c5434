// Runs every conformance vector in tests/testdata/conversion through the real services: the
// request is sent byte for byte (path unencoded, the vector's headers only, its body) to a
// running pushgate-front, whose aggregator uploads line protocol to a local receiver. The
// status must match, and the points that arrive for the push are compared as the vectors'
// README prescribes (parsed, as multisets, NOW within [sent, answered]). A refused push must
// upload nothing. One front+aggregator pair runs per distinct set of options.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "libs/line_protocol/line_protocol.h"
#include "tests/conformance/conversion_vector.pb.h"
#include "tests/conformance/vectors.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;
using ::pushgate::testing::UploadReceiver;

// Relative to the test's runfiles directory, where Bazel starts it.
// After the expected lines arrived (or at once when none are expected), how long to keep
// listening for points that should not be there: many flush intervals of 20 ms.
constexpr absl::Duration kGrace = absl::Milliseconds(300);

// The aggregator flags for a vector's options; only the options the vector sets are passed,
// so the others keep the services' own defaults (which the vectors assume).
std::vector<std::string> AggregatorFlags(const testing::ConversionVector::Options& o) {
  std::vector<std::string> flags;
  if (o.has_measurement_name()) flags.push_back("--measurement_name=" + o.measurement_name());
  auto bool_flag = [&](const char* name, bool value) {
    flags.push_back(absl::StrCat("--", name, "=", value ? "true" : "false"));
  };
  if (o.has_job_as_measurement()) bool_flag("job_as_measurement", o.job_as_measurement());
  if (o.has_keep_exist_metric_name()) {
    bool_flag("keep_exist_metric_name", o.keep_exist_metric_name());
  }
  if (o.has_honor_timestamps()) bool_flag("honor_timestamps", o.honor_timestamps());
  return flags;
}

// Sends one HTTP/1.1 request exactly as given (no encoding of the path, no headers beyond
// the caller's plus Host, Content-Length and Connection: close) and returns the status code.
// libcurl is not used because it normalizes paths and adds a Content-Type to POSTs.
absl::StatusOr<int> SendRaw(int port, const std::string& method, const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body) {
  std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                   "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
  absl::StrAppend(&request, "\r\n", body);

  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to port ", port));
  }
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      return absl::UnavailableError("send failed");
    }
    sent += n;
  }
  std::string response;
  char buffer[4096];
  // Only the status line is needed; the server closes after the response (Connection: close).
  while (response.find("\r\n") == std::string::npos) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    response.append(buffer, n);
  }
  close(fd);
  // "HTTP/1.1 200 OK"
  int status = 0;
  if (!absl::StartsWith(response, "HTTP/1.") || response.size() < 12 ||
      !absl::SimpleAtoi(response.substr(9, 3), &status)) {
    return absl::DataLossError(absl::StrCat("no HTTP response: '", response, "'"));
  }
  return status;
}

int PortOf(const std::string& url) {
  int port = 0;
  CHECK(absl::SimpleAtoi(url.substr(url.rfind(':') + 1), &port)) << url;
  return port;
}

size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The text after the first `lines` lines.
std::string AfterLines(const std::string& text, size_t lines) {
  size_t start = 0;
  for (size_t i = 0; i < lines; ++i) start = text.find('\n', start) + 1;
  return text.substr(start);
}

class ServicesVectorTest : public ::testing::TestWithParam<std::string> {
 protected:
  // One running pair per options set, shared by the vectors that use it.
  struct Instance {
    std::unique_ptr<UploadReceiver> receiver;  // declared first: outlives the pushgate
    std::unique_ptr<Pushgate> pushgate;
  };

  static std::map<std::string, Instance>& Instances() {
    static auto* instances = new std::map<std::string, Instance>();
    return *instances;
  }

  static Instance& InstanceFor(const std::vector<std::string>& flags) {
    Instance& instance = Instances()[absl::StrJoin(flags, " ")];
    if (instance.pushgate == nullptr) {
      instance.receiver = std::make_unique<UploadReceiver>();
      PushgateOptions options;
      options.upload_url = instance.receiver->url();
      options.aggregator_flags = flags;
      options.aggregator_flags.push_back("--flush_interval=20ms");
      instance.pushgate = std::make_unique<Pushgate>(options);
    }
    return instance;
  }

  static void TearDownTestSuite() { Instances().clear(); }
};

TEST_P(ServicesVectorTest, ServicesAnswerAndUploadTheExpectedPoints) {
  absl::StatusOr<testing::ConversionVector> vector = testing::ReadVector(GetParam());
  ASSERT_TRUE(vector.ok()) << vector.status();
  SCOPED_TRACE(absl::StrCat(vector->name(), ": ", vector->description()));
  ASSERT_THAT(vector->expect_status(), ::testing::AnyOf(200, 400));
  absl::StatusOr<std::vector<Point>> expected =
      ParseLineProtocol(absl::StrJoin(vector->expect_points(), "\n"));
  ASSERT_TRUE(expected.ok()) << expected.status();

  const testing::ConversionVector::Request& request = vector->request();
  std::string body = request.body();
  if (request.has_body_b64()) {
    ASSERT_TRUE(absl::Base64Unescape(request.body_b64(), &body)) << "body_b64 is not base64";
  }
  std::vector<std::pair<std::string, std::string>> headers(request.headers().begin(),
                                                           request.headers().end());
  std::sort(headers.begin(), headers.end());

  Instance& instance = InstanceFor(AggregatorFlags(vector->options()));
  UploadReceiver& receiver = *instance.receiver;
  const size_t lines_before = CountLines(receiver.Received());

  const int64_t t0 = absl::GetCurrentTimeNanos();
  absl::StatusOr<int> status = SendRaw(PortOf(instance.pushgate->front_url()), request.method(),
                                       request.path(), headers, body);
  const int64_t t1 = absl::GetCurrentTimeNanos();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, vector->expect_status());

  if (!expected->empty()) {
    receiver.WaitForLines(lines_before + expected->size(), absl::Seconds(10));
  }
  absl::SleepFor(kGrace);
  const std::string arrived = AfterLines(receiver.Received(), lines_before);
  absl::StatusOr<std::vector<Point>> actual = ParseLineProtocol(arrived);
  ASSERT_TRUE(actual.ok()) << actual.status() << "\nuploaded:\n" << arrived;
  const absl::Status same = ComparePoints(*expected, *actual, t0, t1);
  EXPECT_TRUE(same.ok()) << same.message() << "\nuploaded:\n" << arrived;
}

INSTANTIATE_TEST_SUITE_P(Vectors, ServicesVectorTest, ::testing::ValuesIn(testing::VectorFiles()),
                         testing::VectorTestName);

// Guards against the data dependency going missing, which would leave nothing to run.
TEST(ServicesVectorFilesTest, AllVectorsArePresent) { testing::ExpectVectorFilesPresent(); }

}  // namespace
}  // namespace pushgate
