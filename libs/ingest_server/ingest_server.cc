#include "libs/ingest_server/ingest_server.h"

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "proto/ingest.grpc.pb.h"

namespace pushgate {

using pushgate::v1::AckBatch;
using pushgate::v1::PushAck;
using pushgate::v1::PushBatch;
using pushgate::v1::PushRequest;

namespace {

// One stream, served with gRPC's callback API: messages are read one at a time and handed to
// the processor on the gRPC thread that completed the read, and acks are written as they
// become ready, one write at a time. (With the synchronous API a thread of our own per stream
// waited for each message, and gRPC's poller had to wake it: one more thread hand-off on
// every batch's way to the disk.)
//
// Acks that become ready while a message is being handed over (the spool usually commits on
// that very thread) are written together once the processor returns; an ack made later by
// another thread starts a write from that thread. The processor's callbacks may outlive the
// stream, so what they touch is a shared State; after the stream is done they are dropped.
template <typename In, typename Out>
class StreamReactor final : public grpc::ServerBidiReactor<In, Out> {
 public:
  // Hands the pushes of `message` over; each push's ack goes to `acks`.
  class State;
  using Process = std::function<void(In& message, const std::shared_ptr<State>& acks)>;
  // Moves the acks that go in one message from the front of `ready` into `out`.
  using Pack = void (*)(std::deque<PushAck>& ready, Out* out);

  class State {
   public:
    explicit State(StreamReactor* reactor) : reactor_(reactor) {}
    // Expects one more ack, given later to Add.
    void ExpectOne() {
      absl::MutexLock lock(&mu_);
      ++outstanding_;
    }
    void Add(PushAck ack) {
      StreamReactor* writer = nullptr;
      {
        absl::MutexLock lock(&mu_);
        if (reactor_ == nullptr) return;  // the stream is gone
        ready_.push_back(std::move(ack));
        --outstanding_;
        if (!processing_) writer = TakeWriteLocked();
      }
      if (writer != nullptr) writer->StartWrite(&writer->out_);
    }

   private:
    friend class StreamReactor;
    // If acks are ready and no write is under way, packs the next message into the reactor's
    // `out_` and returns the reactor for the caller to start the write (outside the lock).
    StreamReactor* TakeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (reactor_ == nullptr || writing_ || broken_ || finished_ || ready_.empty()) {
        return nullptr;
      }
      writing_ = true;
      reactor_->out_.Clear();
      reactor_->pack_(ready_, &reactor_->out_);
      return reactor_;
    }
    // True if the stream should end now: the producer closed its side and every ack is
    // written, or the stream broke. The caller then calls Finish.
    bool TakeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (finished_ || writing_) return false;
      if (!broken_ && !(input_done_ && outstanding_ == 0 && ready_.empty())) return false;
      finished_ = true;
      return true;
    }

    absl::Mutex mu_;
    StreamReactor* reactor_ ABSL_GUARDED_BY(mu_);  // null once the stream is done
    std::deque<PushAck> ready_ ABSL_GUARDED_BY(mu_);
    size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;   // expected acks not yet ready
    bool processing_ ABSL_GUARDED_BY(mu_) = false;  // a message is being handed over
    bool writing_ ABSL_GUARDED_BY(mu_) = false;     // a write is under way (reactor's out_)
    bool input_done_ ABSL_GUARDED_BY(mu_) = false;  // the producer closed its side
    bool broken_ ABSL_GUARDED_BY(mu_) = false;      // cancelled, or a write failed
    bool finished_ ABSL_GUARDED_BY(mu_) = false;    // Finish was called
  };

  StreamReactor(Process process, Pack pack)
      : process_(std::move(process)), pack_(pack), state_(std::make_shared<State>(this)) {
    this->StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the producer closed its side, or the stream broke (OnCancel says which)
      bool finish;
      {
        absl::MutexLock lock(&state_->mu_);
        state_->input_done_ = true;
        finish = state_->TakeFinishLocked();
      }
      if (finish) this->Finish(grpc::Status::OK);
      return;
    }
    {
      absl::MutexLock lock(&state_->mu_);
      state_->processing_ = true;
    }
    process_(in_, state_);
    StreamReactor* writer;
    bool go_on;
    {
      absl::MutexLock lock(&state_->mu_);
      state_->processing_ = false;
      writer = state_->TakeWriteLocked();
      go_on = !state_->finished_;
    }
    if (writer != nullptr) this->StartWrite(&out_);
    if (go_on) this->StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    StreamReactor* writer;
    bool finish;
    {
      absl::MutexLock lock(&state_->mu_);
      state_->writing_ = false;
      if (!ok) state_->broken_ = true;
      writer = state_->TakeWriteLocked();
      finish = state_->TakeFinishLocked();
    }
    if (writer != nullptr) this->StartWrite(&out_);
    if (finish) this->Finish(grpc::Status::OK);
  }

  void OnCancel() override {
    bool finish;
    {
      absl::MutexLock lock(&state_->mu_);
      state_->broken_ = true;
      finish = state_->TakeFinishLocked();
    }
    if (finish) this->Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&state_->mu_);
      state_->reactor_ = nullptr;
    }
    delete this;
  }

 private:
  const Process process_;
  const Pack pack_;
  const std::shared_ptr<State> state_;
  In in_;    // the message being read or handed over; reused
  Out out_;  // the message being written; written only by the holder of State::writing_
};

// The callback that acknowledges push `sequence` on a stream.
template <typename State>
PushProcessor::Done AckTo(uint64_t sequence, const std::shared_ptr<State>& acks) {
  acks->ExpectOne();
  return [acks, sequence](PushAck ack) {
    ack.set_sequence(sequence);
    acks->Add(std::move(ack));
  };
}

}  // namespace

class IngestServer::Service final : public pushgate::v1::Ingest::CallbackService {
 public:
  explicit Service(PushProcessor* processor) : processor_(processor) {}

  grpc::ServerBidiReactor<PushRequest, PushAck>* Push(grpc::CallbackServerContext*) override {
    using Reactor = StreamReactor<PushRequest, PushAck>;
    // Per stream, reused for each message.
    struct Scratch {
      std::string serialized;
      PushView view;
      std::vector<PushProcessor::Push> pushes;
    };
    return new Reactor(
        [this, scratch = std::make_shared<Scratch>()](PushRequest& request,
                                                      const std::shared_ptr<Reactor::State>& acks) {
          scratch->serialized.clear();
          request.AppendToString(&scratch->serialized);
          scratch->view.Fill(request);
          scratch->pushes.clear();
          scratch->pushes.push_back(
              {&scratch->view, scratch->serialized, AckTo(request.sequence(), acks)});
          processor_->Process(absl::MakeSpan(scratch->pushes));
        },
        [](std::deque<PushAck>& ready, PushAck* out) {
          *out = std::move(ready.front());
          ready.pop_front();
        });
  }

  grpc::ServerBidiReactor<PushBatch, AckBatch>* PushBatches(grpc::CallbackServerContext*) override {
    using Reactor = StreamReactor<PushBatch, AckBatch>;
    struct Scratch {
      std::deque<PushView> views;  // a deque keeps their addresses
      std::vector<PushProcessor::Push> pushes;
    };
    return new Reactor(
        [this, scratch = std::make_shared<Scratch>()](PushBatch& batch,
                                                      const std::shared_ptr<Reactor::State>& acks) {
          if (scratch->views.size() < static_cast<size_t>(batch.pushes_size())) {
            scratch->views.resize(batch.pushes_size());
          }
          scratch->pushes.clear();
          for (int i = 0; i < batch.pushes_size(); ++i) {
            PushView& view = scratch->views[i];
            const std::string& serialized = batch.pushes(i);
            // Accepts exactly what PushRequest::ParseFromString would.
            const absl::Status parsed = view.Parse(serialized);
            if (parsed.ok()) {
              scratch->pushes.push_back({&view, serialized, AckTo(view.sequence(), acks)});
            } else {
              RefuseUnparsable(view.sequence(), parsed, acks);
            }
          }
          if (!scratch->pushes.empty()) processor_->Process(absl::MakeSpan(scratch->pushes));
        },
        [](std::deque<PushAck>& ready, AckBatch* out) {
          for (PushAck& ack : ready) *out->add_acks() = std::move(ack);
          ready.clear();
        });
  }

 private:
  // A batch entry that is not a PushRequest. Its sequence is whatever was parsed of it before
  // the damage (0 if nothing): the producer's ack timeout covers the case it names no push.
  template <typename State>
  static void RefuseUnparsable(uint64_t sequence, const absl::Status& why,
                               const std::shared_ptr<State>& acks) {
    PushAck ack;
    ack.set_code(PushAck::INVALID);
    ack.set_message(
        absl::StrCat("batch entry is not a serialized pushgate.v1.PushRequest: ", why.message()));
    AckTo(sequence, acks)(std::move(ack));
  }

  PushProcessor* processor_;
};

IngestServer::IngestServer(std::string listen, PushProcessor* processor)
    : listen_(std::move(listen)), service_(new Service(processor)) {}

IngestServer::~IngestServer() { Stop(); }

absl::Status IngestServer::Start() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen_, grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(256 << 20);
  // gRPC sets SO_REUSEPORT by default: a second aggregator started on the same port by
  // mistake would then quietly take half of the new streams into its own spool. Fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", listen_));
  }
  return absl::OkStatus();
}

int IngestServer::port() const { return port_; }

void IngestServer::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown(
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(2000, GPR_TIMESPAN)));
  server_->Wait();
  server_.reset();
}

}  // namespace pushgate
