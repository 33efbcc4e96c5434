// Talks to the ingest server through gRPC's generated stubs, as a producer other than the
// front would: both the one-push-per-message Push stream and the batched PushBatches stream.
#include "libs/ingest_server/ingest_server.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/ingest.grpc.pb.h"

namespace pushgate {
namespace {

using pushgate::v1::AckBatch;
using pushgate::v1::PushAck;
using pushgate::v1::PushBatch;
using pushgate::v1::PushRequest;

// Acknowledges pushes of job "invalid" as INVALID and holds the others until `release_all`
// is called, then acknowledges them in reverse order of arrival.
class ReversingProcessor : public PushProcessor {
 public:
  void Process(absl::Span<Push> pushes, bool other_streams_open) override {
    {
      absl::MutexLock lock(&mu_);
      other_streams_open_.push_back(other_streams_open);
    }
    for (Push& push : pushes) ProcessOne(*push.view, std::move(push.done));
  }
  // What Process was told each time.
  std::vector<bool> other_streams_open() {
    absl::MutexLock lock(&mu_);
    return other_streams_open_;
  }
  void ProcessOne(const PushView& push, Done done) {
    if (push.job() == "invalid") {
      PushAck ack;
      ack.set_code(PushAck::INVALID);
      ack.set_message("job is invalid");
      return done(ack);
    }
    absl::MutexLock lock(&mu_);
    held_.push_back(std::move(done));
  }
  void WaitForHeld(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_.size() >= n; };
    ASSERT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10)));
  }
  void ReleaseAll() {
    std::vector<Done> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
    }
    std::reverse(held.begin(), held.end());
    for (Done& done : held) done(PushAck());
  }

 private:
  absl::Mutex mu_;
  std::vector<Done> held_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> other_streams_open_ ABSL_GUARDED_BY(mu_);
};

PushRequest Request(uint64_t sequence, const std::string& job) {
  PushRequest request;
  request.set_sequence(sequence);
  request.mutable_grouping_key()->set_job(job);
  return request;
}

// Run with one server thread and with two, which spread the streams between them.
class IngestServerTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<IngestServer>("127.0.0.1:0", &processor_, GetParam());
    ASSERT_TRUE(server_->Start().ok());
    stub_ = pushgate::v1::Ingest::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Stop(); }

  ReversingProcessor processor_;
  std::unique_ptr<IngestServer> server_;
  std::unique_ptr<pushgate::v1::Ingest::Stub> stub_;
};

TEST_P(IngestServerTest, PushStreamAcksEveryRequestBySequenceInTheOrderAcksBecomeReady) {
  grpc::ClientContext context;
  auto stream = stub_->Push(&context);
  ASSERT_TRUE(stream->Write(Request(7, "a")));
  ASSERT_TRUE(stream->Write(Request(8, "invalid")));
  ASSERT_TRUE(stream->Write(Request(9, "b")));
  processor_.WaitForHeld(2);

  PushAck ack;
  ASSERT_TRUE(stream->Read(&ack));  // the INVALID one is ready first
  EXPECT_EQ(ack.sequence(), 8u);
  EXPECT_EQ(ack.code(), PushAck::INVALID);
  EXPECT_EQ(ack.message(), "job is invalid");

  ASSERT_TRUE(stream->WritesDone());
  processor_.ReleaseAll();
  std::vector<uint64_t> sequences;
  while (stream->Read(&ack)) {
    EXPECT_EQ(ack.code(), PushAck::OK);
    sequences.push_back(ack.sequence());
  }
  EXPECT_EQ(sequences, (std::vector<uint64_t>{9, 7}));
  EXPECT_TRUE(stream->Finish().ok());
}

// The server counts the producers connected, and tells the processor whether others are, so
// that it can leave a commit to another thread rather than hold their messages up.
TEST_P(IngestServerTest, TheProcessorKnowsWhetherOtherProducersStreamsAreOpen) {
  const auto push_and_wait = [&](grpc::ClientReaderWriter<PushRequest, PushAck>* stream,
                                 uint64_t sequence) {
    ASSERT_TRUE(stream->Write(Request(sequence, "invalid")));  // acked at once
    PushAck ack;
    ASSERT_TRUE(stream->Read(&ack));
    EXPECT_EQ(ack.sequence(), sequence);
  };
  grpc::ClientContext first_context;
  auto first = stub_->Push(&first_context);
  push_and_wait(first.get(), 1);
  EXPECT_EQ(server_->open_streams(), 1);
  {
    grpc::ClientContext second_context;
    auto second = stub_->Push(&second_context);
    push_and_wait(second.get(), 2);
    EXPECT_EQ(server_->open_streams(), 2);
    push_and_wait(first.get(), 3);
    ASSERT_TRUE(second->WritesDone());
    EXPECT_TRUE(second->Finish().ok());
  }
  for (int i = 0; i < 500 && server_->open_streams() != 1; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(server_->open_streams(), 1);
  push_and_wait(first.get(), 4);
  EXPECT_EQ(processor_.other_streams_open(), (std::vector<bool>{false, true, true, false}));
  ASSERT_TRUE(first->WritesDone());
  EXPECT_TRUE(first->Finish().ok());
}

// A proto3 string that is not UTF-8 makes a message protobuf will not parse. Such a push is
// refused with an INVALID ack naming its sequence, and the stream goes on: the push after it
// is taken. (Parsed by gRPC, it ended the stream as if the producer had closed it, with no
// ack for it or anything after it.)
TEST_P(IngestServerTest, APushStreamMessageThatIsNotAPushIsRefusedAndTheStreamGoesOn) {
  grpc::ClientContext context;
  auto stream = stub_->Push(&context);
  ASSERT_TRUE(stream->Write(Request(5, "bad\xff")));  // serialized as is, with a logged error
  ASSERT_TRUE(stream->Write(Request(6, "invalid")));
  PushAck ack;
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.sequence(), 5u);
  EXPECT_EQ(ack.code(), PushAck::INVALID);
  EXPECT_THAT(ack.message(),
              ::testing::StartsWith("message is not a serialized pushgate.v1.PushRequest: "));
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.sequence(), 6u);
  EXPECT_EQ(ack.message(), "job is invalid");
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&ack));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_P(IngestServerTest, AcksMadeLaterByAnotherThreadArriveWhileTheStreamIsIdle) {
  // Acks ready while a message is processed are sent by the reading thread; one made later
  // must still go out while that thread waits for the next message, not with it.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub_->PushBatches(&context);
  for (uint64_t sequence : {1, 2}) {
    PushBatch batch;
    batch.add_pushes(Request(sequence, "held").SerializeAsString());
    ASSERT_TRUE(stream->Write(batch));
    processor_.WaitForHeld(1);
    processor_.ReleaseAll();
    AckBatch acks;
    ASSERT_TRUE(stream->Read(&acks)) << "no ack within the deadline";
    ASSERT_EQ(acks.acks_size(), 1);
    EXPECT_EQ(acks.acks(0).sequence(), sequence);
    EXPECT_EQ(acks.acks(0).code(), PushAck::OK);
  }
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_P(IngestServerTest, PushBatchesAcksEveryRequestOfEveryBatchExactlyOnce) {
  grpc::ClientContext context;
  auto stream = stub_->PushBatches(&context);
  uint64_t sequence = 0;
  for (int batch_size : {1, 5, 40}) {
    PushBatch batch;
    for (int i = 0; i < batch_size; ++i) {
      batch.add_pushes(Request(++sequence, "job").SerializeAsString());
    }
    ASSERT_TRUE(stream->Write(batch));
  }
  PushBatch with_invalid;
  with_invalid.add_pushes(Request(++sequence, "invalid").SerializeAsString());
  with_invalid.add_pushes(Request(++sequence, "job").SerializeAsString());
  ASSERT_TRUE(stream->Write(with_invalid));
  processor_.WaitForHeld(sequence - 1);
  ASSERT_TRUE(stream->WritesDone());
  processor_.ReleaseAll();

  std::vector<uint64_t> ok, invalid;
  AckBatch acks;
  while (stream->Read(&acks)) {
    EXPECT_GT(acks.acks_size(), 0);
    for (const PushAck& ack : acks.acks()) {
      (ack.code() == PushAck::OK ? ok : invalid).push_back(ack.sequence());
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(invalid, (std::vector<uint64_t>{sequence - 1}));
  std::sort(ok.begin(), ok.end());
  std::vector<uint64_t> expected_ok;
  for (uint64_t s = 1; s <= sequence; ++s) {
    if (s != sequence - 1) expected_ok.push_back(s);
  }
  EXPECT_EQ(ok, expected_ok);
}

// A producer that sends without reading its acks is held back by gRPC's flow control: the
// server stops reading once a bound of acks waits to be written, rather than keeping every
// ack of everything the producer can send in memory. Once read, every push is acked.
TEST_P(IngestServerTest, AProducerThatDoesNotReadItsAcksIsHeldBack) {
  grpc::ClientContext context;
  auto stream = stub_->PushBatches(&context);
  constexpr int kBatches = 400;
  constexpr int kPerBatch = 1000;
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      PushBatch batch;
      // Entries that do not parse, each refused with an ack of a hundred bytes or so, which a
      // producer that does not read soon leaves unwritten. Each is long enough that the 80 MB
      // sent in all are far more than gRPC's flow-control windows hold.
      for (int i = 0; i < kPerBatch; ++i) batch.add_pushes("\xff\xff" + std::string(200, 'x'));
      if (!stream->Write(batch)) return;
      ++written;
    }
    stream->WritesDone();
  });
  // Until the producer is held (no batch written for half a second) or has sent everything.
  for (int i = 0, before = -1; i < 40 && written.load() != before && written.load() < kBatches;
       ++i) {
    before = written.load();
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_LT(written.load(), kBatches) << "the server read on without writing its acks";

  size_t acked = 0;
  AckBatch acks;
  while (stream->Read(&acks)) acked += acks.acks_size();
  writer.join();
  EXPECT_EQ(written.load(), kBatches);
  EXPECT_EQ(acked, static_cast<size_t>(kBatches * kPerBatch));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_P(IngestServerTest, ABatchOfTooManyPushesEndsTheStreamWithResourceExhausted) {
  grpc::ClientContext context;
  auto stream = stub_->PushBatches(&context);
  PushBatch batch;
  for (int i = 0; i < 16385; ++i) {
    batch.add_pushes(Request(i + 1, "invalid").SerializeAsString());
  }
  stream->Write(batch);  // fails if the stream already ended
  stream->WritesDone();
  AckBatch acks;
  size_t acked = 0;
  while (stream->Read(&acks)) acked += acks.acks_size();
  EXPECT_EQ(acked, 0u);
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              ::testing::HasSubstr("16385 pushes, over the limit of 16384 per message"));
}

TEST_P(IngestServerTest, ABatchEntryThatIsNotAPushIsRefusedAndTheStreamGoesOn) {
  grpc::ClientContext context;
  auto stream = stub_->PushBatches(&context);
  PushBatch batch;
  batch.add_pushes(std::string("\x08\x05\x1a\xff", 4));  // sequence 5, then a cut field
  batch.add_pushes(Request(6, "invalid").SerializeAsString());
  ASSERT_TRUE(stream->Write(batch));
  ASSERT_TRUE(stream->WritesDone());

  std::vector<PushAck> acks;
  AckBatch message;
  while (stream->Read(&message)) {
    acks.insert(acks.end(), message.acks().begin(), message.acks().end());
  }
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[0].sequence(), 5u);
  EXPECT_EQ(acks[0].code(), PushAck::INVALID);
  EXPECT_NE(acks[0].message().find("not a serialized pushgate.v1.PushRequest"), std::string::npos);
  // ... and says where and what is wrong.
  EXPECT_NE(acks[0].message().find("byte 2, pushgate.v1.PushRequest field 3"), std::string::npos)
      << acks[0].message();
  EXPECT_EQ(acks[1].sequence(), 6u);
  EXPECT_EQ(acks[1].message(), "job is invalid");
}

TEST_P(IngestServerTest, AcksGivenAfterTheProducerWentAwayAreDroppedAndTheServerGoesOn) {
  {
    grpc::ClientContext context;
    auto stream = stub_->PushBatches(&context);
    PushBatch batch;
    batch.add_pushes(Request(1, "held").SerializeAsString());
    ASSERT_TRUE(stream->Write(batch));
    processor_.WaitForHeld(1);
    context.TryCancel();
    EXPECT_FALSE(stream->Finish().ok());
  }
  // The processor acknowledges only now, when its stream is gone on both sides.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  processor_.ReleaseAll();

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub_->PushBatches(&context);
  PushBatch batch;
  batch.add_pushes(Request(2, "invalid").SerializeAsString());
  ASSERT_TRUE(stream->Write(batch));
  AckBatch acks;
  ASSERT_TRUE(stream->Read(&acks));
  ASSERT_EQ(acks.acks_size(), 1);
  EXPECT_EQ(acks.acks(0).sequence(), 2u);
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&acks));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_P(IngestServerTest, ASecondServerOnTheSamePortFailsToStartInsteadOfSharingIt) {
  IngestServer second(absl::StrCat("127.0.0.1:", server_->port()), &processor_, GetParam());
  const absl::Status started = second.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable) << started;
}

TEST_P(IngestServerTest, StreamsOpenAtOnceAreServedSideBySide) {
  // A stream whose pushes are held must not keep the others from being served, whichever
  // thread each one landed on.
  constexpr int kStreams = 4;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReaderWriter<PushBatch, AckBatch>>> streams;
  for (int i = 0; i < kStreams; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    streams.push_back(stub_->PushBatches(contexts.back().get()));
    PushBatch held;
    held.add_pushes(Request(100 + i, "held").SerializeAsString());
    ASSERT_TRUE(streams.back()->Write(held));
  }
  processor_.WaitForHeld(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    PushBatch refused;
    refused.add_pushes(Request(200 + i, "invalid").SerializeAsString());
    ASSERT_TRUE(streams[i]->Write(refused));
    AckBatch acks;
    ASSERT_TRUE(streams[i]->Read(&acks)) << "stream " << i;
    ASSERT_EQ(acks.acks_size(), 1);
    EXPECT_EQ(acks.acks(0).sequence(), 200u + i);
  }
  processor_.ReleaseAll();
  for (int i = 0; i < kStreams; ++i) {
    AckBatch acks;
    ASSERT_TRUE(streams[i]->Read(&acks)) << "stream " << i;
    ASSERT_EQ(acks.acks_size(), 1);
    EXPECT_EQ(acks.acks(0).sequence(), 100u + i);
    EXPECT_EQ(acks.acks(0).code(), PushAck::OK);
    ASSERT_TRUE(streams[i]->WritesDone());
    EXPECT_TRUE(streams[i]->Finish().ok());
  }
}

TEST_P(IngestServerTest, StopWhileProducersPushAndAcksKeepComingEndsEveryStream) {
  // Producers keep pushing and the processor keeps acknowledging, from its own thread, while
  // the server stops: through the shutdown deadline, the cancellation of the streams and the
  // closing of the completion queues. Every stream must end, and acks given after that must
  // be dropped, not written to a stream or queue that is gone.
  std::atomic<bool> stop_releasing{false};
  std::thread releaser([&] {
    while (!stop_releasing) {
      processor_.ReleaseAll();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  constexpr int kProducers = 3;
  std::vector<std::thread> producers;
  std::atomic<int> acked{0};
  std::atomic<int> deadline_exceeded{0};
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      auto stream = stub_->PushBatches(&context);
      std::thread reader([&] {
        AckBatch acks;
        while (stream->Read(&acks)) acked += acks.acks_size();
      });
      for (uint64_t sequence = 1;; ++sequence) {
        PushBatch batch;
        batch.add_pushes(Request(sequence, absl::StrCat("producer", p)).SerializeAsString());
        if (!stream->Write(batch)) break;  // the server cancelled the stream
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      reader.join();
      if (stream->Finish().error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        ++deadline_exceeded;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int acked_before_stop = acked;
  const absl::Time stop_start = absl::Now();
  server_->Stop();
  for (std::thread& producer : producers) producer.join();
  // The server ended them (its shutdown deadline is 2 s), not the producers' own 20 s.
  EXPECT_LT(absl::Now() - stop_start, absl::Seconds(10));
  EXPECT_EQ(deadline_exceeded, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // acks still being given
  stop_releasing = true;
  releaser.join();
  processor_.ReleaseAll();
  EXPECT_GT(acked_before_stop, 0) << "the streams were served before the stop";
}

INSTANTIATE_TEST_SUITE_P(Threads, IngestServerTest, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return absl::StrCat(info.param, "Threads");
                         });

}  // namespace
}  // namespace pushgate
