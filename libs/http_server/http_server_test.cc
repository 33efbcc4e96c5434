#include "libs/http_server/http_server.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/no_free_descriptors.h"
#include "tests/harness/raw_client.h"

namespace pushgate {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

struct CurlResult {
  long status = 0;
  std::string body;
  std::string headers;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// A small curl client; `handle` may be reused to exercise keep-alive.
CurlResult Send(CURL* handle, const std::string& method, const std::string& url,
                const std::string& body, std::vector<std::string> headers = {}) {
  CurlResult result;
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "GET") {
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, Append);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &result.headers);
  CURLcode code = curl_easy_perform(handle);
  EXPECT_EQ(code, CURLE_OK) << curl_easy_strerror(code);
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(list);
  return result;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options, HttpHandler handler) {
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<HttpServer>(options, std::move(handler));
    ASSERT_TRUE(server_->Start().ok());
  }
  std::string Url(absl::string_view path) {
    return absl::StrCat("http://127.0.0.1:", server_->port(), path);
  }
  void SetUp() override { curl_ = curl_easy_init(); }
  void TearDown() override {
    curl_easy_cleanup(curl_);
    if (server_) server_->Stop();
  }

  CURL* curl_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, HandlerSeesMethodPathHeadersAndBody) {
  HttpRequest seen;
  StartServer({}, [&](HttpRequest request, HttpResponder respond) {
    seen = request;
    HttpResponse response;
    response.status = 202;
    response.body = "ok";
    response.headers.emplace_back("X-Test", "yes");
    respond(response);
  });
  CurlResult r =
      Send(curl_, "PUT", Url("/metrics/job/a?x=1"), "hello body", {"Content-Encoding: gzip"});
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "ok");
  EXPECT_THAT(r.headers, HasSubstr("X-Test: yes"));
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.target, "/metrics/job/a?x=1");
  EXPECT_EQ(seen.Path(), "/metrics/job/a");
  EXPECT_EQ(seen.Header("content-encoding"), "gzip");
  EXPECT_EQ(seen.body, "hello body");
}

// A handler that answers each request from a thread of its own, made by `answer(request)`;
// the threads are joined on destruction.
class AnswersFromOtherThreads {
 public:
  explicit AnswersFromOtherThreads(std::function<HttpResponse(const HttpRequest&)> answer)
      : answer_(std::move(answer)) {}
  ~AnswersFromOtherThreads() {
    absl::MutexLock lock(&mu_);
    for (auto& t : threads_) t.join();
  }
  HttpHandler handler() {
    return [this](HttpRequest request, HttpResponder respond) {
      absl::MutexLock lock(&mu_);
      threads_.emplace_back(
          [this, request = std::move(request), respond] { respond(answer_(request)); });
    };
  }

 private:
  const std::function<HttpResponse(const HttpRequest&)> answer_;
  absl::Mutex mu_;
  std::vector<std::thread> threads_;
};

TEST_F(HttpServerTest, RespondsLaterFromAnotherThread) {
  AnswersFromOtherThreads answers([](const HttpRequest& request) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    HttpResponse response;
    response.body = "late " + request.body;
    return response;
  });
  StartServer({}, answers.handler());
  for (int i = 0; i < 3; ++i) {  // Same handle: the connection is kept alive across requests.
    CurlResult r = Send(curl_, "POST", Url("/x"), absl::StrCat(i));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, absl::StrCat("late ", i));
  }
  long connects = -1;
  curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &connects);
  EXPECT_EQ(connects, 0) << "the last request should have reused the connection";
  server_->Stop();  // before `answers` goes
}

TEST_F(HttpServerTest, IdleAndStalledConnectionsAreClosedButSlowHandlersAreNot) {
  HttpServerOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  StartServer(options, [](HttpRequest request, HttpResponder respond) {
    // Longer than the idle timeout: the client is waiting on us, not idle.
    std::thread([respond, body = request.body] {
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      HttpResponse response;
      response.body = "slow " + body;
      respond(response);
    }).detach();
  });

  RawClient silent(server_->port());
  EXPECT_EQ(silent.ReadUntilClosed(), "");

  RawClient stalled(server_->port());
  stalled.Send("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nonly5");
  EXPECT_EQ(stalled.ReadUntilClosed(), "");

  RawClient patient(server_->port());
  patient.Send("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
  const std::string answer = patient.ReadUntilClosed();  // closed once idle after the answer
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr("slow hi"));
}

TEST_F(HttpServerTest, ChunkedBodiesArriveWhole) {
  // Clients that stream a body of unknown length (Go's http.Client, curl -T -) send it chunked.
  StartServer({}, [](HttpRequest request, HttpResponder respond) {
    HttpResponse response;
    response.body = absl::StrCat(request.body.size(), ":", request.body);
    respond(response);
  });
  RawClient client(server_->port());
  client.Send(
      "PUT /metrics/job/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n\r\n"
      "6\r\nup 1\nx\r\n"
      "5\r\n 2\ny \r\n"
      "0\r\n\r\n");
  const std::string answer = client.ReadUntilClosed();
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr("11:up 1\nx 2\ny "));
}

TEST_F(HttpServerTest, PipelinedAndLargeBodiesOnOneConnectionArriveWholeAndInOrder) {
  // The server reads as much as is buffered at once, so one read can hold the end of a body
  // and the next requests; and a body larger than one read (64 KiB) takes several.
  StartServer({}, [](HttpRequest request, HttpResponder respond) {
    HttpResponse response;
    response.body =
        absl::StrCat(request.target, " ", request.body.size(), " ", request.body.substr(0, 3),
                     request.body.substr(request.body.size() > 3 ? request.body.size() - 3 : 0));
    respond(response);
  });
  const std::string big = "big" + std::string(300 << 10, 'x') + "end";
  std::string requests;
  for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
           {"/a", "first body"}, {"/b", big}, {"/c", "third"}}) {
    absl::StrAppend(&requests, "PUT ", target,
                    " HTTP/1.1\r\nHost: h\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
  }
  absl::StrAppend(&requests, "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  RawClient client(server_->port());
  client.Send(requests);
  const std::string answers = client.ReadUntilClosed();
  const size_t a = answers.find("/a 10 firody");
  const size_t b = answers.find(absl::StrCat("/b ", big.size(), " bigend"));
  const size_t c = answers.find("/c 5 thiird");
  const size_t last = answers.find("/last 0 ");
  EXPECT_NE(a, std::string::npos) << answers;
  EXPECT_NE(b, std::string::npos) << answers;
  EXPECT_NE(c, std::string::npos) << answers;
  EXPECT_NE(last, std::string::npos) << answers;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, last);
}

// An answer given on the handler's thread is sent from there when the socket takes it whole;
// one too large for the socket's buffer (the client is not reading yet) is finished by the
// connection's own thread. Either way the connection goes on to the next request.
TEST_F(HttpServerTest, AnswersLargerThanTheSocketBufferArriveWholeAndKeepTheConnection) {
  AnswersFromOtherThreads answers([](const HttpRequest& request) {
    HttpResponse response;
    response.body = request.target == "/big" ? "big" + std::string(16 << 20, 'x') + "end" : "small";
    return response;
  });
  StartServer({}, answers.handler());
  RawClient client(server_->port());
  client.Send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the socket buffer fill
  client.Send("GET /small HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  const std::string received = client.ReadUntilClosed();
  const std::string big_answer = absl::StrCat("Content-Length: ", (16 << 20) + 6, "\r\n\r\nbig",
                                              std::string(16 << 20, 'x'), "endHTTP/1.1 200 OK\r\n");
  EXPECT_NE(received.find(big_answer), std::string::npos) << received.substr(0, 200);
  EXPECT_THAT(received, ::testing::EndsWith("Connection: close\r\n\r\nsmall"));
  server_->Stop();  // before `answers` goes
}

TEST_F(HttpServerTest, ResponseFramingFollowsStatusAndHttpVersion) {
  StartServer({}, [](HttpRequest request, HttpResponder respond) {
    HttpResponse response;
    if (request.target == "/empty") {
      response.status = 204;
    } else {
      response.body = "hi";
    }
    respond(response);
  });
  {  // 204 carries neither a body nor Content-Length; HTTP/1.1 keeps the connection.
    RawClient client(server_->port());
    client.Send("GET /empty HTTP/1.1\r\nHost: h\r\n\r\n");
    client.Send("GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    const std::string answers = client.ReadUntilClosed();
    EXPECT_THAT(answers, ::testing::StartsWith("HTTP/1.1 204 No Content\r\nServer: pushgate\r\n"));
    EXPECT_THAT(answers, HasSubstr(" GMT\r\n\r\nHTTP/1.1 200 OK\r\n"));
    EXPECT_THAT(answers.substr(0, answers.find("HTTP/1.1 200")),
                ::testing::Not(HasSubstr("Content-Length")));
    EXPECT_THAT(answers, ::testing::EndsWith("Content-Length: 2\r\nConnection: close\r\n\r\nhi"));
  }
  {  // HEAD gets the headers of a GET, Content-Length included, and no body.
    RawClient client(server_->port());
    client.Send("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n");
    client.Send("GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    const std::string answers = client.ReadUntilClosed();
    EXPECT_THAT(answers, HasSubstr("Content-Length: 2\r\n\r\nHTTP/1.1 200 OK\r\n"));
    EXPECT_THAT(answers, ::testing::EndsWith("Connection: close\r\n\r\nhi"));
  }
  {  // HTTP/1.0 closes unless the client asks to keep the connection, and then says so.
    RawClient client(server_->port());
    client.Send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /y HTTP/1.0\r\n\r\n");
    const std::string answers = client.ReadUntilClosed();
    EXPECT_THAT(answers, ::testing::StartsWith("HTTP/1.0 200 OK\r\n"));
    EXPECT_THAT(answers, HasSubstr("Connection: keep-alive\r\n\r\nhiHTTP/1.0 200 OK\r\n"));
    EXPECT_THAT(answers, ::testing::EndsWith("Content-Length: 2\r\n\r\nhi"));
  }
}

TEST_F(HttpServerTest, BodyOverLimitIs413AndHandlerNotCalled) {
  HttpServerOptions options;
  options.max_body_bytes = 100;
  // The server's own answers are reported, so that they can be counted.
  std::atomic<int> refused_status{0};
  options.on_refused = [&](int status, absl::string_view, absl::string_view) {
    refused_status = status;
  };
  bool called = false;
  StartServer(options, [&](HttpRequest, HttpResponder respond) {
    called = true;
    respond(HttpResponse{});
  });
  CurlResult r = Send(curl_, "PUT", Url("/x"), std::string(101, 'a'));
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("100 bytes"));
  EXPECT_FALSE(called);
  EXPECT_EQ(refused_status.load(), 413);
  refused_status = 0;
  CURL* other = curl_easy_init();
  EXPECT_EQ(Send(other, "PUT", Url("/x"), std::string(100, 'a')).status, 200);
  curl_easy_cleanup(other);
  EXPECT_EQ(refused_status.load(), 0);  // the handler's answers are not
}

// A client that sends its whole body without waiting for `100 Continue` (Python's
// push_to_gateway, say) is still writing when the 413 goes out. Closing the socket with its
// body unread would reset the connection, and the client would see the reset, not the 413.
TEST_F(HttpServerTest, A413ReachesAClientStillSendingItsBody) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  RawClient client(server_->port());
  const size_t body_bytes = 8 << 20;
  client.Send(
      absl::StrCat("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: ", body_bytes, "\r\n\r\n"));
  // As a client does: the whole body, then the answer.
  EXPECT_TRUE(client.SendAll(std::string(body_bytes, 'a'))) << "the server reset the connection";
  const std::string answer = client.ReadUntilClosed();
  EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(answer, HasSubstr("1024 bytes"));
}

// A handler answering with the size of the body it got: "<n> bytes".
HttpHandler AnswerBodySize() {
  return [](HttpRequest request, HttpResponder respond) {
    HttpResponse response;
    response.body = absl::StrCat(request.body.size(), " bytes");
    respond(response);
  };
}

// Waits until the server counts `bytes` of bodies being received; false after 10 s.
bool WaitForReceiving(const HttpServer& server, size_t bytes) {
  for (int i = 0; i < 1000; ++i) {
    if (server.receiving_bytes() == bytes) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

// Clients uploading at once: each body is held until it is whole, so together they are bounded.
// Bodies count as their bytes arrive; one announced larger than the room left is answered 503
// before it is sent, and a header alone holds nothing.
TEST_F(HttpServerTest, BodiesBeingReceivedAtOnceAreBoundedWith503) {
  HttpServerOptions options;
  options.max_receiving_bytes = 1000;
  std::vector<int> refused;
  absl::Mutex refused_mu;
  options.on_refused = [&](int status, absl::string_view, absl::string_view) {
    absl::MutexLock lock(&refused_mu);
    refused.push_back(status);
  };
  std::atomic<int> handled{0};
  StartServer(options, [&](HttpRequest request, HttpResponder respond) {
    ++handled;
    HttpResponse response;
    response.body = absl::StrCat(request.body.size(), " bytes");
    respond(response);
  });
  // Announcing a body holds no room: only what arrives does.
  RawClient silent(server_->port());
  // (300 fits beside the 600 below whichever is read first; counted, it would leave no room
  // for the 400 that fits further down.)
  silent.Send("PUT /silent HTTP/1.1\r\nHost: t\r\nContent-Length: 300\r\n\r\n");
  RawClient slow(server_->port());
  slow.Send("PUT /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 700\r\n\r\n" + std::string(600, 'a'));
  ASSERT_TRUE(WaitForReceiving(*server_, 600));

  CurlResult over = Send(curl_, "PUT", Url("/over"), std::string(500, 'b'));
  EXPECT_EQ(over.status, 503);
  EXPECT_THAT(over.body, HasSubstr("its body, 500 bytes, does not fit beside the 600 bytes of "
                                   "other request bodies being received (the limit is 1000 "
                                   "bytes, --max_receiving_bytes)"));
  EXPECT_THAT(over.headers, HasSubstr("Retry-After: 1"));
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(server_->refused_for_room(), 1u);
  {
    absl::MutexLock lock(&refused_mu);
    EXPECT_THAT(refused, ::testing::ElementsAre(503));
  }
  // Exactly up to the limit fits.
  CURL* other = curl_easy_init();
  CurlResult fits = Send(other, "PUT", Url("/fits"), std::string(400, 'c'));
  EXPECT_EQ(fits.status, 200);
  EXPECT_EQ(fits.body, "400 bytes");

  slow.Send(std::string(100, 'a'));
  EXPECT_THAT(slow.ReadUntil("700 bytes"), HasSubstr("HTTP/1.1 200"));
  // The slow body was handed over: the room is back.
  EXPECT_TRUE(WaitForReceiving(*server_, 0));
  EXPECT_EQ(Send(other, "PUT", Url("/over"), std::string(500, 'b')).status, 200);
  // A body larger than the limit gets in while no other body is being received.
  CurlResult alone = Send(other, "PUT", Url("/alone"), std::string(5000, 'd'));
  EXPECT_EQ(alone.status, 200);
  EXPECT_EQ(alone.body, "5000 bytes");
  EXPECT_EQ(server_->refused_for_room(), 1u);
  curl_easy_cleanup(other);
  server_->Stop();  // before the locals its callbacks use go
}

// A body that got in by its announced length may still find the room taken by the time its
// bytes arrive, and a chunked one announces none: both are refused when their next bytes would
// not fit, and what they held is free again at once.
TEST_F(HttpServerTest, BodiesAreRefusedMidwayWhenTheirNextBytesWouldNotFit) {
  HttpServerOptions options;
  options.max_receiving_bytes = 1000;
  StartServer(options, AnswerBodySize());
  RawClient slow(server_->port());
  slow.Send("PUT /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 700\r\n\r\n" + std::string(600, 'a'));
  ASSERT_TRUE(WaitForReceiving(*server_, 600));

  // Announced 300: fits beside the 600, and its first byte is taken. The rest comes after a
  // chunked body took 300 more.
  RawClient announced(server_->port());
  announced.Send("PUT /announced HTTP/1.1\r\nHost: t\r\nContent-Length: 300\r\n\r\nx");
  ASSERT_TRUE(WaitForReceiving(*server_, 601));
  RawClient chunked(server_->port());
  chunked.Send(
      "PUT /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "12c\r\n" +
      std::string(300, 'c') + "\r\n");
  ASSERT_TRUE(WaitForReceiving(*server_, 901));
  EXPECT_TRUE(announced.SendAll(std::string(299, 'x')));
  shutdown(announced.fd(), SHUT_WR);  // so that the server need not wait out its linger
  const std::string refused = announced.ReadUntilClosed();
  EXPECT_THAT(refused, ::testing::StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(refused, HasSubstr("its body, 300 bytes so far, does not fit beside the 900 bytes"));
  ASSERT_TRUE(WaitForReceiving(*server_, 900));

  // The chunked body's next 200 would make 1100.
  EXPECT_TRUE(chunked.SendAll("c8\r\n" + std::string(200, 'c') + "\r\n0\r\n\r\n"));
  shutdown(chunked.fd(), SHUT_WR);
  const std::string refused_chunked = chunked.ReadUntilClosed();
  EXPECT_THAT(refused_chunked, ::testing::StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(refused_chunked, HasSubstr("500 bytes so far, does not fit beside the 600 bytes"));
  // Nothing of either refused body is still counted.
  EXPECT_TRUE(WaitForReceiving(*server_, 600));
  slow.Send(std::string(100, 'a'));
  EXPECT_THAT(slow.ReadUntil("700 bytes"), HasSubstr("HTTP/1.1 200"));
  EXPECT_TRUE(WaitForReceiving(*server_, 0));
  EXPECT_EQ(server_->refused_for_room(), 2u);
}

// A request without a body takes no room, even while a body larger than the limit (let in
// because it came alone) is being received.
TEST_F(HttpServerTest, RequestsWithoutABodyAlwaysFit) {
  HttpServerOptions options;
  options.max_receiving_bytes = 1000;
  StartServer(options, AnswerBodySize());
  RawClient large(server_->port());
  large.Send("PUT /large HTTP/1.1\r\nHost: t\r\nContent-Length: 3000\r\n\r\n" +
             std::string(1500, 'a'));
  ASSERT_TRUE(WaitForReceiving(*server_, 1500));
  EXPECT_EQ(Send(curl_, "DELETE", Url("/empty"), "").status, 200);
  EXPECT_EQ(Send(curl_, "GET", Url("/get"), "").status, 200);
  large.Send(std::string(1500, 'a'));
  EXPECT_THAT(large.ReadUntil("3000 bytes"), HasSubstr("HTTP/1.1 200"));
}

// A chunk's framing (its size line, extensions included) is read whole before its data, and
// the parser sets no bound on it: the read buffer's limit does.
TEST_F(HttpServerTest, AnEndlessChunkExtensionIsRefusedNotHeld) {
  HttpServerOptions options;
  options.max_receiving_bytes = 1000;
  StartServer(options, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  RawClient client(server_->port());
  client.Send(
      "PUT /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=");
  // Sends until the server answers (and drops what is sent after) or 8 MiB went unanswered.
  const std::string extension(64 << 10, 'e');
  size_t sent = 0;
  while (sent < (8u << 20) && client.SendAll(extension)) sent += extension.size();
  shutdown(client.fd(), SHUT_WR);
  const std::string answer = client.ReadUntilClosed();
  EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(answer, HasSubstr("chunk size line"));
}

// The header limit holds for the header as a whole. Beast's parser takes complete fields out
// of its buffer as they come and checks its limit only against the rest, so millions of short
// fields once got through (a front took 450 MB for 16 MB of them, then answered 200).
TEST_F(HttpServerTest, HeadersOverTheLimitGet431WhateverTheirShape) {
  HttpServerOptions options;
  options.max_header_bytes = 4096;
  std::atomic<int> handled{0};
  StartServer(options, [&](HttpRequest, HttpResponder respond) {
    ++handled;
    respond(HttpResponse{});
  });
  std::string many_fields = "PUT /x HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 100000; ++i) many_fields += "a:\r\n";
  many_fields += "Content-Length: 2\r\n\r\nhi";
  RawClient many(server_->port());
  EXPECT_TRUE(many.SendAll(many_fields));
  shutdown(many.fd(), SHUT_WR);
  EXPECT_THAT(many.ReadUntilClosed(), ::testing::StartsWith("HTTP/1.1 431"));

  RawClient long_value(server_->port());
  EXPECT_TRUE(long_value.SendAll("PUT /x HTTP/1.1\r\nHost: t\r\nX-Long: " + std::string(5000, 'v') +
                                 "\r\nContent-Length: 2\r\n\r\nhi"));
  shutdown(long_value.fd(), SHUT_WR);
  EXPECT_THAT(long_value.ReadUntilClosed(), ::testing::StartsWith("HTTP/1.1 431"));
  EXPECT_EQ(handled.load(), 0);

  // Just under the limit, sent a byte at a time, is a request like any other.
  std::string fits = "PUT /x HTTP/1.1\r\nHost: t\r\nX-Pad: ";
  fits += std::string(4096 - fits.size() - 23, 'p');
  fits += "\r\nContent-Length: 2\r\n\r\n";
  ASSERT_EQ(fits.size(), 4096u);
  RawClient slow(server_->port());
  for (char c : fits) slow.Send(std::string(1, c));
  slow.Send("hi");
  EXPECT_THAT(slow.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(handled.load(), 1);
  server_->Stop();  // before the locals its callbacks use go
}

// A header whose lines end in a bare LF is refused as soon as it is whole, not waited on.
TEST_F(HttpServerTest, BareLineFeedsGet400AtOnce) {
  StartServer({}, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  RawClient client(server_->port());
  client.Send("PUT /x HTTP/1.1\nHost: t\nContent-Length: 2\n\nhi");
  const absl::Time start = absl::Now();
  EXPECT_THAT(client.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 400"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// Chunked trailers are not request headers (RFC 9110, 6.5.1): a Content-Encoding, Content-Type
// or Connection field after the body must not change how the body is read or the connection
// is kept, or a proxy that checked the headers would see another request than the handler.
TEST_F(HttpServerTest, TrailerFieldsAreNotHeaders) {
  StartServer({}, [&](HttpRequest request, HttpResponder respond) {
    HttpResponse response;
    for (const auto& [name, value] : request.headers) {
      absl::StrAppend(&response.body, name, "=", value, ";");
    }
    absl::StrAppend(&response.body, "end");
    respond(response);
  });
  RawClient client(server_->port());
  // Beast files a trailer next to the header field of the same name, not after the others.
  client.Send(
      "POST /x HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
      "Content-Encoding: identity\r\n\r\n"
      "4\r\nup 1\r\n0\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Type: application/x\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_THAT(client.ReadUntil("end"),
              AllOf(HasSubstr("HTTP/1.1 200"),
                    HasSubstr("\r\n\r\nHost=t;Content-Type=text/plain;Transfer-Encoding=chunked;"
                              "Content-Encoding=identity;end")));
  // Still open: the trailer's `Connection: close` is not the request's.
  client.Send("GET /y HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_THAT(client.ReadUntil("end"), HasSubstr("\r\n\r\nHost=t;end"));
}

// An empty line before a request line is skipped (RFC 9112, 2.2): some clients end a body
// with an extra CRLF.
TEST_F(HttpServerTest, EmptyLinesBeforeARequestAreSkipped) {
  StartServer({}, [&](HttpRequest request, HttpResponder respond) {
    HttpResponse response;
    response.body = request.target + " end";
    respond(response);
  });
  RawClient client(server_->port());
  client.Send("\r\n\r\nGET /first HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_THAT(client.ReadUntil("end"), AllOf(HasSubstr("HTTP/1.1 200"), HasSubstr("/first end")));
  client.Send("PUT /second HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi\r\n");
  EXPECT_THAT(client.ReadUntil("end"), HasSubstr("/second end"));
  client.Send("\r");  // a CRLF split across reads
  client.Send("\nGET /third HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_THAT(client.ReadUntil("end"), HasSubstr("/third end"));
}

// An HTTP/1.1 request names its host exactly once (RFC 9112, 3.2), as the Pushgateway's Go
// server also requires; HTTP/1.0 needs none, but may not name two either.
TEST_F(HttpServerTest, Http11RequestsNeedOneHostHeader) {
  StartServer({}, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  RawClient none(server_->port());
  none.Send("GET /x HTTP/1.1\r\n\r\n");
  EXPECT_THAT(none.ReadUntil("header\n"),
              AllOf(::testing::StartsWith("HTTP/1.1 400"),
                    HasSubstr("HTTP/1.1 request without a Host header")));
  RawClient two(server_->port());
  two.Send("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_THAT(two.ReadUntil("header\n"),
              AllOf(::testing::StartsWith("HTTP/1.1 400"), HasSubstr("more than one Host header")));
  RawClient old(server_->port());
  old.Send("GET /x HTTP/1.0\r\n\r\n");
  EXPECT_THAT(old.ReadUntilClosed(), ::testing::StartsWith("HTTP/1.0 200"));
  RawClient old_two(server_->port());
  old_two.Send("GET /x HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_THAT(old_two.ReadUntilClosed(), ::testing::StartsWith("HTTP/1.0 400"));
}

// HTTP/1.0 knows no chunked coding: a request that says it uses one has framing an HTTP/1.0
// proxy would read otherwise (RFC 9112, 6.1). It is refused and its connection closed, so
// that nothing after it is read as a request.
TEST_F(HttpServerTest, Http10WithTransferEncodingIsRefusedAndClosed) {
  std::atomic<int> handled{0};
  StartServer({}, [&](HttpRequest, HttpResponder respond) {
    ++handled;
    respond(HttpResponse{});
  });
  RawClient client(server_->port());
  client.Send(
      "POST /metrics/job/x HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
      "\r\n4\r\na 1\n\r\n0\r\n\r\nGET /-/healthy HTTP/1.0\r\n\r\n");
  shutdown(client.fd(), SHUT_WR);
  const std::string answers = client.ReadUntilClosed();
  EXPECT_THAT(answers, ::testing::StartsWith("HTTP/1.0 400"));
  EXPECT_THAT(answers, HasSubstr("Transfer-Encoding is not allowed in an HTTP/1.0 request"));
  EXPECT_EQ(answers.find("HTTP/1.0 200"), std::string::npos) << answers;
  EXPECT_EQ(handled.load(), 0);
  server_->Stop();  // before the locals its callbacks use go
}

// Out of file descriptors, a connection waits in the listen queue and accepting it fails
// until one is free again. The server must neither spin on that error meanwhile (a worker
// thread at 100% and a log line per attempt) nor give up accepting afterwards.
TEST_F(HttpServerTest, AcceptingWaitsOutAShortageOfDescriptorsWithoutSpinning) {
  StartServer({}, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  RawClient client(server_->port(), /*connect_now=*/false);
  rusage before, after;
  {
    NoFreeDescriptors shortage;
    client.Connect();  // queued, but not accepted while the shortage lasts
    getrusage(RUSAGE_SELF, &before);
    absl::SleepFor(absl::Milliseconds(500));
    getrusage(RUSAGE_SELF, &after);
  }
  const auto cpu = [](const rusage& r) {
    return absl::DurationFromTimeval(r.ru_utime) + absl::DurationFromTimeval(r.ru_stime);
  };
  // Spinning takes most of a core for the whole half second; waiting takes next to nothing.
  EXPECT_LT(cpu(after) - cpu(before), absl::Milliseconds(100));
  client.Send("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(client.ReadUntilClosed(), ::testing::StartsWith("HTTP/1.1 200"));
}

// Whether `fd` has something to read (or its peer closed) within `wait`.
bool ReadableWithin(int fd, absl::Duration wait) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, static_cast<int>(absl::ToInt64Milliseconds(wait))) > 0;
}

// Waits up to 10 s for the server to hold `count` connections.
bool WaitForOpenConnections(const HttpServer& server, size_t count) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (server.open_connections() != count) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

constexpr absl::string_view kGet = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";
// The server starts a connection's wait a little after the client sees what ends it (the
// answer sent, the connection accepted), so the client's clock may run that much ahead.
constexpr absl::Duration kClockSlack = absl::Milliseconds(20);

// At the limit, a new client is not refused: it waits in the listen queue and is served as
// soon as a connection closes. Connections whose header is in (here their bodies are on the
// way, stalled for less than kStalledBodyAge) are not closed to make room.
TEST_F(HttpServerTest, AtMaxConnectionsNewClientsWaitUntilOneCloses) {
  HttpServerOptions options;
  options.max_connections = 2;
  StartServer(options, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  RawClient first(server_->port());
  first.Send("PUT /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 4\r\n\r\nx ");
  RawClient second(server_->port());
  second.Send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nx ");
  ASSERT_TRUE(WaitForOpenConnections(*server_, 2));

  RawClient waiting(server_->port());
  waiting.Send(kGet);
  // Past the age at which a connection waiting for a header may be closed, and several checks.
  EXPECT_FALSE(ReadableWithin(waiting.fd(), HttpServer::kIdleReclaimAge + absl::Milliseconds(300)));
  EXPECT_EQ(server_->open_connections(), 2);
  EXPECT_EQ(server_->connection_limit_reached(), 1);

  first.Send("1\n");  // answered, and closed as asked
  EXPECT_THAT(first.ReadUntilClosed(), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(waiting.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  second.Send("1\n");
  EXPECT_THAT(second.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(server_->connections_closed_for_room(), 0);
}

// At the limit, with a client waiting, a keep-alive connection idle between requests for at
// least kIdleReclaimAge is closed for it; one idle for less is not cut off.
TEST_F(HttpServerTest, AtMaxConnectionsIdleKeepAliveConnectionsMakeRoomForWaitingClients) {
  HttpServerOptions options;
  options.max_connections = 1;
  StartServer(options, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  RawClient idle(server_->port());
  idle.Send(kGet);
  ASSERT_THAT(idle.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  const absl::Time answered = absl::Now();

  RawClient waiting(server_->port());
  waiting.Send(kGet);
  EXPECT_THAT(waiting.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_GE(absl::Now() - answered, HttpServer::kIdleReclaimAge - kClockSlack);
  EXPECT_EQ(idle.ReadUntilClosed(), "");  // closed without a word, as keep-alive allows
  EXPECT_EQ(server_->connections_closed_for_room(), 1);
  // Once with the first connection, again with the one that took its place.
  EXPECT_EQ(server_->connection_limit_reached(), 2);
  EXPECT_TRUE(WaitForOpenConnections(*server_, 1));
}

// Clients that connect and send nothing, or never finish their header, hold the limit no
// longer than kIdleReclaimAge once others wait: otherwise 2,048 silent sockets would lock
// every client out for the whole idle timeout.
TEST_F(HttpServerTest, AtMaxConnectionsSilentAndStalledClientsMakeRoomFirstAcceptedFirst) {
  HttpServerOptions options;
  options.max_connections = 2;
  StartServer(options, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  const absl::Time connected = absl::Now();
  RawClient silent(server_->port());
  ASSERT_TRUE(WaitForOpenConnections(*server_, 1));
  RawClient stalled(server_->port());
  stalled.Send("GET /x HTTP/1.1\r\nHost: t\r\n");
  ASSERT_TRUE(WaitForOpenConnections(*server_, 2));

  RawClient waiting(server_->port());
  waiting.Send(kGet);
  EXPECT_THAT(waiting.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_GE(absl::Now() - connected, HttpServer::kIdleReclaimAge - kClockSlack);
  EXPECT_EQ(silent.ReadUntilClosed(), "");
  EXPECT_EQ(server_->connections_closed_for_room(), 1);

  RawClient next(server_->port());
  next.Send(kGet);
  EXPECT_THAT(next.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(stalled.ReadUntilClosed(), "");
  EXPECT_EQ(server_->connections_closed_for_room(), 2);
}

// A body that stopped arriving holds its place no longer than kStalledBodyAge once others
// wait; one that keeps arriving, however slowly, is never cut off.
TEST_F(HttpServerTest, AtMaxConnectionsOnlyStalledBodiesMakeRoom) {
  HttpServerOptions options;
  options.max_connections = 2;
  StartServer(options, AnswerBodySize());
  // The trickling one first: were it not tracked, first accepted would be first closed.
  RawClient trickling(server_->port());
  trickling.Send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n");
  ASSERT_TRUE(WaitForOpenConnections(*server_, 1));
  const absl::Time stalled_since = absl::Now();
  RawClient stalled(server_->port());
  stalled.Send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab");
  ASSERT_TRUE(WaitForOpenConnections(*server_, 2));

  RawClient waiting(server_->port());
  waiting.Send(kGet);
  int sent = 0;
  while (!ReadableWithin(waiting.fd(), absl::Milliseconds(500)) && sent < 19) {
    trickling.Send("x");
    ++sent;
  }
  EXPECT_THAT(waiting.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_GE(absl::Now() - stalled_since, HttpServer::kStalledBodyAge - kClockSlack);
  EXPECT_EQ(stalled.ReadUntilClosed(), "");
  EXPECT_EQ(server_->connections_closed_for_room(), 1);
  trickling.Send(std::string(20 - sent, 'x'));
  EXPECT_THAT(trickling.ReadUntil("20 bytes"), ::testing::StartsWith("HTTP/1.1 200"));
}

// One connection is closed per client waiting, not every idle one: the rest stay usable.
TEST_F(HttpServerTest, AtMaxConnectionsOneConnectionIsClosedPerClientWaiting) {
  HttpServerOptions options;
  options.max_connections = 6;
  options.threads = 2;
  StartServer(options, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 6; ++i) {
    idle.push_back(std::make_unique<RawClient>(server_->port()));
    idle.back()->Send(kGet);
    ASSERT_THAT(idle.back()->ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  }
  absl::SleepFor(HttpServer::kIdleReclaimAge + absl::Milliseconds(100));
  RawClient waiting(server_->port());
  waiting.Send(kGet);
  EXPECT_THAT(waiting.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  // A few more checks go by with the limit reached again and no one waiting.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(server_->connections_closed_for_room(), 1);
  int usable = 0;
  for (auto& client : idle) {
    if (!ReadableWithin(client->fd(), absl::ZeroDuration())) {  // neither closed nor answered
      client->Send(kGet);
      usable += absl::StartsWith(client->ReadUntil("\r\n\r\n"), "HTTP/1.1 200");
    }
  }
  EXPECT_EQ(usable, 5);
}

// Below the limit nothing waits and nothing is closed, however long connections sit idle.
TEST_F(HttpServerTest, BelowMaxConnectionsIdleConnectionsAreKept) {
  HttpServerOptions options;
  options.max_connections = 3;
  StartServer(options, [&](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  RawClient idle(server_->port());
  idle.Send(kGet);
  ASSERT_THAT(idle.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  absl::SleepFor(HttpServer::kIdleReclaimAge + absl::Milliseconds(100));
  RawClient other(server_->port());
  other.Send(kGet);
  EXPECT_THAT(other.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  idle.Send(kGet);
  EXPECT_THAT(idle.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(server_->open_connections(), 2);
  EXPECT_EQ(server_->connection_limit_reached(), 0);
  EXPECT_EQ(server_->connections_closed_for_room(), 0);
}

TEST_F(HttpServerTest, AnswersExpectContinueWithoutStalling) {
  StartServer({}, [&](HttpRequest request, HttpResponder respond) {
    HttpResponse response;
    response.body = absl::StrCat(request.body.size());
    respond(response);
  });
  // curl waits a whole second for "100 Continue" if the server stays silent.
  curl_easy_setopt(curl_, CURLOPT_EXPECT_100_TIMEOUT_MS, 5000L);
  absl::Time start = absl::Now();
  CurlResult r = Send(curl_, "PUT", Url("/x"), std::string(5000, 'b'), {"Expect: 100-continue"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "5000");
  EXPECT_THAT(r.headers, HasSubstr("100 Continue"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
}

// A body framed by anything but Content-Length or chunked coding alone would be read as the
// next request (request smuggling): such requests are refused and their connection closed.
TEST_F(HttpServerTest, TransferCodingsOtherThanChunkedAreRefused) {
  std::atomic<int> handled{0};
  StartServer({}, [&](HttpRequest request, HttpResponder respond) {
    ++handled;
    HttpResponse response;
    response.body = request.body;
    respond(response);
  });
  const std::string inner = "PUT /smuggled HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nx 1\n";
  for (const char* coding : {"gzip", "gzip, chunked", "chunked, gzip", "identity"}) {
    SCOPED_TRACE(coding);
    RawClient client(server_->port());
    client.Send(absl::StrCat("POST /outer HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ", coding,
                             "\r\n\r\n", inner));
    const std::string answer = client.ReadUntilClosed();
    EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 501 Not Implemented\r\n"));
    EXPECT_THAT(answer,
                HasSubstr(absl::StrCat("Transfer-Encoding \"", coding, "\" is not supported")));
    EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "a second answer: " << answer;
  }
  EXPECT_EQ(handled.load(), 0);
  // Chunked alone is fine in any case and with blanks around it.
  RawClient client(server_->port());
  client.Send(
      "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \r\nConnection: close\r\n\r\n"
      "4\r\nx 1\n\r\n0\r\n\r\n");
  EXPECT_THAT(client.ReadUntilClosed(), ::testing::EndsWith("\r\n\r\nx 1\n"));
  EXPECT_EQ(handled.load(), 1);
}

TEST_F(HttpServerTest, ExpectationsBeyondContinueAreRefusedAndHttp10GetsNoInterimAnswer) {
  StartServer({}, [](HttpRequest request, HttpResponder respond) {
    HttpResponse response;
    response.body = request.body;
    respond(response);
  });
  {
    RawClient client(server_->port());
    client.Send("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 4\r\n\r\n");
    const std::string answer = client.ReadUntilClosed();
    EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 417 Expectation Failed\r\n"));
    EXPECT_THAT(answer, HasSubstr("unsupported Expect \"something\""));
  }
  {  // HTTP/1.0 has no interim responses: the body is simply read.
    RawClient client(server_->port());
    client.Send("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nx 1\n");
    const std::string answer = client.ReadUntilClosed();
    EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.0 200 OK\r\n"));
    EXPECT_THAT(answer, ::testing::EndsWith("x 1\n"));
  }
}

// Proxies send the absolute form; the handler sees the origin form either way.
TEST_F(HttpServerTest, AbsoluteFormTargetsReachTheHandlerAsPathAndQuery) {
  std::vector<std::string> targets;
  absl::Mutex mu;
  StartServer({}, [&](HttpRequest request, HttpResponder respond) {
    {
      absl::MutexLock lock(&mu);
      targets.push_back(request.target);
    }
    respond(HttpResponse{});
  });
  RawClient client(server_->port());
  client.Send(
      "PUT http://127.0.0.1:9091/metrics/job/abs?x=1 HTTP/1.1\r\nHost: a\r\n"
      "Content-Length: 0\r\n\r\n"
      "GET HTTPS://example.com?q HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET http://example.com HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  client.ReadUntilClosed();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(targets, ::testing::ElementsAre("/metrics/job/abs?x=1", "/?q", "/"));
}

// Every answer carries the Date (RFC 9110, 6.6.1), and answers the server makes itself speak
// the version of the request they answer, not of the one before it on the connection.
TEST_F(HttpServerTest, AnswersCarryTheDateAndTheRequestsVersion) {
  HttpServerOptions options;
  options.max_body_bytes = 10;
  StartServer(options, [](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); });
  RawClient client(server_->port());
  client.Send(
      "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
      "PUT /x HTTP/1.0\r\nContent-Length: 11\r\n\r\n01234567890");
  const std::string answers = client.ReadUntilClosed();
  EXPECT_THAT(answers, ::testing::StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(answers, HasSubstr("\r\n\r\nHTTP/1.0 413 Payload Too Large\r\n"));
  const size_t date = answers.find("\r\nDate: ");
  ASSERT_NE(date, std::string::npos) << answers;
  const std::string value = answers.substr(date + 8, answers.find("\r\n", date + 2) - date - 8);
  absl::Time sent;
  std::string error;
  ASSERT_TRUE(
      absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, absl::UTCTimeZone(), &sent, &error))
      << value << ": " << error;
  EXPECT_LT(absl::AbsDuration(absl::Now() - sent), absl::Seconds(5)) << value;
}

// A client waiting for `100 Continue` is answered at once when the answer cannot depend on
// its body, and never sends it; otherwise it is invited to.
TEST_F(HttpServerTest, ARequestRefusedWhateverItsBodyIsAnsweredBeforeTheBodyIsSent) {
  HttpServerOptions options;
  std::atomic<int> refused_status{0};
  options.on_refused = [&](int status, absl::string_view, absl::string_view) {
    refused_status = status;
  };
  options.answer_before_body = [](absl::string_view method,
                                  absl::string_view target) -> std::optional<HttpResponse> {
    if (method == "PUT" && target == "/ok?x=1") return std::nullopt;
    return HttpResponse::Error(404, absl::StrCat("no ", method, " ", target));
  };
  std::atomic<int> handled{0};
  StartServer(options, [&](HttpRequest request, HttpResponder respond) {
    ++handled;
    HttpResponse response;
    response.body = request.body;
    respond(response);
  });
  {
    RawClient client(server_->port());
    client.Send(
        "PUT http://h/nope HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
        "Content-Length: 10000000\r\n\r\n");
    const std::string answer = client.ReadUntilClosed();
    EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 404 Not Found\r\n"));
    EXPECT_THAT(answer, HasSubstr("no PUT /nope"));
    EXPECT_THAT(answer, HasSubstr("Connection: close"));
    EXPECT_EQ(refused_status.load(), 404);
  }
  EXPECT_EQ(handled.load(), 0);
  RawClient client(server_->port());
  client.Send(
      "PUT /ok?x=1 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n"
      "Connection: close\r\n\r\n");
  char interim[64] = {};
  ASSERT_GT(recv(client.fd(), interim, sizeof(interim) - 1, 0), 0);
  EXPECT_THAT(std::string(interim), ::testing::StartsWith("HTTP/1.1 100 Continue\r\n"));
  client.Send("x 1\n");
  EXPECT_THAT(client.ReadUntilClosed(), ::testing::EndsWith("\r\n\r\nx 1\n"));
  EXPECT_EQ(handled.load(), 1);
}

TEST_F(HttpServerTest, ShutdownLetsRequestsInFlightGetTheirAnswer) {
  std::thread late;
  StartServer({}, [&](HttpRequest, HttpResponder respond) {
    late = std::thread([respond] {
      absl::SleepFor(absl::Milliseconds(300));
      HttpResponse response;
      response.body = "answered";
      respond(response);
    });
  });
  CurlResult result;
  std::thread client([&] { result = Send(curl_, "PUT", Url("/slow"), "x"); });
  absl::SleepFor(absl::Milliseconds(100));  // The request is now with the handler.
  server_->Shutdown(absl::Seconds(5));
  client.join();
  late.join();
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "answered");
  EXPECT_THAT(result.headers, HasSubstr("Connection: close"));
}

// What the front does on SIGTERM: once the drain timeout has passed and the server stopped,
// the requests still unanswered (large pushes waiting for a decode thread, pushes waiting for
// the aggregator) are answered 503, and those answers must still reach their clients.
TEST_F(HttpServerTest, AnAnswerGivenAfterTheDrainTimeoutStillReachesTheClient) {
  absl::Mutex mu;
  std::optional<HttpResponder> pending;
  StartServer({}, [&](HttpRequest, HttpResponder respond) {
    absl::MutexLock lock(&mu);
    pending = std::move(respond);
  });
  CurlResult result;
  std::thread client([&] { result = Send(curl_, "PUT", Url("/slow"), "x"); });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::optional<HttpResponder>* p) { return p->has_value(); }, &pending));
  }
  server_->Shutdown(absl::Milliseconds(50));  // the drain times out: the server has stopped
  HttpResponder respond;
  {
    absl::MutexLock lock(&mu);
    respond = *pending;
  }
  respond(HttpResponse::Error(503, "shutting down"));
  client.join();
  EXPECT_EQ(result.status, 503);
  EXPECT_EQ(result.body, "shutting down\n");
}

TEST(SplitHostPortTest, ParsesAndRejects) {
  auto a = SplitHostPort("127.0.0.1:9091");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 9091);
  auto b = SplitHostPort("[::1]:80");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "::1");
  EXPECT_FALSE(SplitHostPort("nohost").ok());
  EXPECT_FALSE(SplitHostPort("h:99999").ok());
}

}  // namespace
}  // namespace pushgate

namespace pushgate {
namespace {

TEST(HttpServerRestartTest, PortIsFreeAgainAfterStop) {
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  auto handler = [](HttpRequest, HttpResponder respond) { respond(HttpResponse{}); };
  HttpServer first(options, handler);
  ASSERT_TRUE(first.Start().ok());
  const int port = first.port();
  CURL* curl = curl_easy_init();  // Leaves a kept-alive connection open on the server.
  EXPECT_EQ(Send(curl, "GET", absl::StrCat("http://127.0.0.1:", port, "/"), "").status, 200);
  first.Stop();
  options.listen = absl::StrCat("127.0.0.1:", port);
  HttpServer second(options, handler);
  absl::Status started = second.Start();
  EXPECT_TRUE(started.ok()) << started;
  curl_easy_cleanup(curl);
}

}  // namespace
}  // namespace pushgate
