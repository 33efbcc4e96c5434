#include "libs/ingest_server/ingest_server.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "libs/thread_name/thread_name.h"
#include "proto/ingest.grpc.pb.h"

namespace pushgate {

using pushgate::v1::AckBatch;
using pushgate::v1::PushAck;
using pushgate::v1::PushBatch;

namespace {

// Pushes read from one stream whose acks are not yet written. Beyond it the stream is not
// read until they are, so a producer that sends faster than it takes its acks is held back
// by gRPC's flow control instead of filling the aggregator's memory with acks (a producer
// that never read them took it past 1.7 GiB). Far above what the front keeps in flight
// (--max_inflight_pushes, 1,024 by default).
constexpr size_t kMaxUnansweredPushes = 16384;

// Pushes in one PushBatches message. Each becomes an ack and a view while it is handled, so a
// single message of millions of tiny entries took gigabytes; beyond it the stream is ended
// with RESOURCE_EXHAUSTED. The front sends at most 256.
constexpr int kMaxPushesPerBatch = 16384;

// Batch entries whose views a stream keeps for its next messages; a larger batch's go.
constexpr size_t kKeptViews = 256;

// Bytes of acks in one AckBatch (a little more: the last one may go past it).
constexpr size_t kMaxAckBatchBytes = 1 << 20;

// What a completion queue hands back: each pending operation's tag is one of these.
class Completion {
 public:
  virtual void Complete(bool ok) = 0;

 protected:
  ~Completion() = default;
};

// A tag that calls `(call->*Handler)(ok)`.
template <typename Call, void (Call::*Handler)(bool)>
class CallbackTag final : public Completion {
 public:
  explicit CallbackTag(Call* call) : call_(call) {}
  void Complete(bool ok) override { (call_->*Handler)(ok); }

 private:
  Call* const call_;
};

// Whether operations may still be started. A completion queue must not be given work once it
// is shut down, and acks start writes from the processor's threads at any time, so every
// start goes through here and Stop closes the gate before shutting the queues down.
class OperationGate {
 public:
  // Runs `start` (which starts one operation) unless the gate is closed; says whether it ran.
  template <typename Start>
  bool Run(Start start) {
    absl::ReaderMutexLock lock(&mu_);
    if (closed_) return false;
    start();
    return true;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// One stream of a bidirectional method, served with gRPC's asynchronous API on the thread that
// polls its completion queue. That thread reads each message off the socket itself and hands
// it to the processor, and the acks made meanwhile (the spool usually commits on that very
// thread) go out in one write once the processor returns. With gRPC's callback API the same
// work crossed between two of gRPC's threads on every message (one polled, the other ran the
// callback), and those hand-offs cost more CPU than the processing.
//
// An ack made later by another thread starts a write from there. The processor's callbacks
// may outlive the stream, so what they touch is a shared State; once the stream is gone they
// are dropped.
template <typename In, typename Out>
class Stream {
 public:
  class State;
  // Hands the pushes of `message` over; each push's ack goes to `acks`.
  using Process = std::function<void(In& message, const std::shared_ptr<State>& acks)>;
  // Moves the acks that go in one message from the front of `ready` into `out`.
  using Pack = void (*)(std::deque<PushAck>& ready, Out* out);
  using ReaderWriter = grpc::ServerAsyncReaderWriter<Out, In>;
  // What serves one method: how to ask gRPC for its next stream, and how to process it.
  struct Method {
    std::function<void(grpc::ServerContext*, ReaderWriter*, grpc::ServerCompletionQueue*,
                       void* tag)>
        request;
    // Makes the Process of one stream (which may keep scratch space across its messages).
    std::function<Process()> make_process;
    Pack pack;
    OperationGate* gate;
    std::atomic<int>* open_streams;  // shared by the methods
  };

  // Waits on `cq` for the next stream of `method` and serves it; the stream deletes itself
  // when it is over. (After the gate closed it does nothing.)
  static void Listen(const Method* method, grpc::ServerCompletionQueue* cq) {
    auto* stream = new Stream(method, cq);
    stream->context_.AsyncNotifyWhenDone(&stream->done_);
    if (!method->gate->Run(
            [&] { method->request(&stream->context_, &stream->rw_, cq, &stream->accepted_); })) {
      delete stream;
    }
  }

  class State {
   public:
    explicit State(Stream* stream) : stream_(stream) {}
    // Expects one more ack, given later to Add.
    void ExpectOne() {
      absl::MutexLock lock(&mu_);
      ++outstanding_;
    }
    void Add(PushAck ack) {
      absl::MutexLock lock(&mu_);
      if (stream_ == nullptr) return;  // the stream is gone
      ready_.push_back(std::move(ack));
      --outstanding_;
      if (!processing_) StartWriteLocked();
    }
    // Ends the stream with `status` once the write under way, if any, is done (acks not yet
    // written then are dropped): for a message the stream cannot take. Called while the
    // message is handed over.
    void Refuse(grpc::Status status) {
      absl::MutexLock lock(&mu_);
      refusal_ = std::move(status);
    }

   private:
    friend class Stream;
    // Each Start* starts its operation if it is due and allowed. Operations start only with
    // mu_ held, and `pending_` counts them, so that the stream is deleted exactly when the
    // last one has come back.
    void StartReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (reading_ || input_done_ || broken_ || finished_ || over_ || refusal_.has_value()) {
        return;
      }
      if (outstanding_ + ready_.size() >= kMaxUnansweredPushes) return;  // OnWrite reads on
      Stream* s = stream_;
      if (s->method_->gate->Run([s] { s->rw_.Read(&s->in_, &s->read_); })) {
        reading_ = true;
        ++pending_;
      }
    }
    void StartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (writing_ || ready_.empty() || broken_ || finished_ || over_) return;
      Stream* s = stream_;
      s->out_.Clear();
      s->method_->pack(ready_, &s->out_);
      if (s->method_->gate->Run([s] { s->rw_.Write(s->out_, &s->write_); })) {
        writing_ = true;
        ++pending_;
      }
    }
    // Ends the stream once the producer closed its side and every ack is written, or at once
    // if it broke.
    void FinishIfDueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (finished_ || writing_ || over_) return;
      if (!broken_ && !refusal_.has_value() &&
          !(input_done_ && outstanding_ == 0 && ready_.empty())) {
        return;
      }
      Stream* s = stream_;
      const grpc::Status status = broken_                ? grpc::Status::CANCELLED
                                  : refusal_.has_value() ? *refusal_
                                                         : grpc::Status::OK;
      if (s->method_->gate->Run([s, &status] { s->rw_.Finish(status, &s->finish_); })) {
        finished_ = true;
        ++pending_;
      }
    }
    // Called as each operation comes back; true when the stream is to be deleted (by the
    // caller, after unlocking).
    bool ReturnedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (--pending_ > 0) return false;
      stream_ = nullptr;
      return true;
    }

    absl::Mutex mu_;
    Stream* stream_ ABSL_GUARDED_BY(mu_);  // null once the stream is gone
    std::deque<PushAck> ready_ ABSL_GUARDED_BY(mu_);
    size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;   // expected acks not yet ready
    size_t pending_ ABSL_GUARDED_BY(mu_) = 0;       // operations started, not yet back
    bool processing_ ABSL_GUARDED_BY(mu_) = false;  // a message is being handed over
    bool reading_ ABSL_GUARDED_BY(mu_) = false;
    bool writing_ ABSL_GUARDED_BY(mu_) = false;     // a write is under way (the stream's out_)
    bool input_done_ ABSL_GUARDED_BY(mu_) = false;  // the producer closed its side
    bool broken_ ABSL_GUARDED_BY(mu_) = false;      // a read or write failed
    bool finished_ ABSL_GUARDED_BY(mu_) = false;    // Finish was started
    bool over_ ABSL_GUARDED_BY(mu_) = false;        // gRPC says the call is done
    std::optional<grpc::Status> refusal_ ABSL_GUARDED_BY(mu_);  // see Refuse
  };

 private:
  Stream(const Method* method, grpc::ServerCompletionQueue* cq)
      : method_(method),
        cq_(cq),
        rw_(&context_),
        state_(std::make_shared<State>(this)),
        accepted_(this),
        read_(this),
        write_(this),
        finish_(this),
        done_(this) {}

  // Every handler of a stream runs on the one thread that serves its completion queue, so
  // they never overlap; only State::Add comes from other threads.
  void OnAccepted(bool ok) {
    if (!ok) {  // the server is shutting down; no call started, so `done_` never comes
      delete this;
      return;
    }
    Listen(method_, cq_);
    counted_ = true;
    peer_ = context_.peer();  // gone from the context once the call is over
    const int open = method_->open_streams->fetch_add(1) + 1;
    // Producers connect for long: one line per stream, except in a reconnect storm.
    LOG_EVERY_T(INFO, 1) << "ingest stream from " << peer_ << " opened (" << open << " open)";
    process_ = method_->make_process();
    absl::MutexLock lock(&state_->mu_);
    ++state_->pending_;  // `done_`
    state_->StartReadLocked();
  }

  void OnRead(bool ok) {
    bool gone;
    {
      absl::MutexLock lock(&state_->mu_);
      state_->reading_ = false;
      if (!ok) state_->input_done_ = true;  // closed by the producer, or broken (`done_` says)
      gone = state_->ReturnedLocked();
      if (!gone && !ok) state_->FinishIfDueLocked();
      if (!gone && ok) state_->processing_ = true;
    }
    if (gone) return delete this;
    if (!ok) return;
    process_(in_, state_);
    absl::MutexLock lock(&state_->mu_);
    state_->processing_ = false;
    state_->StartWriteLocked();
    state_->StartReadLocked();
    state_->FinishIfDueLocked();
  }

  void OnWrite(bool ok) {
    bool gone;
    {
      absl::MutexLock lock(&state_->mu_);
      state_->writing_ = false;
      if (!ok) state_->broken_ = true;
      gone = state_->ReturnedLocked();
      if (!gone) {
        state_->StartWriteLocked();
        state_->StartReadLocked();  // if it waited for acks to be written
        state_->FinishIfDueLocked();
      }
    }
    if (gone) delete this;
  }

  void OnFinish(bool) {
    bool gone;
    {
      absl::MutexLock lock(&state_->mu_);
      gone = state_->ReturnedLocked();
    }
    if (gone) delete this;
  }

  void OnDone(bool) {
    bool gone;
    {
      absl::MutexLock lock(&state_->mu_);
      state_->over_ = true;  // finished or cancelled: nothing more is started either way
      gone = state_->ReturnedLocked();
    }
    if (gone) delete this;
  }

  ~Stream() {
    if (!counted_) return;
    const int open = method_->open_streams->fetch_sub(1) - 1;
    LOG_EVERY_T(INFO, 1) << "ingest stream from " << peer_ << " ended (" << open << " open)";
  }

  const Method* const method_;
  grpc::ServerCompletionQueue* const cq_;
  bool counted_ = false;  // accepted, so counted in open_streams
  std::string peer_;      // the producer's address, for the log
  grpc::ServerContext context_;
  ReaderWriter rw_;
  Process process_;
  const std::shared_ptr<State> state_;
  In in_;    // the message being read or handed over; reused
  Out out_;  // the message being written; written only while State::writing_
  CallbackTag<Stream, &Stream::OnAccepted> accepted_;
  CallbackTag<Stream, &Stream::OnRead> read_;
  CallbackTag<Stream, &Stream::OnWrite> write_;
  CallbackTag<Stream, &Stream::OnFinish> finish_;
  CallbackTag<Stream, &Stream::OnDone> done_;
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

// A message or batch entry (`what`) that is not a PushRequest. Its sequence is whatever was
// parsed of it before the damage (0 if nothing): the producer's ack timeout covers the case it
// names no push.
template <typename State>
void RefuseUnparsable(absl::string_view what, uint64_t sequence, const absl::Status& why,
                      const std::shared_ptr<State>& acks) {
  PushAck ack;
  ack.set_code(PushAck::INVALID);
  ack.set_message(
      absl::StrCat(what, " is not a serialized pushgate.v1.PushRequest: ", why.message()));
  AckTo(sequence, acks)(std::move(ack));
}

// Push is served raw: gRPC would otherwise parse each message itself, and a message it cannot
// parse (a string that is not UTF-8, say) ends the read as if the producer had closed its
// side, so the stream would finish without acknowledging that push or reading the ones after
// it, and a producer that resends what was not acknowledged would send it again forever. Read
// as bytes, a bad push is refused with an INVALID ack like a bad batch entry, and the bytes
// received are the bytes spooled, without serializing the message again.
using AsyncService = pushgate::v1::Ingest::WithRawMethod_Push<pushgate::v1::Ingest::AsyncService>;
using PushStream = Stream<grpc::ByteBuffer, grpc::ByteBuffer>;
using BatchStream = Stream<PushBatch, AckBatch>;

}  // namespace

class IngestServer::Service {
 public:
  explicit Service(PushProcessor* processor) {
    push_.request = [this](grpc::ServerContext* context, PushStream::ReaderWriter* rw,
                           grpc::ServerCompletionQueue* cq,
                           void* tag) { async_.RequestPush(context, rw, cq, cq, tag); };
    push_.make_process = [processor, open_streams = &open_streams_] {
      // Per stream, reused for each message.
      struct Scratch {
        std::string serialized;
        std::vector<grpc::Slice> slices;
        PushView view;
        std::vector<PushProcessor::Push> pushes;
      };
      return [processor, open_streams, scratch = std::make_shared<Scratch>()](
                 grpc::ByteBuffer& message, const std::shared_ptr<PushStream::State>& acks) {
        scratch->serialized.clear();
        scratch->slices.clear();
        if (message.Dump(&scratch->slices).ok()) {
          for (const grpc::Slice& slice : scratch->slices) {
            scratch->serialized.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
          }
        }
        // Accepts exactly what PushRequest::ParseFromString would.
        const absl::Status parsed = scratch->view.Parse(scratch->serialized);
        if (!parsed.ok()) {
          RefuseUnparsable("message", scratch->view.sequence(), parsed, acks);
          return;
        }
        scratch->pushes.clear();
        scratch->pushes.push_back(
            {&scratch->view, scratch->serialized, AckTo(scratch->view.sequence(), acks)});
        processor->Process(absl::MakeSpan(scratch->pushes), *open_streams > 1);
      };
    };
    push_.pack = [](std::deque<PushAck>& ready, grpc::ByteBuffer* out) {
      grpc::Slice slice(ready.front().SerializeAsString());
      *out = grpc::ByteBuffer(&slice, 1);
      ready.pop_front();
    };
    push_.gate = &gate_;
    push_.open_streams = &open_streams_;

    batches_.request = [this](grpc::ServerContext* context, BatchStream::ReaderWriter* rw,
                              grpc::ServerCompletionQueue* cq,
                              void* tag) { async_.RequestPushBatches(context, rw, cq, cq, tag); };
    batches_.make_process = [processor, open_streams = &open_streams_] {
      struct Scratch {
        std::deque<PushView> views;  // a deque keeps their addresses
        std::vector<PushProcessor::Push> pushes;
      };
      return [processor, open_streams, scratch = std::make_shared<Scratch>()](
                 PushBatch& batch, const std::shared_ptr<BatchStream::State>& acks) {
        if (batch.pushes_size() > kMaxPushesPerBatch) {
          acks->Refuse(grpc::Status(
              grpc::StatusCode::RESOURCE_EXHAUSTED,
              absl::StrCat("a PushBatch of ", batch.pushes_size(), " pushes, over the limit of ",
                           kMaxPushesPerBatch, " per message: send them in smaller batches")));
          return;
        }
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
            RefuseUnparsable("batch entry", view.sequence(), parsed, acks);
          }
        }
        if (!scratch->pushes.empty()) {
          processor->Process(absl::MakeSpan(scratch->pushes), *open_streams > 1);
        }
        if (scratch->views.size() > kKeptViews) scratch->views.resize(kKeptViews);
      };
    };
    batches_.pack = [](std::deque<PushAck>& ready, AckBatch* out) {
      // The acks of a huge batch are not kept for reuse for the stream's lifetime.
      if (out->acks().ClearedCount() > static_cast<int>(kMaxUnansweredPushes)) {
        AckBatch().Swap(out);
      }
      // At most about kMaxAckBatchBytes in one message: gRPC clients refuse messages over
      // 4 MiB by default, and acks of refused pushes carry messages of their own.
      size_t bytes = 0;
      while (!ready.empty() && bytes < kMaxAckBatchBytes) {
        bytes += ready.front().ByteSizeLong() + 4;
        *out->add_acks() = std::move(ready.front());
        ready.pop_front();
      }
    };
    batches_.gate = &gate_;
    batches_.open_streams = &open_streams_;
  }

  grpc::Service* service() { return &async_; }

  // Serves both methods on `cq`, with the calling thread, until the queue is shut down and
  // drained.
  void Serve(grpc::ServerCompletionQueue* cq) {
    PushStream::Listen(&push_, cq);
    BatchStream::Listen(&batches_, cq);
    void* tag;
    bool ok;
    while (cq->Next(&tag, &ok)) static_cast<Completion*>(tag)->Complete(ok);
  }

  // No operation starts after this; the queues may then be shut down.
  void CloseGate() { gate_.Close(); }

  int open_streams() const { return open_streams_.load(); }

 private:
  std::atomic<int> open_streams_{0};
  AsyncService async_;
  OperationGate gate_;
  PushStream::Method push_;
  BatchStream::Method batches_;
};

IngestServer::IngestServer(std::string listen, PushProcessor* processor, int threads)
    : listen_(std::move(listen)),
      threads_(std::max(threads, 1)),
      service_(new Service(processor)) {}

IngestServer::~IngestServer() { Stop(); }

int IngestServer::open_streams() const { return service_->open_streams(); }

absl::Status IngestServer::Start() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen_, grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_->service());
  builder.SetMaxReceiveMessageSize(256 << 20);
  // gRPC sets SO_REUSEPORT by default: a second aggregator started on the same port by
  // mistake would then quietly take half of the new streams into its own spool. Fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Producers' keepalive pings (libs/ingest_client: every 10 s on an idle connection) are
  // welcome; by default a server answers pings more often than every 5 minutes with GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  for (int i = 0; i < threads_; ++i) queues.push_back(builder.AddCompletionQueue());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    for (auto& cq : queues) {
      cq->Shutdown();
      void* tag;
      bool ok;
      while (cq->Next(&tag, &ok)) {
      }
    }
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for gRPC on ", listen_,
        " (--grpc_listen): the port is in use or the address is not this host's (gRPC's own "
        "log line above says which)"));
  }
  for (size_t i = 0; i < queues.size(); ++i) {
    grpc::ServerCompletionQueue* cq = queues[i].get();
    queues_.push_back(std::move(queues[i]));
    threads_running_.emplace_back([this, cq, i] {
      SetCurrentThreadName(absl::StrCat("ingest-", i));
      service_->Serve(cq);
    });
  }
  return absl::OkStatus();
}

int IngestServer::port() const { return port_; }

void IngestServer::Stop() {
  if (server_ == nullptr) return;
  // Streams still open at the deadline are cancelled; the threads go on serving until then.
  server_->Shutdown(
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(2000, GPR_TIMESPAN)));
  service_->CloseGate();
  for (auto& cq : queues_) cq->Shutdown();
  for (std::thread& thread : threads_running_) thread.join();
  threads_running_.clear();
  server_.reset();
  queues_.clear();
}

}  // namespace pushgate
