// Drives the client against the real ingest server on loopback; the processor behind the
// server is scripted per test so acknowledgements can be delayed, reordered or withheld.
#include "libs/ingest_client/ingest_client.h"

#include <algorithm>
#include <future>
#include <iostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/ingest_server/ingest_server.h"

namespace pushgate {
namespace {

using pushgate::v1::PushAck;
using pushgate::v1::PushRequest;

// The whole push as a message, which outlives Process (unlike the view).
PushRequest Parsed(absl::string_view serialized) {
  PushRequest request;
  EXPECT_TRUE(request.ParseFromArray(serialized.data(), static_cast<int>(serialized.size())));
  return request;
}

// Holds every push until the test releases it.
class HeldProcessor : public PushProcessor {
 public:
  void Process(absl::Span<Push> pushes, bool) override {
    for (Push& push : pushes) ProcessOne(Parsed(push.serialized), std::move(push.done));
  }
  void ProcessOne(const PushRequest& request, Done done) {
    absl::MutexLock lock(&mu_);
    held_.push_back({request, std::move(done)});
  }
  size_t held() {
    absl::MutexLock lock(&mu_);
    return held_.size();
  }
  void WaitForHeld(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  PushRequest request(size_t i) {
    absl::MutexLock lock(&mu_);
    return held_[i].first;
  }
  // Acknowledges held push `i` with `code`, echoing its job in the message.
  void Release(size_t i, PushAck::Code code) {
    std::pair<PushRequest, Done> entry;
    {
      absl::MutexLock lock(&mu_);
      entry = held_[i];
    }
    PushAck ack;
    ack.set_code(code);
    ack.set_message(entry.first.grouping_key().job());
    entry.second(ack);
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<PushRequest, Done>> held_ ABSL_GUARDED_BY(mu_);
};

PushRequest RequestForJob(const std::string& job) {
  PushRequest request;
  request.mutable_grouping_key()->set_job(job);
  return request;
}

class IngestClientTest : public ::testing::Test {
 protected:
  void StartServer() {
    server_ = std::make_unique<IngestServer>("127.0.0.1:0", &processor_);
    ASSERT_TRUE(server_->Start().ok());
  }
  void StartClient(IngestClientOptions options = {}) {
    options.target = absl::StrCat("127.0.0.1:", server_->port());
    client_ = std::make_unique<IngestClient>(options);
    client_->Start();
    for (int i = 0; i < 200 && !client_->connected(); ++i) absl::SleepFor(absl::Milliseconds(10));
    ASSERT_TRUE(client_->connected());
  }
  std::future<PushAck> Push(const std::string& job) {
    auto promise = std::make_shared<std::promise<PushAck>>();
    client_->Push(RequestForJob(job), [promise](const PushAck& ack) { promise->set_value(ack); });
    return promise->get_future();
  }
  void TearDown() override {
    if (client_) client_->Stop();
    if (server_) server_->Stop();
  }

  HeldProcessor processor_;
  std::unique_ptr<IngestServer> server_;
  std::unique_ptr<IngestClient> client_;
};

TEST_F(IngestClientTest, EachPushGetsItsOwnAckEvenWhenAcksComeOutOfOrder) {
  StartServer();
  StartClient();
  auto a = Push("a");
  auto b = Push("b");
  auto c = Push("c");
  processor_.WaitForHeld(3);
  processor_.Release(2, PushAck::OK);
  processor_.Release(0, PushAck::INVALID);
  processor_.Release(1, PushAck::OK);
  PushAck ack_a = a.get(), ack_b = b.get(), ack_c = c.get();
  EXPECT_EQ(ack_a.code(), PushAck::INVALID);
  EXPECT_EQ(ack_a.message(), "a");
  EXPECT_EQ(ack_b.code(), PushAck::OK);
  EXPECT_EQ(ack_b.message(), "b");
  EXPECT_EQ(ack_c.code(), PushAck::OK);
  EXPECT_EQ(ack_c.message(), "c");
  EXPECT_LT(ack_a.sequence(), ack_b.sequence());
  EXPECT_LT(ack_b.sequence(), ack_c.sequence());
}

TEST_F(IngestClientTest, AnAckEndsTheLingerOfPushesQueuedBehindItsBatch) {
  StartServer();
  IngestClientOptions options;
  options.max_linger = absl::Minutes(1);  // far beyond WaitForHeld's 10 s
  StartClient(options);
  auto a = Push("a");
  processor_.WaitForHeld(1);
  auto b = Push("b");
  auto c = Push("c");
  processor_.Release(0, PushAck::OK);
  EXPECT_EQ(a.get().code(), PushAck::OK);
  processor_.WaitForHeld(3);
  ASSERT_EQ(processor_.held(), 3u);
  processor_.Release(1, PushAck::OK);
  processor_.Release(2, PushAck::OK);
  EXPECT_EQ(b.get().message(), "b");
  EXPECT_EQ(c.get().message(), "c");
}

// The pushes that waited for a batch's acks go out before those acks' callbacks run: a slow
// callback (the front's, handing an answer to a busy HTTP thread) does not hold back the next
// batch, whose pushes each wait for a disk commit that starts only when it arrives.
TEST_F(IngestClientTest, PushesQueuedBehindABatchAreSentBeforeItsAcksCallbacksRun) {
  StartServer();
  IngestClientOptions options;
  options.max_linger = absl::Minutes(1);  // only the ack sends what waits
  StartClient(options);
  auto sent_first = std::make_shared<std::promise<bool>>();
  client_->Push(RequestForJob("a"), [this, sent_first](const PushAck&) {
    processor_.WaitForHeld(2, absl::Seconds(3));
    sent_first->set_value(processor_.held() >= 2);
  });
  processor_.WaitForHeld(1);
  auto b = Push("b");
  processor_.Release(0, PushAck::OK);
  EXPECT_TRUE(sent_first->get_future().get()) << "b was sent only after a's callback returned";
  processor_.WaitForHeld(2);
  ASSERT_EQ(processor_.held(), 2u);
  processor_.Release(1, PushAck::OK);
  EXPECT_EQ(b.get().message(), "b");
}

TEST_F(IngestClientTest, LingerNeverHoldsAPushBackForeverBehindAnUnackedOne) {
  StartServer();
  IngestClientOptions options;
  options.max_linger = absl::Milliseconds(100);
  StartClient(options);
  auto a = Push("a");
  processor_.WaitForHeld(1);
  auto b = Push("b");  // `a` stays unacknowledged
  processor_.WaitForHeld(2);
  ASSERT_EQ(processor_.held(), 2u);
  processor_.Release(1, PushAck::OK);
  EXPECT_EQ(b.get().code(), PushAck::OK);
  processor_.Release(0, PushAck::OK);
  EXPECT_EQ(a.get().code(), PushAck::OK);
}

// A linger of zero sends each push at once, even behind an unacknowledged one, rather than at
// the next 10 ms tick that ends a linger.
TEST_F(IngestClientTest, ZeroLingerSendsAtOnceBehindAnUnackedPush) {
  StartServer();
  IngestClientOptions options;
  options.max_linger = absl::ZeroDuration();
  StartClient(options);
  auto first = Push("first");  // stays unacknowledged
  processor_.WaitForHeld(1);
  std::vector<absl::Duration> waits;
  std::vector<std::future<PushAck>> acks;
  for (size_t i = 1; i <= 21; ++i) {
    const absl::Time sent = absl::Now();
    acks.push_back(Push(absl::StrCat("p", i)));
    processor_.WaitForHeld(i + 1);
    waits.push_back(absl::Now() - sent);
  }
  std::sort(waits.begin(), waits.end());
  // A wait for the tick would be 5 ms at the median.
  EXPECT_LT(waits[waits.size() / 2], absl::Milliseconds(2)) << "median wait";
  for (size_t i = 0; i <= 21; ++i) processor_.Release(i, PushAck::OK);
  EXPECT_EQ(first.get().code(), PushAck::OK);
  for (auto& ack : acks) EXPECT_EQ(ack.get().code(), PushAck::OK);
}

// A push over the aggregator's message limit is refused as invalid before it is sent (sent,
// it would end the stream for every push in flight), and no batch of several pushes goes over
// the batch size, so that only a single large push makes a large message.
TEST_F(IngestClientTest, APushOverTheMessageLimitIsRefusedAndLargePushesGoAlone) {
  StartServer();
  IngestClientOptions options;
  options.max_linger = absl::Minutes(1);  // the two large pushes wait for the first's ack
  StartClient(options);
  std::string huge(kMaxPushBytes + 1, 'x');
  auto promise = std::make_shared<std::promise<PushAck>>();
  client_->PushSerialized(std::move(huge),
                          [promise](const PushAck& ack) { promise->set_value(ack); });
  const PushAck refused = promise->get_future().get();
  EXPECT_EQ(refused.code(), PushAck::INVALID);
  EXPECT_NE(refused.message().find("over the ingest API's limit"), std::string::npos);
  EXPECT_EQ(client_->stats().pushes_sent, 0u);
  EXPECT_TRUE(client_->connected());

  auto first = Push("first");  // held: the next two wait for its ack and go together
  processor_.WaitForHeld(1);
  std::vector<std::future<PushAck>> large;
  for (int i = 0; i < 2; ++i) {
    PushRequest request = RequestForJob(absl::StrCat("large", i));
    request.mutable_grouping_key()->add_labels()->set_value(std::string(3 << 20, 'v'));
    auto done = std::make_shared<std::promise<PushAck>>();
    large.push_back(done->get_future());
    client_->Push(request, [done](const PushAck& ack) { done->set_value(ack); });
  }
  processor_.Release(0, PushAck::OK);
  processor_.WaitForHeld(3);
  processor_.Release(1, PushAck::OK);
  processor_.Release(2, PushAck::OK);
  for (auto& ack : large) EXPECT_EQ(ack.get().code(), PushAck::OK);
  EXPECT_EQ(first.get().code(), PushAck::OK);
  // 3 MiB each: together they would pass the 4 MiB batch size.
  EXPECT_EQ(client_->stats().batches_sent, 3u);
  EXPECT_EQ(client_->stats().pushes_sent, 3u);
}

TEST_F(IngestClientTest, HundredsOfPushesEachGetTheirOwnAck) {
  StartServer();
  StartClient();
  std::vector<std::future<PushAck>> acks;
  for (int i = 0; i < 300; ++i) acks.push_back(Push(absl::StrCat("job", i)));
  processor_.WaitForHeld(acks.size());
  ASSERT_EQ(processor_.held(), acks.size());
  for (size_t i = 0; i < acks.size(); ++i) processor_.Release(i, PushAck::OK);
  uint64_t previous_sequence = 0;
  for (size_t i = 0; i < acks.size(); ++i) {
    PushAck ack = acks[i].get();
    EXPECT_EQ(ack.code(), PushAck::OK);
    EXPECT_EQ(ack.message(), absl::StrCat("job", i));
    EXPECT_GT(ack.sequence(), previous_sequence);
    previous_sequence = ack.sequence();
  }
  // The writer counts a batch once its Write returns, which may be after the acks for it came
  // back and completed the futures above.
  IngestClientStats stats = client_->stats();
  for (int i = 0; i < 500 && stats.pushes_sent < acks.size(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    stats = client_->stats();
  }
  EXPECT_EQ(stats.pushes_sent, acks.size());
  EXPECT_GE(stats.batches_sent, 1u);
  EXPECT_LE(stats.batches_sent, acks.size());
}

TEST_F(IngestClientTest, APushInWireFormGetsASequenceAndArrivesWhole) {
  StartServer();
  StartClient();
  auto first = Push("first");
  PushRequest request;
  request.mutable_grouping_key()->set_job("wire");
  request.add_families()->set_name("up");
  request.set_receive_time_ns(42);
  auto promise = std::make_shared<std::promise<PushAck>>();
  client_->PushSerialized(request.SerializeAsString(),
                          [promise](const PushAck& ack) { promise->set_value(ack); });
  processor_.WaitForHeld(2);
  processor_.Release(1, PushAck::OK);
  PushAck ack = promise->get_future().get();
  EXPECT_EQ(ack.code(), PushAck::OK);
  EXPECT_EQ(ack.message(), "wire");
  PushRequest received = processor_.request(1);
  EXPECT_EQ(received.sequence(), ack.sequence());
  EXPECT_GT(received.sequence(), 1u);
  received.clear_sequence();
  EXPECT_EQ(received.SerializeAsString(), request.SerializeAsString());
  processor_.Release(0, PushAck::OK);
  EXPECT_EQ(first.get().code(), PushAck::OK);
}

TEST_F(IngestClientTest, NoAggregatorMeansUnavailableAtOnce) {
  IngestClientOptions options;
  options.target = "127.0.0.1:1";  // Nothing listens there.
  client_ = std::make_unique<IngestClient>(options);
  client_->Start();
  auto ack = Push("x");
  ASSERT_EQ(ack.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(ack.get().code(), PushAck::UNAVAILABLE);
  EXPECT_EQ(client_->stats().refused_not_connected, 1u);
}

TEST_F(IngestClientTest, RefusesPushesBeyondTheInflightLimit) {
  StartServer();
  IngestClientOptions options;
  options.max_inflight = 2;
  StartClient(options);
  auto a = Push("a");
  auto b = Push("b");
  auto c = Push("c");
  ASSERT_EQ(c.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  PushAck ack_c = c.get();
  EXPECT_EQ(ack_c.code(), PushAck::UNAVAILABLE);
  EXPECT_NE(ack_c.message().find("in flight"), std::string::npos) << ack_c.message();
  EXPECT_EQ(client_->stats().refused_inflight_pushes, 1u);
  processor_.WaitForHeld(2);
  processor_.Release(0, PushAck::OK);
  processor_.Release(1, PushAck::OK);
  EXPECT_EQ(a.get().code(), PushAck::OK);
  EXPECT_EQ(b.get().code(), PushAck::OK);
}

// Bytes in flight are bounded too: a push that would pass the limit is refused, unless no other
// is in flight, and the room comes back with the acks.
TEST_F(IngestClientTest, RefusesPushesBeyondTheInflightBytes) {
  StartServer();
  IngestClientOptions options;
  options.max_inflight_bytes = 100 << 10;
  StartClient(options);
  const auto push_of = [this](const std::string& job, size_t bytes) {
    PushRequest request = RequestForJob(job);
    request.mutable_grouping_key()->add_labels()->set_value(std::string(bytes, 'v'));
    auto promise = std::make_shared<std::promise<PushAck>>();
    client_->Push(request, [promise](const PushAck& ack) { promise->set_value(ack); });
    return promise->get_future();
  };
  auto alone = push_of("alone", 200 << 10);  // over the limit, but the only one
  processor_.WaitForHeld(1);
  auto refused = push_of("refused", 10);
  ASSERT_EQ(refused.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  const PushAck ack = refused.get();
  EXPECT_EQ(ack.code(), PushAck::UNAVAILABLE);
  EXPECT_NE(ack.message().find("bytes in flight"), std::string::npos) << ack.message();
  processor_.Release(0, PushAck::OK);
  EXPECT_EQ(alone.get().code(), PushAck::OK);

  auto a = push_of("a", 40 << 10);
  auto b = push_of("b", 40 << 10);
  auto c = push_of("c", 40 << 10);  // 120 KiB with the other two
  EXPECT_EQ(c.get().code(), PushAck::UNAVAILABLE);
  processor_.WaitForHeld(3);
  processor_.Release(1, PushAck::OK);
  EXPECT_EQ(a.get().code(), PushAck::OK);
  auto d = push_of("d", 40 << 10);  // room again
  processor_.WaitForHeld(4);
  processor_.Release(2, PushAck::OK);
  processor_.Release(3, PushAck::OK);
  EXPECT_EQ(b.get().code(), PushAck::OK);
  EXPECT_EQ(d.get().code(), PushAck::OK);
  EXPECT_EQ(client_->stats().refused_inflight_bytes, 2u);
  EXPECT_EQ(client_->stats().refused_inflight_pushes, 0u);
}

TEST_F(IngestClientTest, PendingPushesFailWhenTheAggregatorGoesAwayAndClientReconnects) {
  StartServer();
  StartClient();
  int port = server_->port();
  auto a = Push("a");
  processor_.WaitForHeld(1);
  server_->Stop();
  ASSERT_EQ(a.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(a.get().code(), PushAck::UNAVAILABLE);
  EXPECT_EQ(client_->stats().failed_stream_broke, 1u);

  // A new aggregator on the same port: the client reconnects by itself.
  HeldProcessor second;
  IngestServer restarted(absl::StrCat("127.0.0.1:", port), &second);
  ASSERT_TRUE(restarted.Start().ok());
  for (int i = 0; i < 500 && !client_->connected(); ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(client_->connected());
  auto b = Push("b");
  second.WaitForHeld(1);
  second.Release(0, PushAck::OK);
  EXPECT_EQ(b.get().code(), PushAck::OK);
  client_->Stop();
  restarted.Stop();
}

// At the end of a drain it is the front that gives up on its pushes, and its clients are
// told so, not that the aggregator broke the stream.
TEST_F(IngestClientTest, PushesStillPendingAtStopAreToldTheFrontIsShuttingDown) {
  StartServer();
  StartClient();
  auto a = Push("a");
  processor_.WaitForHeld(1);
  client_->Stop();
  ASSERT_EQ(a.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const PushAck ack = a.get();
  EXPECT_EQ(ack.code(), PushAck::UNAVAILABLE);
  EXPECT_THAT(ack.message(), ::testing::HasSubstr("shutting down"));
  EXPECT_THAT(ack.message(), ::testing::Not(::testing::HasSubstr("stream broke")));
  processor_.Release(0, PushAck::OK);
}

// An ack that does not come within the timeout makes the push UNAVAILABLE, and means the
// stream is not to be trusted: it is cancelled and opened again, and the push that timed out
// is not sent again.
TEST_F(IngestClientTest, OverdueAckBecomesUnavailableAndRestartsTheStream) {
  StartServer();
  IngestClientOptions options;
  options.ack_timeout = absl::Milliseconds(200);
  StartClient(options);
  auto a = Push("a");
  ASSERT_EQ(a.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  PushAck ack = a.get();
  EXPECT_EQ(ack.code(), PushAck::UNAVAILABLE);
  EXPECT_NE(ack.message().find("did not acknowledge"), std::string::npos) << ack.message();
  EXPECT_EQ(client_->stats().ack_timeouts, 1u);
  for (int i = 0; i < 500 && client_->stats().stream_starts < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(client_->stats().stream_starts, 2u);
  for (int i = 0; i < 500 && !client_->connected(); ++i) absl::SleepFor(absl::Milliseconds(10));
  auto b = Push("b");
  processor_.WaitForHeld(2);
  processor_.Release(0, PushAck::OK);  // A late ack must not call the callback twice.
  processor_.Release(1, PushAck::OK);
  EXPECT_EQ(b.get().code(), PushAck::OK);
  EXPECT_EQ(processor_.held(), 2u);
  EXPECT_EQ(processor_.request(1).grouping_key().job(), "b");
}

// After an outage the client is connected again within its own backoff of the aggregator's
// return, not after gRPC's default reconnect backoff, which by then has grown to many seconds.
TEST_F(IngestClientTest, ReconnectsWithinItsBackoffAfterALongOutage) {
  StartServer();
  IngestClientOptions options;
  options.max_reconnect_backoff = absl::Seconds(1);
  StartClient(options);
  const int port = server_->port();
  server_->Stop();
  absl::SleepFor(absl::Seconds(12));
  HeldProcessor second;
  IngestServer restarted(absl::StrCat("127.0.0.1:", port), &second);
  ASSERT_TRUE(restarted.Start().ok());
  const absl::Time back = absl::Now();
  for (int i = 0; i < 1000 && !client_->connected(); ++i) absl::SleepFor(absl::Milliseconds(10));
  const absl::Duration reconnect = absl::Now() - back;
  std::cout << "reconnected " << reconnect << " after the aggregator came back" << std::endl;
  EXPECT_LT(reconnect, absl::Milliseconds(2500));
  client_->Stop();
  restarted.Stop();
}

// The client pings an idle connection, and the server must welcome those pings: with gRPC's
// default server policy it would answer them with GOAWAY and the stream would break.
TEST_F(IngestClientTest, KeepalivePingsOnAnIdleStreamKeepItOpen) {
  StartServer();
  IngestClientOptions options;
  options.keepalive_interval = absl::Milliseconds(1200);
  options.keepalive_timeout = absl::Seconds(1);
  StartClient(options);
  absl::SleepFor(absl::Seconds(6));
  EXPECT_EQ(client_->stats().stream_failures, 0u);
  EXPECT_TRUE(client_->connected());
  auto a = Push("a");
  processor_.WaitForHeld(1);
  processor_.Release(0, PushAck::OK);
  EXPECT_EQ(a.get().code(), PushAck::OK);
}

}  // namespace
}  // namespace pushgate
