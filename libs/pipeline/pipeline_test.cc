// The pipeline with a real spool in a temporary directory and in-memory sinks: what is
// acknowledged reaches every backend in its format, survives a restart while a backend is
// down, and a full spool refuses instead of dropping.
#include "libs/pipeline/pipeline.h"

#include <dirent.h>
#include <sched.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "libs/line_protocol/line_protocol.h"
#include "proto/remote_write.pb.h"

namespace pushgate {
namespace {

using pushgate::v1::PushAck;
using pushgate::v1::PushRequest;
using ::testing::HasSubstr;

// What a backend received; shared with the test so it outlives the pipeline.
struct Received {
  absl::Mutex mu;
  std::vector<std::string> bodies ABSL_GUARDED_BY(mu);
  bool down ABSL_GUARDED_BY(mu) = false;
  // Larger bodies are refused for good, as a backend's 413 (0: any size).
  size_t max_body ABSL_GUARDED_BY(mu) = 0;
  // Bodies accepted before the backend goes down (-1: no end).
  int accept_budget ABSL_GUARDED_BY(mu) = -1;

  void SetDown(bool value) {
    absl::MutexLock lock(&mu);
    down = value;
  }

  std::string All() {
    absl::MutexLock lock(&mu);
    std::string all;
    for (const auto& b : bodies) all += b;
    return all;
  }
};

class MemorySink : public Sink {
 public:
  explicit MemorySink(std::shared_ptr<Received> received) : received_(std::move(received)) {}
  absl::Status Send(absl::string_view body) override {
    absl::MutexLock lock(&received_->mu);
    if (received_->down || received_->accept_budget == 0) {
      return absl::UnavailableError("backend down");
    }
    if (received_->max_body != 0 && body.size() > received_->max_body) {
      return absl::FailedPreconditionError("413 request entity too large");
    }
    if (received_->accept_budget > 0) --received_->accept_budget;
    received_->bodies.emplace_back(body);
    return absl::OkStatus();
  }
  std::string Describe() const override { return "memory"; }

 private:
  std::shared_ptr<Received> received_;
};

BackendSpec Backend(UploadFormat format, std::shared_ptr<Received> received) {
  BackendSpec spec;
  spec.format = format;
  spec.sink = std::make_unique<MemorySink>(std::move(received));
  spec.uploader.flush_interval = absl::Milliseconds(10);
  spec.uploader.backoff_base = absl::Milliseconds(5);
  spec.uploader.backoff_max = absl::Milliseconds(20);
  return spec;
}

PushRequest Push(int value) {
  PushRequest push;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      absl::StrCat(R"pb(grouping_key { job: "j" }
                        receive_time_ns: 1000000000
                        families { name: "jobs_done" type: GAUGE
                                   series { value:)pb",
                   value, "} }"),
      &push));
  return push;
}

PushAck ProcessAndWait(PushPipeline& pipeline, const PushRequest& push,
                       bool other_streams_open = false, std::thread::id* acked_on = nullptr) {
  std::promise<PushAck> acked;
  const std::string serialized = push.SerializeAsString();
  PushView view;
  EXPECT_TRUE(view.Parse(serialized).ok());
  PushProcessor::Push incoming{&view, serialized, [&](PushAck ack) {
                                 if (acked_on != nullptr) *acked_on = std::this_thread::get_id();
                                 acked.set_value(std::move(ack));
                               }};
  pipeline.Process(absl::MakeSpan(&incoming, 1), other_streams_open);
  return acked.get_future().get();
}

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

class PipelineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Spool> OpenSpool(size_t max_bytes = 1 << 20) {
    SpoolOptions options;
    options.dir = dir_;
    options.max_bytes = max_bytes;
    auto spool = Spool::Open(options);
    EXPECT_TRUE(spool.ok()) << spool.status();
    return std::move(*spool);
  }
  // With a backend down, Stop() would otherwise keep retrying for the default 5 s.
  static PipelineOptions QuickStop() {
    PipelineOptions options;
    options.drain_timeout = absl::Milliseconds(50);
    return options;
  }
  // The value of the series that `prefix` (name, labels and a space) begins in `registry`'s
  // page, or -1 without one.
  static double Gauge(MetricsRegistry& registry, absl::string_view prefix) {
    const std::string metrics = registry.Render();
    const size_t at = metrics.find(absl::StrCat("\n", prefix));
    double value = -1;
    if (at != std::string::npos) {
      const size_t start = at + 1 + prefix.size();
      EXPECT_TRUE(
          absl::SimpleAtod(metrics.substr(start, metrics.find('\n', start) - start), &value));
    }
    return value;
  }
  std::string dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/spool");
  MetricsRegistry registry_;
};

TEST_F(PipelineTest, AcknowledgedPushesReachEveryBackendInItsFormat) {
  auto lines = std::make_shared<Received>();
  auto remote = std::make_shared<Received>();
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  backends.push_back(Backend(UploadFormat::kRemoteWrite, remote));
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);

  EXPECT_EQ(ProcessAndWait(pipeline, Push(1)).code(), PushAck::OK);
  EXPECT_EQ(ProcessAndWait(pipeline, Push(2)).code(), PushAck::OK);
  ASSERT_TRUE(WaitFor([&] { return lines->All().size() > 0 && !remote->All().empty(); }));
  ASSERT_TRUE(WaitFor([&] {
    return lines->All() == "jobs,job=j jobs_done=1 1000000000\njobs,job=j jobs_done=2 1000000000\n";
  })) << lines->All();
  ASSERT_TRUE(WaitFor([&] {
    prometheus::WriteRequest request;
    return request.ParseFromString(remote->All()) && request.timeseries_size() == 2;
  }));
  prometheus::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(remote->All()));
  EXPECT_EQ(request.timeseries(1).labels(0).value(), "jobs_done");
  EXPECT_EQ(request.timeseries(1).samples(0).value(), 2);
  // Delivered everywhere, so nothing is left to replay.
  ASSERT_TRUE(WaitFor([&] { return spool->first_unreleased() == spool->committed_end(); }));
  // Both sinks describe themselves as "memory": the second backend's label says which it is,
  // or Prometheus would drop one of the two series as a duplicate.
  // (The counters follow each delivery by a moment.)
  const std::string first = "pushgate_aggregator_upload_points_total{backend=\"memory\"} 2\n";
  const std::string second = "pushgate_aggregator_upload_points_total{backend=\"memory #2\"} 2\n";
  EXPECT_TRUE(WaitFor([&] {
    const std::string metrics = registry_.Render();
    return absl::StrContains(metrics, first) && absl::StrContains(metrics, second);
  })) << registry_.Render();
}

TEST_F(PipelineTest, PushesAcknowledgedWhileABackendIsDownAreReplayedAfterARestart) {
  auto up = std::make_shared<Received>();
  auto down = std::make_shared<Received>();
  down->SetDown(true);
  {
    auto spool = OpenSpool();
    std::vector<BackendSpec> backends;
    backends.push_back(Backend(UploadFormat::kLineProtocol, up));
    backends.push_back(Backend(UploadFormat::kLineProtocol, down));
    PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(ProcessAndWait(pipeline, Push(i)).code(), PushAck::OK);
    ASSERT_TRUE(WaitFor([&] { return absl::StrContains(up->All(), "jobs_done=4 "); }));
    pipeline.Stop();  // The second backend never got them: they stay in the spool.
  }
  auto back = std::make_shared<Received>();
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, back));
  MetricsRegistry registry;
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry);
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(back->All(), "jobs_done=4 "); }))
      << back->All();
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(back->All(), HasSubstr(absl::StrCat("jobs_done=", i, " "))) << i;
  }
}

// With several backends, the one holding the spool back is named: its oldest missing push
// ages, while the backend that has everything shows 0.
TEST_F(PipelineTest, EachBackendsOldestUnsentAgeSaysWhichOneIsBehind) {
  auto up = std::make_shared<Received>();
  auto down = std::make_shared<Received>();
  down->SetDown(true);
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, up));
  backends.push_back(Backend(UploadFormat::kLineProtocol, down));
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);
  EXPECT_EQ(ProcessAndWait(pipeline, Push(1)).code(), PushAck::OK);
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(up->All(), "jobs_done=1 "); }));
  const auto age = [&](absl::string_view backend) {
    return Gauge(registry_,
                 absl::StrCat("pushgate_aggregator_upload_oldest_unsent_age_seconds{backend=\"",
                              backend, "\"} "));
  };
  // The delivery is counted a moment after the body arrives.
  EXPECT_TRUE(WaitFor([&] { return age("memory") == 0; })) << registry_.Render();
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_GE(age("memory #2"), 0.2);
  EXPECT_LT(age("memory #2"), 60);
  EXPECT_EQ(age("memory"), 0);

  down->SetDown(false);
  EXPECT_TRUE(WaitFor([&] { return age("memory #2") == 0; })) << registry_.Render();
}

// The spool cannot tell when the pushes it recovers were stored; their receive time can, so
// the age of what is undelivered (and the alerts on it) does not start over at a restart.
TEST_F(PipelineTest, PushesStillUndeliveredAtARestartKeepTheirAge) {
  dir_ += "_age";  // its pushes stay undelivered: no other test may find them
  auto down = std::make_shared<Received>();
  down->SetDown(true);
  {
    auto spool = OpenSpool();
    std::vector<BackendSpec> backends;
    backends.push_back(Backend(UploadFormat::kLineProtocol, down));
    PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(ProcessAndWait(pipeline, Push(i)).code(), PushAck::OK);
    pipeline.Stop();
  }
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, down));
  MetricsRegistry registry;
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry);
  // Push() is received in 1970.
  const double fifty_years = 50 * 365 * 86400.0;
  EXPECT_TRUE(WaitFor([&] {
    return Gauge(registry, "pushgate_aggregator_oldest_unsent_age_seconds ") > fifty_years &&
           Gauge(registry,
                 "pushgate_aggregator_upload_oldest_unsent_age_seconds{backend=\"memory\"} ") >
               fifty_years;
  })) << registry.Render();
}

// Every backend gets the drain timeout at the same time: four that are down must not take four
// drain timeouts to stop, or a supervisor's grace period (30 s by default) runs out first.
TEST_F(PipelineTest, StopDrainsAllBackendsAtOnce) {
  dir_ += "_stop";  // its push stays undelivered: no other test may find it
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  for (int i = 0; i < 4; ++i) {
    auto down = std::make_shared<Received>();
    down->SetDown(true);
    backends.push_back(Backend(UploadFormat::kLineProtocol, down));
  }
  PipelineOptions options;
  options.drain_timeout = absl::Milliseconds(400);
  PushPipeline pipeline(options, spool.get(), std::move(backends), &registry_);
  EXPECT_EQ(ProcessAndWait(pipeline, Push(1)).code(), PushAck::OK);
  const absl::Time start = absl::Now();
  pipeline.Stop();
  // One drain timeout and a little; one after another they took 1.6 s.
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1200));
}

// A spool record written by an incompatible version: counted, logged, delivered as nothing
// (so that it is released) and followed by the next push as usual.
TEST_F(PipelineTest, ASpoolRecordThatIsNotAPushIsSkippedAndReleased) {
  auto lines = std::make_shared<Received>();
  auto remote = std::make_shared<Received>();
  auto spool = OpenSpool();
  std::promise<absl::StatusOr<uint64_t>> appended;
  spool->Append(std::string("\x08\x05\x1a\xff", 4),
                [&](absl::StatusOr<uint64_t> position) { appended.set_value(position); });
  ASSERT_TRUE(appended.get_future().get().ok());
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  backends.push_back(Backend(UploadFormat::kRemoteWrite, remote));
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);

  EXPECT_EQ(ProcessAndWait(pipeline, Push(1)).code(), PushAck::OK);
  ASSERT_TRUE(WaitFor([&] { return spool->first_unreleased() == spool->committed_end(); }));
  EXPECT_EQ(lines->All(), "jobs,job=j jobs_done=1 1000000000\n");
  prometheus::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(remote->All()));
  EXPECT_EQ(request.timeseries_size(), 1);
  EXPECT_THAT(registry_.Render(),
              HasSubstr("pushgate_aggregator_spool_unreadable_records_total 1\n"));
  // The damaged record and the push were each committed once.
  EXPECT_THAT(registry_.Render(),
              HasSubstr("pushgate_aggregator_spool_commit_seconds_bucket{le=\"+Inf\"} 2\n"));
  EXPECT_THAT(registry_.Render(), HasSubstr("pushgate_aggregator_spool_commit_seconds_count 2\n"));
}

TEST_F(PipelineTest, FullSpoolRefusesAsUnavailableAndTooLargeAsInvalid) {
  auto down = std::make_shared<Received>();
  down->SetDown(true);
  auto spool = OpenSpool(/*max_bytes=*/2000);
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, down));
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);

  PushRequest huge = Push(0);
  huge.mutable_families(0)->set_help(std::string(5000, 'h'));
  PushAck too_large = ProcessAndWait(pipeline, huge);
  EXPECT_EQ(too_large.code(), PushAck::INVALID);
  EXPECT_THAT(too_large.message(), HasSubstr("too large"));

  PushAck ack;
  int accepted = 0;
  while ((ack = ProcessAndWait(pipeline, Push(accepted))).code() == PushAck::OK) ++accepted;
  EXPECT_GT(accepted, 5);
  EXPECT_EQ(ack.code(), PushAck::UNAVAILABLE);
  EXPECT_THAT(ack.message(), HasSubstr("spool is full"));
  EXPECT_THAT(ack.message(), HasSubstr("(--spool_max_bytes)"));
}

// A push whose labels, copied onto each of its points, would convert to more than the limit
// is refused before it is stored; one at the limit is taken.
TEST_F(PipelineTest, PushThatWouldConvertToTooMuchIsRefusedBeforeItIsStored) {
  dir_ += "_too_large";  // a spool of its own: what it finds there is only what it stored
  auto lines = std::make_shared<Received>();
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  PipelineOptions options = QuickStop();
  PushRequest small = Push(1);
  PushRequest large = Push(2);
  auto* label = large.mutable_families(0)->mutable_series(0)->add_labels();
  label->set_name("long");
  label->set_value(std::string(1000, 'v'));
  const std::string small_wire = small.SerializeAsString();
  PushView view;
  ASSERT_TRUE(view.Parse(small_wire).ok());
  options.max_converted_bytes_per_push = ConvertedBytesBound(view, options.conversion);
  PushPipeline pipeline(options, spool.get(), std::move(backends), &registry_);

  const PushAck refused = ProcessAndWait(pipeline, large);
  EXPECT_EQ(refused.code(), PushAck::INVALID);
  EXPECT_THAT(refused.message(), HasSubstr("--max_converted_bytes_per_push"));
  EXPECT_EQ(spool->committed_end(), spool->first_unreleased());  // nothing stored
  EXPECT_THAT(
      registry_.Render(),
      HasSubstr("pushgate_aggregator_pushes_refused_total{reason=\"converts_too_large\"} 1\n"));

  EXPECT_EQ(ProcessAndWait(pipeline, small).code(), PushAck::OK);
  ASSERT_TRUE(WaitFor([&] { return lines->All() == "jobs,job=j jobs_done=1 1000000000\n"; }))
      << lines->All();
}

// With other producers' streams open the ingest thread leaves the commit to the spool's
// committer and goes on reading: the push is still acknowledged only once it is durable, and
// delivered.
TEST_F(PipelineTest, WithSeveralProducersThePushIsCommittedByTheSpoolsOwnThread) {
  dir_ += "_handoff";
  auto lines = std::make_shared<Received>();
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);
  const uint64_t before = spool->committed_end();
  std::thread::id acked_on;
  EXPECT_EQ(ProcessAndWait(pipeline, Push(7), /*other_streams_open=*/true, &acked_on).code(),
            PushAck::OK);
  EXPECT_GT(spool->committed_end(), before);        // durable by the time of its ack
  EXPECT_NE(acked_on, std::this_thread::get_id());  // committed by the spool's thread
  // (With one producer the calling thread commits itself when no commit is under way; the
  // spool's thread may still be finishing the one above, so which thread acks is not fixed.)
  EXPECT_EQ(ProcessAndWait(pipeline, Push(8), /*other_streams_open=*/false).code(), PushAck::OK);
  ASSERT_TRUE(WaitFor([&] {
    return lines->All() == "jobs,job=j jobs_done=7 1000000000\njobs,job=j jobs_done=8 1000000000\n";
  })) << lines->All();
  // The backend took them: when, in Unix seconds (an alert compares it with time()). The
  // figure is set just after the sink returns.
  ASSERT_TRUE(WaitFor([&] {
    return !absl::StrContains(registry_.Render(),
                              "last_success_timestamp_seconds{backend=\"memory\"} 0\n");
  }));
  EXPECT_THAT(registry_.Render(),
              ::testing::ContainsRegex("\npushgate_aggregator_upload_last_success_timestamp_"
                                       "seconds\\{backend=\"memory\"\\} 1\\.[0-9]+e\\+09\n"));
}

// An operator alerts on "spool N% full" and on the first refusal of a kind: the limit and the
// disk's free space are gauges, and each refusal reason has a series before it first happens.
TEST_F(PipelineTest, MetricsShowTheSpoolsCapacityAndEveryRefusalReasonFromTheStart) {
  dir_ += "_capacity";
  auto lines = std::make_shared<Received>();
  auto spool = OpenSpool(/*max_bytes=*/123456);
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);
  const std::string metrics = registry_.Render();
  EXPECT_THAT(metrics, HasSubstr("pushgate_aggregator_spool_max_bytes 123456\n"));
  EXPECT_THAT(metrics, ::testing::ContainsRegex(
                           "\npushgate_aggregator_spool_disk_free_bytes [1-9][0-9.e+]*\n"));
  EXPECT_THAT(metrics, HasSubstr("pushgate_aggregator_upload_last_success_timestamp_seconds{"
                                 "backend=\"memory\"} 0\n"));
  for (const char* reason : {"contract", "converts_too_large", "RESOURCE_EXHAUSTED"}) {
    EXPECT_THAT(metrics,
                HasSubstr(absl::StrCat("pushgate_aggregator_pushes_refused_total{reason=\"", reason,
                                       "\"} 0\n")));
  }
}

// A producer streaming to the aggregator itself may send what the front never does: a method
// outside the enumeration, no job, no receive time. Such a push is refused, not stored.
TEST_F(PipelineTest, PushesThatBreakTheContractAreRefusedBeforeTheyAreStored) {
  dir_ += "_contract";
  auto lines = std::make_shared<Received>();
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);

  PushRequest unknown_method = Push(1);
  unknown_method.set_method(static_cast<pushgate::v1::Method>(7));
  PushRequest no_job = Push(2);
  no_job.mutable_grouping_key()->clear_job();
  PushRequest no_time = Push(3);
  no_time.clear_receive_time_ns();
  PushRequest unknown_type = Push(5);
  unknown_type.mutable_families(0)->set_type(static_cast<pushgate::v1::MetricType>(42));
  const std::vector<std::pair<PushRequest, std::string>> cases = {
      {unknown_method, "method 7 is none of PUT, POST and DELETE"},
      {no_job, "grouping_key.job is empty"},
      {no_time, "receive_time_ns is 0: give the time the push was received"},
      {unknown_type, "family \"jobs_done\" has type 42, which is no MetricType"},
  };
  for (const auto& [push, why] : cases) {
    const PushAck ack = ProcessAndWait(pipeline, push);
    EXPECT_EQ(ack.code(), PushAck::INVALID);
    EXPECT_THAT(ack.message(), HasSubstr(why));
  }
  EXPECT_EQ(spool->committed_end(), spool->first_unreleased());  // nothing stored
  EXPECT_THAT(registry_.Render(),
              HasSubstr("pushgate_aggregator_pushes_refused_total{reason=\"contract\"} 4\n"));
  EXPECT_EQ(ProcessAndWait(pipeline, Push(4)).code(), PushAck::OK);
}

// A record stored under a higher limit is skipped, not converted, once the limit is lower, and
// its position is released with the records around it.
TEST_F(PipelineTest, SpooledPushOverALoweredLimitIsSkippedAndReleased) {
  dir_ += "_lowered";
  auto down = std::make_shared<Received>();
  down->SetDown(true);
  PushRequest large = Push(2);
  auto* label = large.mutable_families(0)->mutable_series(0)->add_labels();
  label->set_name("long");
  label->set_value(std::string(1000, 'v'));
  {
    auto spool = OpenSpool();
    std::vector<BackendSpec> backends;
    backends.push_back(Backend(UploadFormat::kLineProtocol, down));
    PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);
    EXPECT_EQ(ProcessAndWait(pipeline, Push(1)).code(), PushAck::OK);
    EXPECT_EQ(ProcessAndWait(pipeline, large).code(), PushAck::OK);
    EXPECT_EQ(ProcessAndWait(pipeline, Push(3)).code(), PushAck::OK);
    pipeline.Stop();
  }
  auto lines = std::make_shared<Received>();
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  PipelineOptions options = QuickStop();
  options.max_converted_bytes_per_push = 1000;
  MetricsRegistry registry;
  PushPipeline pipeline(options, spool.get(), std::move(backends), &registry);
  ASSERT_TRUE(WaitFor([&] { return spool->first_unreleased() == spool->committed_end(); }));
  EXPECT_EQ(lines->All(), "jobs,job=j jobs_done=1 1000000000\njobs,job=j jobs_done=3 1000000000\n");
  EXPECT_THAT(registry.Render(),
              HasSubstr("pushgate_aggregator_spool_oversized_records_total 1\n"));
}

// A push of 200 gauges, each with a label that makes its line about 60 bytes.
PushRequest WidePush() {
  PushRequest push = Push(0);
  auto* family = push.mutable_families(0);
  family->clear_series();
  for (int i = 0; i < 200; ++i) {
    auto* series = family->add_series();
    auto* label = series->add_labels();
    label->set_name("instance");
    label->set_value(absl::StrCat("host-", 1000 + i, "-of-a-fleet"));
    series->set_value(i);
  }
  return push;
}

// A push whose output is larger than a batch goes to the backend in pieces of about the batch
// size, cut between lines (or time series), so that a backend's body limit cannot make it
// drop the whole push; nothing is lost or repeated, and the order is kept.
TEST_F(PipelineTest, APushLargerThanABatchIsUploadedInPieces) {
  dir_ += "_pieces";
  auto lines = std::make_shared<Received>();
  auto remote = std::make_shared<Received>();
  for (const auto& received : {lines, remote}) {
    absl::MutexLock lock(&received->mu);
    received->max_body = 2000;  // a batch holds up to one piece past its size
  }
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  backends.push_back(Backend(UploadFormat::kRemoteWrite, remote));
  for (BackendSpec& backend : backends) backend.uploader.batch_max_bytes = 1000;
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);

  EXPECT_EQ(ProcessAndWait(pipeline, WidePush()).code(), PushAck::OK);
  ASSERT_TRUE(WaitFor([&] { return spool->first_unreleased() == spool->committed_end(); }));
  const std::string all_lines = lines->All();
  const std::vector<std::string> lines_received =
      absl::StrSplit(all_lines, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines_received.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_THAT(lines_received[i], HasSubstr(absl::StrCat("host-", 1000 + i, "-of-a-fleet")));
  }
  size_t series = 0;
  {
    absl::MutexLock lock(&lines->mu);
    EXPECT_GT(lines->bodies.size(), 5u);
  }
  {
    absl::MutexLock lock(&remote->mu);
    EXPECT_GT(remote->bodies.size(), 5u);
    for (const std::string& body : remote->bodies) {
      prometheus::WriteRequest request;
      ASSERT_TRUE(request.ParseFromString(body));
      series += request.timeseries_size();
    }
  }
  EXPECT_EQ(series, 200u);
}

// Pieces delivered before the rest do not let the spool release the push.
TEST_F(PipelineTest, APushDeliveredInPartIsKeptForReplay) {
  dir_ += "_part";
  auto lines = std::make_shared<Received>();
  {
    absl::MutexLock lock(&lines->mu);
    lines->accept_budget = 1;
  }
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  backends[0].uploader.batch_max_bytes = 1000;
  backends[0].uploader.batch_max_points = 1;  // each piece is a batch of its own
  PushPipeline pipeline(QuickStop(), spool.get(), std::move(backends), &registry_);

  EXPECT_EQ(ProcessAndWait(pipeline, WidePush()).code(), PushAck::OK);
  ASSERT_TRUE(WaitFor([&] { return !lines->All().empty(); }));
  absl::SleepFor(absl::Milliseconds(200));  // retries of the second piece, meanwhile
  EXPECT_LT(spool->first_unreleased(), spool->committed_end());
}

// With a backend down, the dispatcher stops converting once the backend's queue is at its limit,
// checking before each record: a read of the spool's worth of records must not all be queued.
TEST_F(PipelineTest, ABackendsQueueStopsGrowingAtItsLimitWithinOneRead) {
  dir_ += "_queue";
  auto down = std::make_shared<Received>();
  down->SetDown(true);
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, down));
  PipelineOptions options = QuickStop();
  options.max_queued_bytes_per_backend = 2000;  // 32 of the 62-byte lines below
  // Stored first, then read together: the dispatcher starts with a full read of them.
  {
    PushPipeline filling(QuickStop(), spool.get(), {}, &registry_);
    for (int i = 0; i < 100; ++i) {
      PushRequest push = WidePush();
      push.mutable_families(0)->mutable_series()->DeleteSubrange(1, 199);
      ASSERT_EQ(ProcessAndWait(filling, push).code(), PushAck::OK);
    }
  }
  MetricsRegistry registry;
  PushPipeline pipeline(options, spool.get(), std::move(backends), &registry);
  const std::string queued = "pushgate_aggregator_upload_queued_points{backend=\"memory\"} ";
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(registry.Render(), queued); }));
  absl::SleepFor(absl::Milliseconds(300));
  const std::string metrics = registry.Render();
  const size_t at = metrics.find(queued) + queued.size();
  const int points = std::stoi(metrics.substr(at, metrics.find('\n', at) - at));
  EXPECT_GT(points, 0);
  EXPECT_LE(points, 33) << "of 100 pushes of one 62-byte line each";
}

// (nice, scheduling policy) of this process's threads named `name`, from /proc.
std::vector<std::pair<int, int>> ThreadsNamed(const std::string& name) {
  std::vector<std::pair<int, int>> found;
  DIR* tasks = opendir("/proc/self/task");
  while (dirent* task = readdir(tasks)) {
    const std::string dir = absl::StrCat("/proc/self/task/", task->d_name);
    std::ifstream comm(dir + "/comm"), stat(dir + "/stat");
    std::string thread_name, line;
    if (!std::getline(comm, thread_name) || thread_name != name || !std::getline(stat, line)) {
      continue;
    }
    // Fields after the parenthesized name, from field 3 (state): nice is 19, policy 41.
    std::vector<std::string> fields =
        absl::StrSplit(line.substr(line.rfind(')') + 2), ' ', absl::SkipEmpty());
    found.emplace_back(std::stoi(fields[19 - 3]), std::stoi(fields[41 - 3]));
  }
  closedir(tasks);
  return found;
}

TEST_F(PipelineTest, ConversionAndUploadThreadsRunAsBackgroundWork) {
  auto lines = std::make_shared<Received>();
  auto spool = OpenSpool();
  std::vector<BackendSpec> backends;
  backends.push_back(Backend(UploadFormat::kLineProtocol, lines));
  const int policy_before = sched_getscheduler(0);
  PipelineOptions options = QuickStop();
  options.background_nice = 19;
  PushPipeline pipeline(options, spool.get(), std::move(backends), &registry_);
  EXPECT_EQ(ProcessAndWait(pipeline, Push(1)).code(), PushAck::OK);
  ASSERT_TRUE(WaitFor([&] { return !lines->All().empty(); }));

  // Both threads have set their own priority by the time a push went through them.
  const std::pair<int, int> background = {19, SCHED_BATCH};
  EXPECT_THAT(ThreadsNamed("dispatch"), ::testing::ElementsAre(background));
  EXPECT_THAT(ThreadsNamed("upload"), ::testing::ElementsAre(background));
  // ...and this thread, which acknowledged, kept its own.
  EXPECT_EQ(sched_getscheduler(0), policy_before);
}

TEST(ParseUploadFormatTest, KnowsBothFormats) {
  EXPECT_EQ(*ParseUploadFormat("lineproto"), UploadFormat::kLineProtocol);
  EXPECT_EQ(*ParseUploadFormat("remote_write"), UploadFormat::kRemoteWrite);
  EXPECT_FALSE(ParseUploadFormat("json").ok());
}

}  // namespace
}  // namespace pushgate
