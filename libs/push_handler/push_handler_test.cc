// The push handler in-process, in front of a real ingest stream to a recording processor:
// what reaches the aggregator for each kind of request, and what the client is answered.
#include "libs/push_handler/push_handler.h"

#include <future>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/compression/compression.h"
#include "libs/ingest_server/ingest_server.h"
#include "libs/thread_name/thread_name.h"

namespace pushgate {
namespace {

using pushgate::v1::PushAck;
using pushgate::v1::PushRequest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The whole push as a message, which outlives Process (unlike the view).
PushRequest Parsed(absl::string_view serialized) {
  PushRequest request;
  EXPECT_TRUE(request.ParseFromArray(serialized.data(), static_cast<int>(serialized.size())));
  return request;
}

// Records every push and answers with a scripted code.
class RecordingProcessor : public PushProcessor {
 public:
  void Process(absl::Span<Push> pushes, bool) override {
    for (Push& push : pushes) ProcessOne(Parsed(push.serialized), std::move(push.done));
  }
  void ProcessOne(const PushRequest& request, Done done) {
    PushAck ack;
    absl::Duration delay;
    {
      absl::MutexLock lock(&mu_);
      received_.push_back(request);
      ack.set_code(code_);
      ack.set_message("scripted");
      delay = delay_;
    }
    absl::SleepFor(delay);  // a slow disk commit
    done(ack);
  }
  void set_delay(absl::Duration delay) {
    absl::MutexLock lock(&mu_);
    delay_ = delay;
  }
  void set_code(PushAck::Code code) {
    absl::MutexLock lock(&mu_);
    code_ = code;
  }
  std::vector<PushRequest> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  absl::Mutex mu_;
  std::vector<PushRequest> received_ ABSL_GUARDED_BY(mu_);
  PushAck::Code code_ ABSL_GUARDED_BY(mu_) = PushAck::OK;
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
};

class PushHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<IngestServer>("127.0.0.1:0", &processor_);
    ASSERT_TRUE(server_->Start().ok());
    IngestClientOptions options;
    options.target = absl::StrCat("127.0.0.1:", server_->port());
    client_ = std::make_unique<IngestClient>(options);
    client_->Start();
    for (int i = 0; i < 200 && !client_->connected(); ++i) absl::SleepFor(absl::Milliseconds(10));
    PushHandlerOptions handler_options;
    handler_options.route_prefix = NormalizeRoutePrefix("/pg/");
    handler_options.limits.max_labels_per_series = 2;
    handler_options.limits.max_label_name_length = 8;
    handler_options.limits.max_label_value_length = 10;
    handler_options.max_decompressed_bytes = 4096;
    handler_ = std::make_unique<PushHandler>(handler_options, client_.get(), &registry_);
  }
  void TearDown() override {
    client_->Stop();
    server_->Stop();
  }

  HttpResponse Handle(std::string method, std::string target, std::string body = "",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.body = std::move(body);
    request.headers = std::move(headers);
    std::promise<HttpResponse> answered;
    handler_->Handle(std::move(request), [&](HttpResponse r) { answered.set_value(r); });
    return answered.get_future().get();
  }

  RecordingProcessor processor_;
  MetricsRegistry registry_;
  std::unique_ptr<IngestServer> server_;
  std::unique_ptr<IngestClient> client_;
  std::unique_ptr<PushHandler> handler_;
};

TEST_F(PushHandlerTest, PushReachesTheAggregatorDecodedWithItsKeyMethodAndTime) {
  const int64_t before = absl::GetCurrentTimeNanos();
  std::string gzipped;
  ASSERT_TRUE(GzipCompress("# TYPE up gauge\nup{a=\"1\"} 1\n", &gzipped).ok());
  HttpResponse response = Handle("POST", "/pg/metrics/job/j/instance@base64/aS8x?ignored=1",
                                 gzipped, {{"Content-Encoding", "GZIP"}});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "");
  const std::vector<PushRequest> received = processor_.received();
  ASSERT_EQ(received.size(), 1u);
  const PushRequest& push = received[0];
  EXPECT_EQ(push.method(), pushgate::v1::POST);
  EXPECT_EQ(push.grouping_key().job(), "j");
  ASSERT_EQ(push.grouping_key().labels_size(), 1);
  EXPECT_EQ(push.grouping_key().labels(0).value(), "i/1");
  ASSERT_EQ(push.families_size(), 1);
  EXPECT_EQ(push.families(0).name(), "up");
  EXPECT_GE(push.receive_time_ns(), before);
  EXPECT_LE(push.receive_time_ns(), absl::GetCurrentTimeNanos());
}

// A large push is decoded on the handler's decode thread: the HTTP thread that handed it over
// goes back to its other connections. What arrives, and the answer, are the same.
TEST_F(PushHandlerTest, LargePushesAreDecodedOnTheDecodeThread) {
  PushHandlerOptions options;
  options.route_prefix = "/pg";
  options.large_push_bytes = 200;
  options.max_decompressed_bytes = 4096;
  PushHandler handler(options, client_.get(), &registry_);
  struct Answer {
    HttpResponse response;
    std::string thread;
  };
  const auto handle = [&handler](std::string target, std::string body,
                                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest request;
    request.method = "PUT";
    request.target = std::move(target);
    request.body = std::move(body);
    request.headers = std::move(headers);
    std::promise<Answer> answered;
    handler.Handle(std::move(request), [&](HttpResponse r) {
      answered.set_value(Answer{std::move(r), CurrentThreadName()});
    });
    return answered.get_future().get();
  };
  const std::string caller = CurrentThreadName();
  ASSERT_NE(caller, "decode");

  // Under the threshold: refused on the calling thread, before it returns.
  Answer small = handle("/pg/metrics/job/j", "bad{ 1\n");
  EXPECT_EQ(small.response.status, 400);
  EXPECT_EQ(small.thread, caller);
  // Over it, plain (200 bytes) or compressed (13 bytes count 16 times): on the decode thread.
  // (An accepted push is answered on the thread that gets the aggregator's ack.)
  Answer large = handle("/pg/metrics/job/j", std::string(200, 'x'));
  EXPECT_EQ(large.response.status, 400);
  EXPECT_EQ(large.thread, "decode");
  Answer compressed = handle("/pg/metrics/job/j", "not gzip data", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(compressed.response.status, 400);
  EXPECT_EQ(compressed.thread, "decode");
  EXPECT_EQ(handle("/pg/metrics/job/j", std::string(5000, '#')).response.status, 413);

  std::string body = "# TYPE up gauge\n";
  for (int i = 0; body.size() < 400; ++i) absl::StrAppend(&body, "up{a=\"", i, "\"} ", i, "\n");
  Answer valid = handle("/pg/metrics/job/j/instance@base64/aS8x?ignored=1", body);
  EXPECT_EQ(valid.response.status, 200);
  const std::vector<PushRequest> received = processor_.received();
  ASSERT_EQ(received.size(), 1u);
  const PushRequest& push = received[0];
  EXPECT_EQ(push.grouping_key().job(), "j");
  ASSERT_EQ(push.grouping_key().labels_size(), 1);
  EXPECT_EQ(push.grouping_key().labels(0).name(), "instance");
  EXPECT_EQ(push.grouping_key().labels(0).value(), "i/1");
  ASSERT_EQ(push.families_size(), 1);
  EXPECT_GT(push.families(0).series_size(), 20);
}

// A compressed body's size says little about what it expands to (2 KB of zstd can make 64 MB):
// one that looks small but expands beyond large_push_bytes is decoded on the decode thread too,
// not on the HTTP thread, whose other connections would wait meanwhile.
TEST_F(PushHandlerTest, SmallBodiesThatExpandLargeAreDecodedOnTheDecodeThread) {
  PushHandlerOptions options;
  options.large_push_bytes = 4096;
  PushHandler handler(options, client_.get(), &registry_);
  const auto thread_of = [&handler](const std::string& text) {
    std::string gzipped;
    EXPECT_TRUE(GzipCompress(text, &gzipped).ok());
    EXPECT_LT(gzipped.size() * kCompressedBodyWeight, 4096u) << "looks small as sent";
    HttpRequest request;
    request.method = "PUT";
    request.target = "/metrics/job/j";
    request.body = std::move(gzipped);
    request.headers = {{"Content-Encoding", "gzip"}};
    std::promise<std::pair<int, std::string>> answered;
    handler.Handle(std::move(request), [&](HttpResponse r) {
      answered.set_value({r.status, CurrentThreadName()});
    });
    const auto [status, thread] = answered.get_future().get();
    EXPECT_EQ(status, 400) << "each body ends in a bad line, so that its decoder answers";
    return thread;
  };
  const std::string caller = CurrentThreadName();
  ASSERT_NE(caller, "decode");
  EXPECT_EQ(thread_of("# a comment\nbad{ 1\n"), caller);
  EXPECT_EQ(thread_of("# " + std::string(100000, 'x') + "\nbad{ 1\n"), "decode");
}

// A large push that waited too long for a decode thread is answered 503, not decoded (its
// client has likely given up); after StopDecoding the threads are gone and pushes are
// decoded on the thread that hands them over.
TEST_F(PushHandlerTest, LargePushesThatWaitedTooLongOrCameAfterStopAreNotQueued) {
  PushHandlerOptions options;
  options.route_prefix = "/pg";
  options.large_push_bytes = 10;
  options.max_decode_wait = absl::ZeroDuration();
  PushHandler handler(options, client_.get(), &registry_);
  const auto handle = [&handler](std::string body) {
    HttpRequest request;
    request.method = "PUT";
    request.target = "/pg/metrics/job/j";
    request.body = std::move(body);
    std::promise<std::pair<HttpResponse, std::string>> answered;
    handler.Handle(std::move(request), [&](HttpResponse r) {
      answered.set_value({std::move(r), CurrentThreadName()});
    });
    return answered.get_future().get();
  };
  const auto [stale, stale_thread] = handle("up 1\nup 2\nup 3\n");
  EXPECT_EQ(stale.status, 503);
  EXPECT_THAT(stale.body, HasSubstr("for a decode thread; retry later"));
  EXPECT_EQ(stale_thread, "decode");
  EXPECT_TRUE(processor_.received().empty());

  handler.StopDecoding();
  const auto [after, after_thread] = handle("bad{ 1\nbad{ 2\n");
  EXPECT_EQ(after.status, 400);
  EXPECT_EQ(after_thread, CurrentThreadName());
}

TEST_F(PushHandlerTest, RepeatedTextPushesOfAGroupArriveWithTheirOwnValues) {
  // From the third push of a group on, its text is matched with the group's earlier push
  // instead of being parsed; what arrives must not change.
  const auto body = [](absl::string_view requests, absl::string_view bucket) {
    return absl::StrCat("# TYPE requests counter\nrequests{code=\"200\"} ", requests,
                        "\n# TYPE latency histogram\nlatency_bucket{le=\"1\"} ", bucket,
                        "\nlatency_bucket{le=\"+Inf\"} 9\nlatency_sum 4.5\nlatency_count 9\n");
  };
  const std::vector<std::pair<std::string, std::string>> values = {
      {"1", "3"}, {"2", "4"}, {"3.5", "5"}, {"NaN", "0"}, {"5e3", "0"}};
  for (const auto& [requests, bucket] : values) {
    EXPECT_EQ(Handle("PUT", "/pg/metrics/job/j/instance/a", body(requests, bucket)).status, 200);
  }
  const std::vector<PushRequest> received = processor_.received();
  ASSERT_EQ(received.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE(i);
    google::protobuf::RepeatedPtrField<pushgate::v1::MetricFamily> expected;
    ASSERT_TRUE(ParseText(body(values[i].first, values[i].second), {}, &expected).ok());
    ASSERT_EQ(received[i].families_size(), expected.size());
    for (int f = 0; f < expected.size(); ++f) {
      EXPECT_EQ(received[i].families(f).SerializeAsString(), expected[f].SerializeAsString());
    }
  }
  // Pushes 3 and 5 came from a shape; push 4's bucket of 0 changed the encoding's layout (a
  // proto3 double of 0 is left out), so it was parsed, and its shape made.
  const std::string metrics = Handle("GET", "/pg/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("\npushgate_front_text_shape_cache_hits_total 2\n"));
  EXPECT_THAT(metrics, HasSubstr("\npushgate_front_text_shape_cache_misses_total 3\n"));
  EXPECT_THAT(metrics, HasSubstr("\npushgate_front_text_shape_cache_shapes 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\npushgate_front_text_shape_cache_groups 1\n"));
}

TEST_F(PushHandlerTest, ProtobufPushReachesTheAggregatorDecoded) {
  // One delimited MetricFamily{name "up", type GAUGE, metric {gauge {value 1}}}.
  const std::string family("\x0a\x02up\x18\x01\x22\x0b\x12\x09\x09\0\0\0\0\0\0\xf0\x3f", 19);
  HttpResponse response =
      Handle("PUT", "/pg/metrics/job/j", absl::StrCat("\x13", family),
             {{"Content-Type",
               "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
               "encoding=delimited"}});
  EXPECT_EQ(response.status, 200);
  const std::vector<PushRequest> received = processor_.received();
  ASSERT_EQ(received.size(), 1u);
  const PushRequest& push = received[0];
  EXPECT_EQ(push.method(), pushgate::v1::PUT);
  EXPECT_EQ(push.grouping_key().job(), "j");
  ASSERT_EQ(push.families_size(), 1);
  EXPECT_EQ(push.families(0).name(), "up");
  EXPECT_EQ(push.families(0).type(), pushgate::v1::GAUGE);
  ASSERT_EQ(push.families(0).series_size(), 1);
  EXPECT_EQ(push.families(0).series(0).value(), 1);
  EXPECT_GT(push.receive_time_ns(), 0);
}

// OpenMetrics writes timestamps in seconds, the text format in milliseconds: the same line
// means another time under each Content-Type, and an OpenMetrics push is not written from the
// shape of a text push with the same text.
TEST_F(PushHandlerTest, OpenMetricsTimestampsAreSeconds) {
  const std::string body = "# TYPE temp gauge\ntemp 3 1796679000\n";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Handle("PUT", "/pg/metrics/job/om", body).status, 200);
  const std::string om = "application/openmetrics-text; version=1.0.0; charset=utf-8";
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/om", body, {{"Content-Type", om}}).status, 200);
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/om", "temp 3 1.79667900025e9\n# EOF\n",
                   {{"Content-Type", "Application/OpenMetrics-Text"}})
                .status,
            200);
  const HttpResponse refused = Handle("PUT", "/pg/metrics/job/om", "temp 3 1796679000.25\n");
  EXPECT_EQ(refused.status, 400);
  EXPECT_THAT(refused.body, HasSubstr("want integer milliseconds"));

  const std::vector<PushRequest> received = processor_.received();
  std::vector<int64_t> timestamps;
  for (const PushRequest& push : received) {
    ASSERT_EQ(push.families_size(), 1);
    timestamps.push_back(push.families(0).series(0).timestamp_ms());
  }
  EXPECT_THAT(timestamps,
              ElementsAre(1796679000, 1796679000, 1796679000, 1796679000000, 1796679000250));
}

TEST_F(PushHandlerTest, DeleteIsForwardedAndAnswered202) {
  EXPECT_EQ(Handle("DELETE", "/pg/metrics/job/j").status, 202);
  ASSERT_EQ(processor_.received().size(), 1u);
  EXPECT_EQ(processor_.received()[0].method(), pushgate::v1::DELETE);
  EXPECT_EQ(processor_.received()[0].families_size(), 0);
}

TEST_F(PushHandlerTest, RoutesOutsideThePrefixAndWrongMethodsAreRefused) {
  EXPECT_EQ(Handle("PUT", "/metrics/job/j", "x 1\n").status, 404);
  EXPECT_EQ(Handle("GET", "/pg/nothing").status, 404);
  HttpResponse get = Handle("GET", "/pg/metrics/job/j");
  EXPECT_EQ(get.status, 405);
  EXPECT_THAT(get.headers, ::testing::Contains(::testing::Pair("Allow", "PUT, POST, DELETE")));
  EXPECT_EQ(Handle("GET", "/pg/-/healthy").status, 200);
  EXPECT_EQ(Handle("GET", "/pg/-/ready").status, 200);
  EXPECT_THAT(Handle("GET", "/pg/metrics").body, HasSubstr("pushgate_front_requests_total"));
  // /metrics/job alone is no push path, whatever the method.
  EXPECT_EQ(Handle("GET", "/pg/metrics/job").status, 404);
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job@base64", "x 1\n").status, 404);
  EXPECT_TRUE(processor_.received().empty());
}

// What a client waiting for `100 Continue` is told before it sends its body: only answers
// the body cannot change.
TEST_F(PushHandlerTest, AnswersBeforeTheBodyOnlyWhatTheBodyCannotChange) {
  EXPECT_EQ(handler_->AnswerBeforeBody("PUT", "/pg/metrics/job/j?x=1"), std::nullopt);
  EXPECT_EQ(handler_->AnswerBeforeBody("DELETE", "/pg/metrics/job@base64/ag/a/b"), std::nullopt);
  EXPECT_EQ(handler_->AnswerBeforeBody("GET", "/pg/metrics"), std::nullopt);
  EXPECT_EQ(handler_->AnswerBeforeBody("PUT", "/metrics/job/j")->status, 404);  // no prefix
  EXPECT_EQ(handler_->AnswerBeforeBody("PUT", "/pg/metrics/job")->status, 404);
  EXPECT_EQ(handler_->AnswerBeforeBody("PUT", "/pg/metrics/job/%zz")->status, 400);
  const std::optional<HttpResponse> wrong_method =
      handler_->AnswerBeforeBody("PATCH", "/pg/metrics/job/j");
  ASSERT_TRUE(wrong_method.has_value());
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_THAT(wrong_method->headers, ::testing::Contains(std::make_pair(
                                         std::string("Allow"), std::string("PUT, POST, DELETE"))));
  // A grouping key that is malformed: a label without a value, a job that is not base64.
  for (const char* target : {"/pg/metrics/job/j/instance", "/pg/metrics/job@base64/%21%21"}) {
    const std::optional<HttpResponse> bad_key = handler_->AnswerBeforeBody("PUT", target);
    ASSERT_TRUE(bad_key.has_value()) << target;
    EXPECT_EQ(bad_key->status, 400) << target;
    EXPECT_EQ(Handle("PUT", target, "x 1\n").status, 400) << target;
  }
  // Handle gives the same answers.
  EXPECT_EQ(Handle("PATCH", "/pg/metrics/job/j").status, 405);
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/%zz", "x 1\n").status, 400);
  EXPECT_TRUE(processor_.received().empty());
}

TEST_F(PushHandlerTest, RequestsAreCountedUnderABoundedSetOfMethods) {
  EXPECT_EQ(Handle("BREW", "/pg/metrics/job/j").status, 405);
  EXPECT_EQ(Handle("PURGE", "/pg/nothing").status, 404);
  const std::string metrics = Handle("GET", "/pg/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("{route=\"push\",method=\"other\",code=\"405\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("{route=\"other\",method=\"other\",code=\"404\"} 1\n"));
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("BREW")));
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("PURGE")));
}

TEST_F(PushHandlerTest, BadInputIsRefusedBeforeReachingTheAggregator) {
  HttpResponse odd = Handle("PUT", "/pg/metrics/job/j/lonely", "x 1\n");
  EXPECT_EQ(odd.status, 400);
  EXPECT_THAT(odd.body, HasSubstr("odd number of components"));
  HttpResponse labels = Handle("PUT", "/pg/metrics/job/j", "m{a=\"1\",b=\"2\",c=\"3\"} 1\n");
  EXPECT_EQ(labels.status, 400);
  EXPECT_THAT(labels.body, HasSubstr("max_labels_per_series"));
  // The URL's labels tag every point: they are held to the same limit.
  HttpResponse url_labels = Handle("PUT", "/pg/metrics/job/j/a/1/b/2/c/3", "x 1\n");
  EXPECT_EQ(url_labels.status, 400);
  EXPECT_THAT(url_labels.body, HasSubstr("grouping key has 3 labels besides the job"));
  // And to the limits on names and values, the job included.
  HttpResponse long_name = Handle("PUT", "/pg/metrics/job/j/zone_name/eu", "x 1\n");
  EXPECT_EQ(long_name.status, 400);
  EXPECT_EQ(long_name.body,
            "grouping label name \"zone_name\" is 9 bytes long, over the limit of 8 bytes "
            "(max_label_name_length)\n");
  HttpResponse long_value = Handle("PUT", "/pg/metrics/job/j/zone/eu-central-1", "x 1\n");
  EXPECT_EQ(long_value.status, 400);
  EXPECT_EQ(long_value.body,
            "the value of grouping label \"zone\" is 12 bytes long, over the limit of 10 bytes "
            "(max_label_value_length)\n");
  HttpResponse long_job = Handle("PUT", "/pg/metrics/job/nightly-backup", "x 1\n");
  EXPECT_EQ(long_job.status, 400);
  EXPECT_THAT(long_job.body, HasSubstr("the job name is 14 bytes long"));
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/j", "x 1\n", {{"Content-Encoding", "br"}}).status, 415);
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/j", "not gzip", {{"Content-Encoding", "gzip"}}).status,
            400);
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/j", "\x01\x02",
                   {{"Content-Type",
                     "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
                     "encoding=delimited"}})
                .status,
            400);
  EXPECT_TRUE(processor_.received().empty());
}

// The limit on decoded bodies holds for a body sent without compression too: it bounds what
// the decoders read, whatever the body came as.
TEST_F(PushHandlerTest, PlainBodyOverTheDecodedBodyLimitIs413) {
  const std::string at_limit = "# " + std::string(4096 - 2 - 1 - 4, 'x') + "\nx 1\n";
  ASSERT_EQ(at_limit.size(), 4096u);
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/j", at_limit).status, 200);
  HttpResponse over = Handle("PUT", "/pg/metrics/job/j", at_limit + "\n");
  EXPECT_EQ(over.status, 413);
  EXPECT_THAT(over.body, HasSubstr("body of 4097 bytes exceeds 4096 bytes"));
  EXPECT_THAT(over.body, HasSubstr("--max_decompressed_bytes"));
  std::string gzipped;
  ASSERT_TRUE(GzipCompress(at_limit + "\n", &gzipped).ok());
  HttpResponse compressed =
      Handle("PUT", "/pg/metrics/job/j", gzipped, {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(compressed.status, 413);
  EXPECT_THAT(compressed.body, HasSubstr("exceeds 4096 bytes (--max_decompressed_bytes)"));
  EXPECT_EQ(processor_.received().size(), 1u);
}

// increase() over a counter sees a refusal only if the series existed before it.
TEST_F(PushHandlerTest, EveryRefusalReasonHasASeriesFromTheStart) {
  const std::string metrics = registry_.Render();
  for (const char* reason : {"url", "encoding", "body"}) {
    EXPECT_THAT(metrics, HasSubstr(absl::StrCat("pushgate_front_push_rejected_total{reason=\"",
                                                reason, "\"} 0\n")));
  }
}

// An error body tells the client what to change: where pushes go (with the route prefix),
// which methods a route takes.
TEST_F(PushHandlerTest, WrongPathsAndMethodsAreToldWhatToUse) {
  EXPECT_EQ(Handle("PUT", "/metrics/job/j", "x 1\n").body,
            "not found: pushes go to /pg/metrics/job/<job>{/<label>/<value>}\n");
  const HttpResponse post_health = Handle("POST", "/pg/-/healthy");
  EXPECT_EQ(post_health.status, 405);
  EXPECT_EQ(post_health.body, "method POST not allowed on /pg/-/healthy; use GET or HEAD\n");
}

TEST_F(PushHandlerTest, GroupingKeyAtTheLabelLimitIsAccepted) {
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/j/a/1/b/2", "x 1\n").status, 200);
  ASSERT_EQ(processor_.received().size(), 1u);
  EXPECT_EQ(processor_.received()[0].grouping_key().labels_size(), 2);
}

TEST_F(PushHandlerTest, AggregatorAnswersBecomeHttpStatuses) {
  processor_.set_code(PushAck::INVALID);
  HttpResponse invalid = Handle("PUT", "/pg/metrics/job/j", "x 1\n");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_THAT(invalid.body, HasSubstr("scripted"));
  processor_.set_code(PushAck::UNAVAILABLE);
  HttpResponse unavailable = Handle("PUT", "/pg/metrics/job/j", "x 1\n");
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_THAT(unavailable.headers, ::testing::Contains(::testing::Pair("Retry-After", "1")));
  // The aggregator refused it: none of the front's own reasons counts it.
  EXPECT_THAT(registry_.Render(),
              HasSubstr("pushgate_front_upstream_unavailable_total{reason=\"not_connected\"} 0\n"));

  // With the aggregator gone, the front answers 503 itself and says why in its metrics.
  client_->Stop();
  HttpResponse unreachable = Handle("PUT", "/pg/metrics/job/j", "x 1\n");
  EXPECT_EQ(unreachable.status, 503);
  EXPECT_THAT(registry_.Render(),
              HasSubstr("pushgate_front_upstream_unavailable_total{reason=\"not_connected\"} 1\n"));
}

TEST_F(PushHandlerTest, PushDurationCountsEveryPushUntilItsAnswer) {
  processor_.set_delay(absl::Milliseconds(60));
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/j", "x 1\n").status, 200);
  EXPECT_EQ(Handle("PUT", "/pg/metrics/job/j", "not a metric line\n").status, 400);
  const std::string metrics = Handle("GET", "/pg/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("# TYPE pushgate_front_push_duration_seconds histogram\n"));
  EXPECT_THAT(metrics, HasSubstr("\npushgate_front_push_duration_seconds_count 2\n"));
  // The accepted push waited at least 60 ms for its acknowledgement: it is not in the
  // buckets up to 50 ms, which the refused one (answered without the aggregator) may be in.
  EXPECT_THAT(
      metrics,
      ::testing::Not(HasSubstr("pushgate_front_push_duration_seconds_bucket{le=\"0.05\"} 2\n")));
  EXPECT_THAT(metrics, HasSubstr("pushgate_front_push_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
}

TEST(NormalizeRoutePrefixTest, LeadingSlashNoTrailingSlash) {
  EXPECT_EQ(NormalizeRoutePrefix(""), "");
  EXPECT_EQ(NormalizeRoutePrefix("/"), "");
  EXPECT_EQ(NormalizeRoutePrefix("x"), "/x");
  EXPECT_EQ(NormalizeRoutePrefix("/x/"), "/x");
  EXPECT_EQ(NormalizeRoutePrefix("//"), "");
  EXPECT_EQ(NormalizeRoutePrefix("/pg//"), "/pg");
  EXPECT_EQ(NormalizeRoutePrefix("//pg/v1/"), "/pg/v1");
}

}  // namespace
}  // namespace pushgate
