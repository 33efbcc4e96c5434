#include "libs/uploader/uploader.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/compression/compression.h"

namespace pushgate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

// ---------------------------------------------------------------------------------------
// A tiny blocking HTTP/1.1 server on loopback: one connection at a time (enough for a sink's
// single keep-alive handle), scripted replies, every request recorded.

class TestHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lower-cased names
    std::string body;
    int connection = 0;  // which accepted connection (1-based) carried it
  };
  struct Reply {
    int status = 200;
    std::string body;
    std::string retry_after;  // Retry-After header value, if not empty
    std::string raw_headers;  // more header lines, each ending in "\r\n", sent as they are
    absl::Duration delay = absl::ZeroDuration();
  };

  TestHttpServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~TestHttpServer() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (conn_fd_ >= 0) shutdown(conn_fd_, SHUT_RDWR);
    }
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }

  std::string Url(absl::string_view target = "/write") const {
    return absl::StrCat("http://127.0.0.1:", port_, target);
  }

  // Replies are used in order; with none queued, the server answers 200.
  void Enqueue(Reply reply) {
    absl::MutexLock lock(&mu_);
    replies_.push_back(std::move(reply));
  }
  void Enqueue(int status, std::string body = "") {
    Reply r;
    r.status = status;
    r.body = std::move(body);
    Enqueue(std::move(r));
  }

  std::vector<Request> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  int connections() const {
    absl::MutexLock lock(&mu_);
    return connections_;
  }

 private:
  void Serve() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        return;
      }
      int connection;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) {
          close(fd);
          return;
        }
        conn_fd_ = fd;
        connection = ++connections_;
      }
      HandleConnection(fd, connection);
      {
        absl::MutexLock lock(&mu_);
        conn_fd_ = -1;
      }
      close(fd);
    }
  }

  static bool ReadMore(int fd, std::string* buf) {
    char chunk[16384];
    for (;;) {
      const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf->append(chunk, n);
      return true;
    }
  }

  void HandleConnection(int fd, int connection) {
    std::string buf;
    for (;;) {
      size_t header_end;
      while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!ReadMore(fd, &buf)) return;
      }
      Request request;
      request.connection = connection;
      std::vector<std::string> lines = absl::StrSplit(buf.substr(0, header_end), "\r\n");
      std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
      request.method = first[0];
      request.target = first.size() > 1 ? first[1] : "";
      size_t content_length = 0;
      for (size_t i = 1; i < lines.size(); ++i) {
        const size_t colon = lines[i].find(':');
        if (colon == std::string::npos) continue;
        const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
        const std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
        request.headers[name] = value;
        if (name == "content-length") {
          EXPECT_TRUE(absl::SimpleAtoi(value, &content_length));
        }
      }
      buf.erase(0, header_end + 4);
      while (buf.size() < content_length) {
        if (!ReadMore(fd, &buf)) return;
      }
      request.body = buf.substr(0, content_length);
      buf.erase(0, content_length);

      Reply reply;
      {
        absl::MutexLock lock(&mu_);
        requests_.push_back(request);
        if (!replies_.empty()) {
          reply = replies_.front();
          replies_.pop_front();
        }
      }
      absl::SleepFor(reply.delay);
      std::string response =
          absl::StrCat("HTTP/1.1 ", reply.status, " Scripted\r\n",
                       "Content-Type: text/plain\r\nContent-Length: ", reply.body.size(), "\r\n");
      if (!reply.retry_after.empty()) {
        absl::StrAppend(&response, "Retry-After: ", reply.retry_after, "\r\n");
      }
      absl::StrAppend(&response, reply.raw_headers, "\r\n", reply.body);
      if (send(fd, response.data(), response.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(response.size())) {
        return;
      }
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int conn_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Reply> replies_ ABSL_GUARDED_BY(mu_);
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
};

std::string Gunzip(absl::string_view body) {
  std::string out;
  const absl::Status s = Decompress(ContentEncoding::kGzip, body, 64 << 20, &out);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// A port on loopback that nothing listens on.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::string> Lines(absl::string_view body) {
  std::vector<std::string> lines = absl::StrSplit(body, '\n', absl::SkipEmpty());
  return lines;
}

// ---------------------------------------------------------------------------------------
// HTTP sink

TEST(HttpSinkTest, PostsGzipBodyWithHeaders) {
  TestHttpServer server;
  HttpSinkOptions options;
  options.url = server.Url("/v1/write/metric?precision=ns");
  options.token = "s3cret";
  options.extra_headers = {"X-Datakit-Source: pushgate"};
  auto sink = MakeHttpSink(options);
  const std::string lines = "cpu,host=a usage=1 1000\nmem,host=a used=2 1000\n";
  ASSERT_TRUE(sink->Send(lines).ok());

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/write/metric?precision=ns");
  EXPECT_EQ(r.headers.at("content-encoding"), "gzip");
  EXPECT_EQ(r.headers.at("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.headers.at("authorization"), "Token s3cret");
  EXPECT_EQ(r.headers.at("x-datakit-source"), "pushgate");
  EXPECT_EQ(Gunzip(r.body), lines);
}

TEST(HttpSinkTest, EveryGzipLevelSendsABodyThatDecodesToTheLines) {
  std::string lines;
  for (int i = 0; i < 2000; ++i) {
    absl::StrAppend(&lines, "http,code=", 200 + i % 5, ",host=h", i % 7, " requests_total=", i, " ",
                    1700000000000000000 + i, "\n");
  }
  for (int level : {HttpSinkOptions::kFastGzip, 1, 6, 9}) {
    TestHttpServer server;
    HttpSinkOptions options;
    options.url = server.Url();
    options.gzip_level = level;
    auto sink = MakeHttpSink(options);
    ASSERT_TRUE(sink->Send(lines).ok()) << "level " << level;
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].headers.at("content-encoding"), "gzip");
    EXPECT_EQ(Gunzip(requests[0].body), lines) << "level " << level;
    EXPECT_LT(requests[0].body.size() * 5, lines.size()) << "level " << level;
  }
}

TEST(HttpSinkTest, PlainBodyWhenGzipOffAndNoAuthorizationWithoutToken) {
  TestHttpServer server;
  HttpSinkOptions options;
  options.url = server.Url();
  options.gzip = false;
  options.content_type = "application/x-protobuf";
  auto sink = MakeHttpSink(options);
  // Large enough that curl would ask for "100-continue" if not told otherwise.
  const std::string body(3 << 20, 'x');
  ASSERT_TRUE(sink->Send(body).ok());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body, body);
  EXPECT_EQ(requests[0].headers.count("content-encoding"), 0u);
  EXPECT_EQ(requests[0].headers.count("authorization"), 0u);
  EXPECT_EQ(requests[0].headers.count("expect"), 0u);
  EXPECT_EQ(requests[0].headers.at("content-type"), "application/x-protobuf");
}

TEST(HttpSinkTest, MapsStatusesToRetryableOrPermanent) {
  TestHttpServer server;
  HttpSinkOptions options;
  options.url = server.Url();
  auto sink = MakeHttpSink(options);

  struct Case {
    int status;
    std::string retry_after;
    absl::StatusCode want;
    absl::optional<absl::Duration> hint;
  };
  const std::vector<Case> cases = {
      {200, "", absl::StatusCode::kOk, absl::nullopt},
      {204, "", absl::StatusCode::kOk, absl::nullopt},
      {500, "", absl::StatusCode::kUnavailable, absl::nullopt},
      {502, "", absl::StatusCode::kUnavailable, absl::nullopt},
      {503, "7", absl::StatusCode::kUnavailable, absl::Seconds(7)},
      {429, "2", absl::StatusCode::kUnavailable, absl::Seconds(2)},
      {429, "", absl::StatusCode::kUnavailable, absl::nullopt},
      {408, "", absl::StatusCode::kUnavailable, absl::nullopt},
      {400, "", absl::StatusCode::kInvalidArgument, absl::nullopt},
      {413, "", absl::StatusCode::kOutOfRange, absl::nullopt},
      {422, "", absl::StatusCode::kFailedPrecondition, absl::nullopt},
      // A misdirected --upload_url, a wrong token or path: kept and retried, never dropped.
      {301, "", absl::StatusCode::kUnavailable, absl::nullopt},
      {308, "", absl::StatusCode::kUnavailable, absl::nullopt},
      {401, "", absl::StatusCode::kUnavailable, absl::nullopt},
      {403, "", absl::StatusCode::kUnavailable, absl::nullopt},
      {404, "", absl::StatusCode::kUnavailable, absl::nullopt},
      {405, "", absl::StatusCode::kUnavailable, absl::nullopt},
  };
  for (const Case& c : cases) {
    TestHttpServer::Reply reply;
    reply.status = c.status;
    reply.retry_after = c.retry_after;
    reply.body = c.status == 204 ? "" : absl::StrCat("backend says ", c.status, "\n");
    server.Enqueue(reply);
    const absl::Status s = sink->Send("m v=1\n");
    EXPECT_EQ(s.code(), c.want) << c.status << ": " << s;
    EXPECT_EQ(RetryAfterHint(s), c.hint) << c.status;
    if (!s.ok()) {
      EXPECT_NE(ClassifyUploadFailure(s), UploadFailure::kNetwork) << c.status;
    }
    if (!s.ok()) {
      EXPECT_THAT(std::string(s.message()),
                  HasSubstr(absl::StrCat("HTTP ", c.status, " from ", server.Url())));
      EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("backend says ", c.status)));
      if (c.status / 100 == 3) {
        EXPECT_THAT(std::string(s.message()), HasSubstr("set --upload_url to the final address"));
      }
      if (c.status == 401 || c.status == 403) {
        EXPECT_THAT(std::string(s.message()), HasSubstr("check --upload_token"));
      }
      if (c.status == 404 || c.status == 405) {
        EXPECT_THAT(std::string(s.message()), HasSubstr("check the path of --upload_url"));
      }
    }
  }
  // One keep-alive connection served them all.
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests().size(), cases.size());
}

TEST(HttpSinkTest, ReusesOneConnection) {
  TestHttpServer server;
  HttpSinkOptions options;
  options.url = server.Url();
  auto sink = MakeHttpSink(options);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sink->Send(absl::StrCat("m v=", i, "\n")).ok());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Gunzip(requests[i].body), absl::StrCat("m v=", i, "\n"));
    EXPECT_EQ(requests[i].connection, 1);
  }
}

TEST(HttpSinkTest, NetworkErrorsAndTimeoutsAreRetryable) {
  HttpSinkOptions options;
  options.url = absl::StrCat("http://127.0.0.1:", UnusedPort(), "/write");
  options.timeout = absl::Milliseconds(500);
  const absl::Status refused = MakeHttpSink(options)->Send("m v=1\n");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;

  TestHttpServer server;
  TestHttpServer::Reply slow;
  slow.delay = absl::Milliseconds(600);
  server.Enqueue(slow);
  options.url = server.Url();
  options.timeout = absl::Milliseconds(100);
  auto sink = MakeHttpSink(options);
  const absl::Time start = absl::Now();
  const absl::Status timed_out = sink->Send("m v=1\n");
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kUnavailable) << timed_out;
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(550));
}

// InfluxDB repeats the line it refused in X-Influxdb-Error, so a label value holding a NUL
// byte makes a header curl will not read. The status line came first: the refusal stands, and
// the push is dropped rather than retried (and every later push held back) for good.
TEST(HttpSinkTest, ARefusalWhoseHeadersCurlCannotReadIsStillARefusal) {
  TestHttpServer server;
  HttpSinkOptions options;
  options.url = server.Url();
  options.timeout = absl::Milliseconds(300);
  auto sink = MakeHttpSink(options);
  TestHttpServer::Reply refused;
  refused.status = 400;
  refused.raw_headers = std::string("X-Influxdb-Error: partial write: bad \0 line\r\n", 45);
  refused.body = "{\"error\":\"partial write\"}";
  server.Enqueue(refused);
  const absl::Status s = sink->Send("m,a=\0 v=1\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("HTTP 400 from"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("(the rest of the answer: "));
  EXPECT_NE(ClassifyUploadFailure(s), UploadFailure::kNetwork);

  // A success whose answer breaks off says nothing sure about the data: retried.
  TestHttpServer::Reply garbled = refused;
  garbled.status = 204;
  garbled.body.clear();
  server.Enqueue(garbled);
  EXPECT_EQ(sink->Send("m v=2\n").code(), absl::StatusCode::kUnavailable);
  // Nor does the last status outlive its request: a timeout is a network error.
  TestHttpServer::Reply slow;
  slow.delay = absl::Milliseconds(600);
  server.Enqueue(slow);
  const absl::Status timed_out = sink->Send("m v=3\n");
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kUnavailable) << timed_out;
  EXPECT_EQ(ClassifyUploadFailure(timed_out), UploadFailure::kNetwork);
}

// InfluxDB takes the empty upload that tells a refused upload from refused data, and then
// refuses every remote-write request as unparseable: that is the configuration, so the data
// stays in the spool instead of being dropped push by push.
TEST(HttpSinkTest, RemoteWriteRefusedByInfluxDbIsAConfigurationError) {
  TestHttpServer server;
  HttpSinkOptions options;
  options.url = server.Url();
  options.snappy_block = true;
  auto sink = MakeHttpSink(options);
  TestHttpServer::Reply refused;
  refused.status = 400;
  refused.raw_headers = "X-Influxdb-Build: OSS\r\nX-Influxdb-Version: 1.6.7\r\n";
  refused.body = "{\"error\":\"unable to parse\"}";
  server.Enqueue(refused);
  const absl::Status s = sink->Send("m v=1\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("check --upload_format"));
  EXPECT_EQ(ClassifyUploadFailure(s), UploadFailure::kRefused);

  // Other answers keep their meaning: a 413 is split, a 503 waited out.
  TestHttpServer::Reply too_large = refused;
  too_large.status = 413;
  server.Enqueue(too_large);
  EXPECT_EQ(sink->Send("m v=1\n").code(), absl::StatusCode::kOutOfRange);
  TestHttpServer::Reply unavailable = refused;
  unavailable.status = 503;
  server.Enqueue(unavailable);
  const absl::Status s503 = sink->Send("m v=1\n");
  EXPECT_EQ(ClassifyUploadFailure(s503), UploadFailure::kServerError);
  EXPECT_THAT(std::string(s503.message()), Not(HasSubstr("--upload_format")));
  // InfluxDB's own remote-write endpoint refuses data as any backend does (a point beyond
  // the retention policy, say).
  options.url = server.Url("/api/v1/prom/write?db=m");
  sink = MakeHttpSink(options);
  server.Enqueue(refused);
  EXPECT_EQ(sink->Send("m v=1\n").code(), absl::StatusCode::kInvalidArgument);
  options.url = server.Url();

  // Line protocol that InfluxDB refuses is about the data, as from any other backend.
  options.snappy_block = false;
  sink = MakeHttpSink(options);
  server.Enqueue(refused);
  EXPECT_EQ(sink->Send("m v=1\n").code(), absl::StatusCode::kInvalidArgument);
  // And remote write refused by another backend is too.
  options.snappy_block = true;
  sink = MakeHttpSink(options);
  server.Enqueue(400, "bad sample");
  EXPECT_EQ(sink->Send("m v=1\n").code(), absl::StatusCode::kInvalidArgument);
}

TEST(HttpSinkTest, DescribeAndErrorsNeverShowCredentials) {
  HttpSinkOptions options;
  const int port = UnusedPort();
  options.url = absl::StrCat("http://user:pa55@127.0.0.1:", port, "/api/write?token=tok3n#frag");
  options.token = "t0ken";
  auto sink = MakeHttpSink(options);
  EXPECT_EQ(sink->Describe(), absl::StrCat("http://127.0.0.1:", port, "/api/write"));
  const absl::Status s = sink->Send("m v=1\n");
  ASSERT_FALSE(s.ok());
  for (absl::string_view secret : {"pa55", "tok3n", "t0ken", "user"}) {
    EXPECT_THAT(sink->Describe(), Not(HasSubstr(std::string(secret))));
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(std::string(secret))));
  }
}

// ---------------------------------------------------------------------------------------
// MakeSinkForUrl and the file sink

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TempPath(absl::string_view name) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  unlink(path.c_str());
  return path;
}

TEST(MakeSinkForUrlTest, FileSinkCreatesAndAppends) {
  const std::string path = TempPath("file_sink_appends.lp");
  {
    auto sink = MakeSinkForUrl("file://" + path, HttpSinkOptions());
    ASSERT_TRUE(sink.ok()) << sink.status();
    EXPECT_EQ((*sink)->Describe(), "file://" + path);
    ASSERT_TRUE((*sink)->Send("a v=1\n").ok());
    ASSERT_TRUE((*sink)->Send("b v=2\n").ok());
    EXPECT_EQ(ReadFile(path), "a v=1\nb v=2\n");
  }
  // A new sink on an existing file appends too.
  auto again = MakeSinkForUrl("file://localhost" + path, HttpSinkOptions());
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*again)->Send("c v=3\n").ok());
  EXPECT_EQ(ReadFile(path), "a v=1\nb v=2\nc v=3\n");
}

// The file never grows past the limit by more than one batch: the batch that would take it
// past starts a new file, and the full one becomes <path>.1, replacing the one before.
TEST(MakeSinkForUrlTest, FileSinkRotatesBeforeABatchWouldPassTheLimit) {
  const std::string path = TempPath("file_sink_rotates.lp");
  unlink((path + ".1").c_str());
  FileSinkOptions file;
  file.rotate_bytes = 20;
  auto sink = MakeSinkForUrl("file://" + path, HttpSinkOptions(), file);
  ASSERT_TRUE(sink.ok()) << sink.status();
  for (const char* line : {"a v=1\n", "b v=2\n", "c v=3\n", "d v=4\n"}) {
    ASSERT_TRUE((*sink)->Send(line).ok());
  }
  EXPECT_EQ(ReadFile(path + ".1"), "a v=1\nb v=2\nc v=3\n");  // 18 bytes: a fourth line is 24
  EXPECT_EQ(ReadFile(path), "d v=4\n");
  for (const char* line : {"e v=5\n", "f v=6\n", "g v=7\n"}) {
    ASSERT_TRUE((*sink)->Send(line).ok());
  }
  EXPECT_EQ(ReadFile(path + ".1"), "d v=4\ne v=5\nf v=6\n");
  EXPECT_EQ(ReadFile(path), "g v=7\n");
  // A batch larger than the limit goes whole into a file of its own.
  const std::string large = "large v=1234567890123456789\n";
  ASSERT_TRUE((*sink)->Send(large).ok());
  EXPECT_EQ(ReadFile(path + ".1"), "g v=7\n");
  EXPECT_EQ(ReadFile(path), large);
  ASSERT_TRUE((*sink)->Send("h v=8\n").ok());
  EXPECT_EQ(ReadFile(path + ".1"), large);
  EXPECT_EQ(ReadFile(path), "h v=8\n");
}

// Without a limit the file only grows.
TEST(MakeSinkForUrlTest, FileSinkWithoutALimitNeverRotates) {
  const std::string path = TempPath("file_sink_grows.lp");
  unlink((path + ".1").c_str());
  auto sink = MakeSinkForUrl("file://" + path, HttpSinkOptions());
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::string all;
  for (int i = 0; i < 100; ++i) {
    const std::string line = absl::StrCat("m v=", i, "\n");
    ASSERT_TRUE((*sink)->Send(line).ok());
    all += line;
  }
  EXPECT_EQ(ReadFile(path), all);
  EXPECT_NE(access((path + ".1").c_str(), F_OK), 0);
}

// logrotate moves the file away (or someone deletes it) and expects the writer to begin a new
// one at the path: batches after that must not vanish into the moved or deleted file.
TEST(MakeSinkForUrlTest, FileSinkFollowsARotationByAnotherProgram) {
  const std::string path = TempPath("file_sink_follows.lp");
  const std::string moved = TempPath("file_sink_follows.lp.moved");
  auto sink = MakeSinkForUrl("file://" + path, HttpSinkOptions());
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Send("a v=1\n").ok());
  ASSERT_EQ(rename(path.c_str(), moved.c_str()), 0);
  ASSERT_TRUE((*sink)->Send("b v=2\n").ok());
  EXPECT_EQ(ReadFile(moved), "a v=1\n");
  EXPECT_EQ(ReadFile(path), "b v=2\n");
  ASSERT_EQ(unlink(path.c_str()), 0);
  ASSERT_TRUE((*sink)->Send("c v=3\n").ok());
  EXPECT_EQ(ReadFile(path), "c v=3\n");
}

// A batch must not be called delivered into a file that no longer has a name: with the file
// deleted and no way to make it again (its directory gone), Send fails, so that the batch
// stays in the spool and is retried, and goes out once the path can be written again.
TEST(MakeSinkForUrlTest, FileSinkRefusesBatchesWhileItsFileIsGoneForGood) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/file_sink_gone");
  const std::string path = dir + "/out.lp";
  mkdir(dir.c_str(), 0755);
  unlink(path.c_str());
  auto sink = MakeSinkForUrl("file://" + path, HttpSinkOptions());
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Send("a v=1\n").ok());
  ASSERT_EQ(unlink(path.c_str()), 0);
  ASSERT_EQ(rmdir(dir.c_str()), 0);
  const absl::Status refused = (*sink)->Send("b v=2\n");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("was deleted"));
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  ASSERT_TRUE((*sink)->Send("b v=2\n").ok());
  EXPECT_EQ(ReadFile(path), "b v=2\n");
}

TEST(MakeSinkForUrlTest, RejectsBadUrls) {
  for (absl::string_view url :
       {"ftp://host/x", "localhost:8086/write", "", "file://relative/x", "file://otherhost/x"}) {
    auto sink = MakeSinkForUrl(url, HttpSinkOptions());
    EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument) << url;
  }
  auto secret = MakeSinkForUrl("ftp://user:pa55@host/x", HttpSinkOptions());
  EXPECT_THAT(std::string(secret.status().message()), Not(HasSubstr("pa55")));

  auto missing_dir = MakeSinkForUrl(
      absl::StrCat("file://", ::testing::TempDir(), "/no/such/dir/out.lp"), HttpSinkOptions());
  EXPECT_EQ(missing_dir.status().code(), absl::StatusCode::kNotFound) << missing_dir.status();
}

TEST(MakeSinkForUrlTest, HttpUrlUsesBaseOptions) {
  TestHttpServer server;
  HttpSinkOptions base;
  base.url = "http://ignored.invalid/";
  base.gzip = false;
  base.token = "abc";
  auto sink = MakeSinkForUrl(server.Url("/x"), base);
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Send("m v=1\n").ok());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/x");
  EXPECT_EQ(requests[0].body, "m v=1\n");
  EXPECT_EQ(requests[0].headers.at("authorization"), "Token abc");
}

// ---------------------------------------------------------------------------------------
// Uploader with a scripted in-memory sink

// Shared with the test, so it outlives the Uploader that owns the Sink.
struct FakeBackend {
  absl::Mutex mu;
  // Decides each attempt's result; attempt counts from 0 over the backend's lifetime.
  std::function<absl::Status(absl::string_view body, int attempt)> respond;
  std::vector<std::string> attempts ABSL_GUARDED_BY(mu);
  std::vector<std::string> accepted ABSL_GUARDED_BY(mu);
  bool paused ABSL_GUARDED_BY(mu) = false;
  int sends_started ABSL_GUARDED_BY(mu) = 0;  // including ones waiting while paused

  std::vector<std::string> Accepted() {
    absl::MutexLock lock(&mu);
    return accepted;
  }
  std::vector<std::string> Attempts() {
    absl::MutexLock lock(&mu);
    return attempts;
  }
};

class FakeSink : public Sink {
 public:
  explicit FakeSink(std::shared_ptr<FakeBackend> backend) : backend_(std::move(backend)) {}
  absl::Status Send(absl::string_view body) override {
    absl::MutexLock lock(&backend_->mu);
    ++backend_->sends_started;
    backend_->mu.Await(absl::Condition(
        +[](bool* paused) { return !*paused; }, &backend_->paused));
    const int attempt = static_cast<int>(backend_->attempts.size());
    backend_->attempts.emplace_back(body);
    const absl::Status s = backend_->respond ? backend_->respond(body, attempt) : absl::OkStatus();
    if (s.ok()) backend_->accepted.emplace_back(body);
    return s;
  }
  std::string Describe() const override { return "fake"; }

 private:
  std::shared_ptr<FakeBackend> backend_;
};

UploaderOptions FastOptions() {
  UploaderOptions o;
  o.flush_interval = absl::Hours(1);  // tests flush explicitly unless they test the interval
  o.backoff_base = absl::Milliseconds(1);
  o.backoff_max = absl::Milliseconds(5);
  return o;
}

std::string Line(int i) { return absl::StrCat("m,i=", i, " v=", i, "i\n"); }

std::vector<std::string> AllLines(const std::vector<std::string>& bodies) {
  std::vector<std::string> lines;
  for (const std::string& b : bodies) {
    for (std::string& l : Lines(b)) lines.push_back(std::move(l));
  }
  return lines;
}

std::vector<std::string> ExpectedLines(int n) {
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) lines.push_back(std::string(absl::StripSuffix(Line(i), "\n")));
  return lines;
}

TEST(UploaderTest, BatchesRespectMaxPoints) {
  auto backend = std::make_shared<FakeBackend>();
  UploaderOptions o = FastOptions();
  o.batch_max_points = 3;
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  for (int i = 0; i < 10; ++i) uploader.Add(Line(i), 1);
  ASSERT_TRUE(uploader.Flush());

  const auto bodies = backend->Accepted();
  std::vector<size_t> sizes;
  for (const auto& b : bodies) sizes.push_back(Lines(b).size());
  EXPECT_THAT(sizes, ElementsAre(3, 3, 3, 1));
  EXPECT_EQ(AllLines(bodies), ExpectedLines(10));
  const Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.batches_sent, 4u);
  EXPECT_EQ(st.points_sent, 10u);
  EXPECT_EQ(st.queued_points, 0u);
  EXPECT_EQ(st.queued_bytes, 0u);
  EXPECT_EQ(st.retries, 0u);
}

TEST(UploaderTest, EmptyAddsAdvanceThePositionWithoutSending) {
  auto backend = std::make_shared<FakeBackend>();
  std::atomic<uint64_t> delivered{0};
  UploaderOptions o = FastOptions();
  o.on_delivered = [&](uint64_t position) { delivered = position; };
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  uploader.Add("", 0, /*position=*/7);
  ASSERT_TRUE(uploader.Flush());
  EXPECT_EQ(delivered, 7u);
  EXPECT_TRUE(backend->Attempts().empty());
}

TEST(UploaderTest, FullBatchesGoWithoutFlushOrInterval) {
  auto backend = std::make_shared<FakeBackend>();
  UploaderOptions o = FastOptions();
  o.batch_max_points = 4;
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  uploader.Add("a v=1\nb v=1\n", 2);
  uploader.Add("c v=1\nd v=1\n", 2);  // reaches the limit: sealed and sent
  uploader.Add("e v=1\n", 1);         // stays until the (hour-long) interval or a Flush
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (backend->Accepted().empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_THAT(backend->Accepted(), ElementsAre("a v=1\nb v=1\nc v=1\nd v=1\n"));
  EXPECT_EQ(uploader.stats().queued_points, 1u);
  ASSERT_TRUE(uploader.Flush());
  EXPECT_THAT(backend->Accepted(), ElementsAre("a v=1\nb v=1\nc v=1\nd v=1\n", "e v=1\n"));
}

TEST(UploaderTest, BatchesRespectMaxBytesAndKeepAddsWhole) {
  auto backend = std::make_shared<FakeBackend>();
  UploaderOptions o = FastOptions();
  o.batch_max_bytes = 20;
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  uploader.Add("aaaa v=1\n", 1);                             // 9 bytes
  uploader.Add("bbbb v=1\n", 1);                             // 18
  uploader.Add("cccc v=1\n", 1);                             // would be 27: starts a new batch
  const std::string big = "dddd v=1\neeee v=1\nffff v=1\n";  // 27 bytes on its own
  uploader.Add(big, 3);
  uploader.Add("gggg v=1\n", 1);
  ASSERT_TRUE(uploader.Flush());
  EXPECT_THAT(backend->Accepted(),
              ElementsAre("aaaa v=1\nbbbb v=1\n", "cccc v=1\n", big, "gggg v=1\n"));
}

TEST(UploaderTest, FlushIntervalSendsOnItsOwn) {
  auto backend = std::make_shared<FakeBackend>();
  UploaderOptions o = FastOptions();
  o.flush_interval = absl::Milliseconds(20);
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  const absl::Time start = absl::Now();
  uploader.Add("m v=1\n", 1);
  const absl::Time deadline = start + absl::Seconds(5);
  while (backend->Accepted().empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_THAT(backend->Accepted(), ElementsAre("m v=1\n"));
  EXPECT_GE(took, absl::Milliseconds(19));
  EXPECT_LT(took, absl::Seconds(2));
}

TEST(UploaderTest, RetriesUnavailableUntilAccepted) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view, int attempt) {
    return attempt < 3 ? absl::UnavailableError("HTTP 503") : absl::OkStatus();
  };
  Uploader uploader(std::make_unique<FakeSink>(backend), FastOptions());
  uploader.Add("m v=1\n", 1);
  ASSERT_TRUE(uploader.Flush());
  EXPECT_THAT(backend->Attempts(), ElementsAre("m v=1\n", "m v=1\n", "m v=1\n", "m v=1\n"));
  EXPECT_THAT(backend->Accepted(), ElementsAre("m v=1\n"));
  const Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.retries, 3u);
  EXPECT_EQ(st.batches_sent, 1u);
  EXPECT_EQ(st.permanent_failures, 0u);
}

// A backend that refuses some data (Prometheus refuses a whole remote-write request for one
// out-of-order sample) but takes an empty upload: the batch is split between pushes until
// only the refused push is dropped; the other pushes of its batch arrive.
TEST(UploaderTest, ARefusedPushIsDroppedAndTheRestOfItsBatchDelivered) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view body, int) {
    return absl::StrContains(body, "bad") ? absl::InvalidArgumentError("out of order sample")
                                          : absl::OkStatus();
  };
  UploaderOptions o = FastOptions();
  o.batch_max_points = 4;
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  uploader.Add("good v=1\n", 1);
  uploader.Add("good v=2\n", 1);
  uploader.Add("bad v=1\nbad v=2\n", 2);  // one push of two points, refused
  uploader.Add("x v=1\n", 1);
  uploader.Add("good v=3\n", 1);
  ASSERT_TRUE(uploader.Flush());
  std::vector<std::string> delivered;
  for (const std::string& body : backend->Accepted()) {
    if (!body.empty()) delivered.push_back(body);  // the empty upload that told data refused
  }
  // The first batch (three pushes) in halves: the first push, then the other two in halves.
  EXPECT_THAT(delivered, ElementsAre("good v=1\n", "good v=2\n", "x v=1\ngood v=3\n"));
  EXPECT_THAT(backend->Attempts(), ::testing::Contains(""));
  const Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.permanent_failures, 1u);
  EXPECT_EQ(st.points_dropped, 2u);
  EXPECT_EQ(st.points_sent, 4u);
  EXPECT_EQ(st.retries, 0u);
}

// A backend that refuses even an empty upload refuses the upload, not the data (InfluxDB
// without ?db=, a path VictoriaMetrics does not serve): the data is kept and retried until
// the backend takes it, as for a 404.
TEST(UploaderTest, ABackendRefusingEveryUploadKeepsTheDataUntilItTakesIt) {
  auto backend = std::make_shared<FakeBackend>();
  auto fixed = std::make_shared<std::atomic<bool>>(false);
  backend->respond = [fixed](absl::string_view, int) {
    return fixed->load() ? absl::OkStatus() : absl::InvalidArgumentError("database is required");
  };
  Uploader uploader(std::make_unique<FakeSink>(backend), FastOptions());
  uploader.Add("a v=1\n", 1, 1);
  uploader.Add("b v=1\n", 1, 2);
  EXPECT_FALSE(uploader.Flush(absl::Milliseconds(200)));
  EXPECT_GT(uploader.stats().retries, 2u);
  EXPECT_EQ(uploader.stats().points_dropped, 0u);
  fixed->store(true);
  ASSERT_TRUE(uploader.Flush());
  EXPECT_THAT(backend->Accepted(), ElementsAre("a v=1\nb v=1\n"));
  const Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.points_sent, 2u);
  EXPECT_EQ(st.points_dropped, 0u);
  EXPECT_EQ(st.delivered_position, 2u);
}

// A backend whose body limit is below the batch size answers 413. The batch is sent again in
// halves, at push boundaries, until each part fits: only a push too large on its own is lost.
TEST(UploaderTest, ABatchTooLargeForTheBackendIsSentInPartsThatFit) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view body, int) {
    return body.size() > 30 ? absl::OutOfRangeError("HTTP 413: body too large") : absl::OkStatus();
  };
  UploaderOptions o = FastOptions();
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  uploader.Add("a v=1\na v=2\n", 2, 1);             // 12 bytes
  uploader.Add("b v=1\n", 1, 2);                    // 6
  uploader.Add(std::string(40, 'x') + "\n", 1, 3);  // too large alone
  uploader.Add("c v=1\nc v=2\n", 2, 4);             // 12
  uploader.Add("", 0, 5);                           // only a position
  ASSERT_TRUE(uploader.Flush());
  EXPECT_THAT(backend->Accepted(), ElementsAre("a v=1\na v=2\nb v=1\n", "c v=1\nc v=2\n"));
  const Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.points_sent, 5u);
  EXPECT_EQ(st.points_dropped, 1u);
  EXPECT_EQ(st.permanent_failures, 1u);
  EXPECT_EQ(st.batches_sent, 1u);
  EXPECT_EQ(st.delivered_position, 5u);
}

TEST(UploaderTest, HonoursRetryAfterHint) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view, int attempt) {
    return attempt == 0 ? UnavailableWithRetryAfter("HTTP 429", absl::Milliseconds(150))
                        : absl::OkStatus();
  };
  Uploader uploader(std::make_unique<FakeSink>(backend), FastOptions());  // backoff <= 5ms
  const absl::Time start = absl::Now();
  uploader.Add("m v=1\n", 1);
  ASSERT_TRUE(uploader.Flush());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_EQ(backend->Attempts().size(), 2u);
}

TEST(UploaderTest, RetryAfterHintIsClampedToRetryAfterMax) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view, int attempt) {
    return attempt == 0 ? UnavailableWithRetryAfter("HTTP 503", absl::Hours(1)) : absl::OkStatus();
  };
  UploaderOptions o = FastOptions();
  o.retry_after_max = absl::Milliseconds(30);
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  uploader.Add("m v=1\n", 1);
  EXPECT_TRUE(uploader.Flush(absl::Seconds(10)));
}

TEST(UploaderTest, BackoffGrowsExponentiallyUpToTheCap) {
  constexpr int kFailures = 7;
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view, int attempt) {
    return attempt < kFailures ? absl::UnavailableError("down") : absl::OkStatus();
  };
  UploaderOptions o = FastOptions();
  o.backoff_base = absl::Milliseconds(10);
  o.backoff_max = absl::Milliseconds(20);
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  const absl::Time start = absl::Now();
  uploader.Add("m v=1\n", 1);
  ASSERT_TRUE(uploader.Flush());
  const absl::Duration took = absl::Now() - start;
  // Delays are drawn from [d/2, d] with d = 10, 20, 20, 20, 20, 20, 20 ms: 65 to 130 ms in
  // all. Uncapped doubling (10, 20, ..., 640 ms) would need at least 635 ms.
  EXPECT_GE(took, absl::Milliseconds(65));
  EXPECT_LT(took, absl::Milliseconds(500));
  EXPECT_EQ(uploader.stats().retries, static_cast<uint64_t>(kFailures));
}

TEST(UploaderTest, ReportsDeliveredPositionsInOrder) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view body, int attempt) {
    if (attempt == 0) return absl::UnavailableError("blip");
    if (absl::StrContains(body, "i=4 ")) return absl::InvalidArgumentError("rejected");
    return absl::OkStatus();
  };
  absl::Mutex mu;
  std::vector<uint64_t> reported;
  UploaderOptions o = FastOptions();
  o.batch_max_points = 3;
  o.on_delivered = [&](uint64_t position) {
    absl::MutexLock lock(&mu);
    reported.push_back(position);
  };
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  for (int i = 0; i < 10; ++i) uploader.Add(Line(i), 1, /*position=*/100 + 10 * i);
  ASSERT_TRUE(uploader.Flush());
  {
    // Flush returned only after the callbacks ran; the dropped batch counts as done too.
    absl::MutexLock lock(&mu);
    EXPECT_THAT(reported, ElementsAre(120, 150, 180, 190));
  }
  EXPECT_EQ(uploader.stats().delivered_position, 190u);
  EXPECT_EQ(uploader.stats().permanent_failures, 1u);
}

TEST(UploaderTest, ConcurrentAddsWithFlakyBackendLoseAndDuplicateNothing) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view, int attempt) {
    return attempt % 3 == 1 ? absl::UnavailableError("flaky") : absl::OkStatus();
  };
  UploaderOptions o = FastOptions();
  o.batch_max_points = 50;
  o.flush_interval = absl::Milliseconds(2);
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  constexpr int kThreads = 4, kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&uploader, t] {
      for (int i = 0; i < kPerThread; ++i) uploader.Add(Line(t * kPerThread + i), 1);
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(uploader.Flush(absl::Seconds(60)));
  EXPECT_THAT(AllLines(backend->Accepted()),
              UnorderedElementsAreArray(ExpectedLines(kThreads * kPerThread)));
  const Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.points_sent, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_GT(st.retries, 0u);
  EXPECT_EQ(st.queued_points, 0u);
}

TEST(UploaderTest, FlushTimesOutWhileBackendIsDownThenSucceeds) {
  auto backend = std::make_shared<FakeBackend>();
  std::atomic<bool> down{true};
  backend->respond = [&down](absl::string_view, int) {
    return down ? absl::UnavailableError("down") : absl::OkStatus();
  };
  Uploader uploader(std::make_unique<FakeSink>(backend), FastOptions());
  uploader.Add("m v=1\n", 1);
  uploader.Add("m v=2\n", 1);
  EXPECT_FALSE(uploader.Flush(absl::Milliseconds(50)));
  Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.queued_points, 2u);
  EXPECT_EQ(st.queued_bytes, 12u);
  EXPECT_GT(st.retries, 0u);
  down = false;
  EXPECT_TRUE(uploader.Flush());
  EXPECT_THAT(backend->Accepted(), ElementsAre("m v=1\nm v=2\n"));
  EXPECT_EQ(uploader.stats().queued_points, 0u);
}

TEST(UploaderTest, StopDrainsQueuedData) {
  auto backend = std::make_shared<FakeBackend>();
  UploaderOptions o = FastOptions();
  o.batch_max_points = 2;
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  for (int i = 0; i < 5; ++i) uploader.Add(Line(i), 1);
  uploader.Stop(absl::Seconds(30));
  EXPECT_EQ(AllLines(backend->Accepted()), ExpectedLines(5));
  EXPECT_EQ(uploader.stats().points_abandoned, 0u);
  // Data added after Stop is refused and counted.
  uploader.Add(Line(5), 1);
  EXPECT_EQ(uploader.stats().points_abandoned, 1u);
  EXPECT_EQ(backend->Accepted().size(), 3u);
  EXPECT_TRUE(uploader.Flush());  // everything added before it was delivered
}

TEST(UploaderTest, StopAbandonsAfterDrainTimeoutWhenBackendIsDown) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view, int) { return absl::UnavailableError("down"); };
  std::atomic<int> callbacks{0};
  UploaderOptions o = FastOptions();
  o.batch_max_points = 1;
  o.on_delivered = [&](uint64_t) { ++callbacks; };
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  for (int i = 0; i < 3; ++i) uploader.Add(Line(i), 1, i + 1);
  const absl::Time start = absl::Now();
  uploader.Stop(absl::Milliseconds(50));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(45));
  EXPECT_LT(took, absl::Seconds(2));
  const Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.points_abandoned, 3u);
  EXPECT_EQ(st.points_sent, 0u);
  EXPECT_EQ(st.queued_points, 0u);
  EXPECT_EQ(callbacks, 0);  // nothing was delivered, so nothing may be forgotten upstream
  EXPECT_FALSE(uploader.Flush());
  // The batches behind the first were abandoned without an attempt.
  for (const std::string& body : backend->Attempts()) EXPECT_EQ(body, Line(0));
}

TEST(UploaderTest, DestructorDoesNotWaitForADeadBackend) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view, int) { return absl::UnavailableError("down"); };
  UploaderOptions o = FastOptions();
  o.backoff_base = absl::Seconds(10);
  o.backoff_max = absl::Seconds(10);
  const absl::Time start = absl::Now();
  {
    Uploader uploader(std::make_unique<FakeSink>(backend), o);
    uploader.Add("m v=1\n", 1);
    uploader.Flush(absl::Milliseconds(20));  // now sleeping in a 5-10 s backoff
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(UploaderTest, StopWaitsForTheSendInProgress) {
  auto backend = std::make_shared<FakeBackend>();
  {
    absl::MutexLock lock(&backend->mu);
    backend->paused = true;
  }
  Uploader uploader(std::make_unique<FakeSink>(backend), FastOptions());
  uploader.Add("m v=1\n", 1);
  uploader.Flush(absl::ZeroDuration());  // seals the batch for the upload thread
  {
    absl::MutexLock lock(&backend->mu);
    auto started = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(backend->mu) {
      return backend->sends_started == 1;
    };
    ASSERT_TRUE(backend->mu.AwaitWithTimeout(absl::Condition(&started), absl::Seconds(10)));
  }
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    uploader.Stop();
    stopped = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(stopped) << "Stop returned while a Send was in progress";
  {
    absl::MutexLock lock(&backend->mu);
    backend->paused = false;
  }
  stopper.join();
  EXPECT_THAT(backend->Accepted(), ElementsAre("m v=1\n"));
  EXPECT_EQ(uploader.stats().points_sent, 1u);
}

// ---------------------------------------------------------------------------------------
// Uploader end to end: HTTP sink against the test server

TEST(UploaderHttpTest, RetriesOn500And429ThenDeliversEverythingOnce) {
  TestHttpServer server;
  server.Enqueue(500, "internal error");
  server.Enqueue(429, "slow down");
  HttpSinkOptions sink_options;
  sink_options.url = server.Url();
  UploaderOptions o = FastOptions();
  o.batch_max_points = 2;
  Uploader uploader(MakeHttpSink(sink_options), o);
  for (int i = 0; i < 6; ++i) uploader.Add(Line(i), 1);
  ASSERT_TRUE(uploader.Flush());

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 5u);
  // The first batch went three times: 500, 429, then 200.
  EXPECT_EQ(requests[0].body, requests[1].body);
  EXPECT_EQ(requests[1].body, requests[2].body);
  std::vector<std::string> delivered;
  for (size_t i = 2; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].headers.at("content-encoding"), "gzip");
    const std::string body = Gunzip(requests[i].body);
    EXPECT_EQ(Lines(body).size(), 2u);
    delivered.push_back(body);
  }
  EXPECT_EQ(AllLines(delivered), ExpectedLines(6));
  const Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.retries, 2u);
  EXPECT_EQ(st.batches_sent, 3u);
  EXPECT_EQ(st.points_sent, 6u);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_LE(st.last_accepted, absl::Now());
  EXPECT_GT(st.last_accepted, absl::Now() - absl::Minutes(1));
  // By cause: an operator tells a struggling backend from throttling, a wrong token or URL.
  EXPECT_EQ(st.retries_by_failure[static_cast<int>(UploadFailure::kServerError)], 1u);
  EXPECT_EQ(st.retries_by_failure[static_cast<int>(UploadFailure::kThrottled)], 1u);
  EXPECT_EQ(st.retries_by_failure[static_cast<int>(UploadFailure::kNetwork)], 0u);
}

TEST(UploadFailureTest, TheBackendsAnswerSaysWhichKindOfFailure) {
  const struct {
    int code;  // 0: no HTTP answer
    UploadFailure want;
  } cases[] = {
      {0, UploadFailure::kNetwork},        {301, UploadFailure::kRedirect},
      {401, UploadFailure::kUnauthorized}, {403, UploadFailure::kUnauthorized},
      {404, UploadFailure::kNotFound},     {405, UploadFailure::kNotFound},
      {429, UploadFailure::kThrottled},    {408, UploadFailure::kTimeout},
      {400, UploadFailure::kRefused},      {503, UploadFailure::kServerError},
  };
  for (const auto& c : cases) {
    absl::Status status = absl::UnavailableError("failed");
    if (c.code != 0) SetHttpStatus(c.code, &status);
    EXPECT_EQ(ClassifyUploadFailure(status), c.want) << c.code;
  }
  EXPECT_STREQ(UploadFailureName(UploadFailure::kUnauthorized), "unauthorized");
  EXPECT_STREQ(UploadFailureName(UploadFailure::kServerError), "server_error");
}

// InfluxDB 2 refuses every empty upload, with an answer of its own: a batch with a push it
// refuses is still split, not kept as if the URL were wrong (which would stall the backend).
TEST(UploaderTest, AnEmptyUploadRefusedWithAnotherAnswerStillMeansTheData) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view body, int) {
    if (body.empty()) return absl::InvalidArgumentError("writing requires points");
    return absl::StrContains(body, "bad") ? absl::InvalidArgumentError("partial write")
                                          : absl::OkStatus();
  };
  Uploader uploader(std::make_unique<FakeSink>(backend), FastOptions());
  uploader.Add("bad v=1\n", 1, 1);
  uploader.Add("good v=1\n", 1, 2);
  ASSERT_TRUE(uploader.Flush());
  EXPECT_THAT(backend->Accepted(), ElementsAre("good v=1\n"));
  EXPECT_EQ(uploader.stats().points_dropped, 1u);
  // Once the backend took data, a refusal is about the data: no empty upload is sent.
  const size_t before = backend->Attempts().size();
  uploader.Add("bad v=2\n", 1, 3);
  uploader.Add("good v=2\n", 1, 4);
  ASSERT_TRUE(uploader.Flush());
  const std::vector<std::string> attempts = backend->Attempts();
  EXPECT_THAT(std::vector<std::string>(attempts.begin() + before, attempts.end()),
              ElementsAre("bad v=2\ngood v=2\n", "bad v=2\n", "good v=2\n"));
  EXPECT_EQ(uploader.stats().points_dropped, 2u);
}

// A backend refusing every push of a large batch costs a bounded number of requests, not one
// per push and split; what is left when they are spent is dropped whole.
TEST(UploaderTest, FindingRefusedPushesTakesABoundedNumberOfRequests) {
  auto backend = std::make_shared<FakeBackend>();
  backend->respond = [](absl::string_view body, int) {
    return body.empty() ? absl::OkStatus() : absl::InvalidArgumentError("out of bounds");
  };
  UploaderOptions o = FastOptions();
  o.batch_max_points = 1000;
  Uploader uploader(std::make_unique<FakeSink>(backend), o);
  for (int i = 0; i < 256; ++i) uploader.Add(Line(i), 1, i + 1);
  ASSERT_TRUE(uploader.Flush());
  // The batch, the empty upload, and 4 * log2(256) + 8 = 40 requests to split it.
  EXPECT_LE(backend->Attempts().size(), 42u);
  EXPECT_EQ(uploader.stats().points_dropped, 256u);
  EXPECT_EQ(uploader.stats().delivered_position, 256u);
}

// Over HTTP: a 400, then an empty upload taken, so the batch goes again in halves and only
// the push refused again is dropped.
TEST(UploaderHttpTest, ABadRequestDropsOnlyThePushRefused) {
  TestHttpServer server;
  server.Enqueue(400, "{\"error\":\"unable to parse 'm,i=0 v=0i'\"}");
  server.Enqueue(204);  // the empty upload
  server.Enqueue(400, "{\"error\":\"unable to parse 'm,i=0 v=0i'\"}");
  HttpSinkOptions sink_options;
  sink_options.url = server.Url();
  UploaderOptions o = FastOptions();
  o.batch_max_points = 2;
  Uploader uploader(MakeHttpSink(sink_options), o);
  for (int i = 0; i < 4; ++i) uploader.Add(Line(i), 1);
  ASSERT_TRUE(uploader.Flush());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(Gunzip(requests[0].body), Line(0) + Line(1));
  EXPECT_EQ(Gunzip(requests[1].body), "");
  EXPECT_EQ(Gunzip(requests[2].body), Line(0));
  EXPECT_EQ(Gunzip(requests[3].body), Line(1));
  EXPECT_EQ(Gunzip(requests[4].body), Line(2) + Line(3));
  const Uploader::Stats st = uploader.stats();
  EXPECT_EQ(st.permanent_failures, 1u);
  EXPECT_EQ(st.points_dropped, 1u);
  EXPECT_EQ(st.points_sent, 3u);
  EXPECT_EQ(st.retries, 0u);
}

TEST(UploaderFileTest, FileSinkReceivesEveryBatchInOrder) {
  const std::string path = TempPath("uploader_file.lp");
  auto sink = MakeSinkForUrl("file://" + path, HttpSinkOptions());
  ASSERT_TRUE(sink.ok()) << sink.status();
  UploaderOptions o = FastOptions();
  o.batch_max_points = 7;
  Uploader uploader(std::move(*sink), o);
  std::string want;
  for (int i = 0; i < 100; ++i) {
    uploader.Add(Line(i), 1);
    want += Line(i);
  }
  ASSERT_TRUE(uploader.Flush());
  EXPECT_EQ(ReadFile(path), want);
  EXPECT_EQ(uploader.stats().batches_sent, 15u);
}

}  // namespace
}  // namespace pushgate
