#include "libs/ingest_server/ingest_server.h"

#include <deque>
#include <thread>

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
using pushgate::v1::PushRequest;

namespace {

// The acks of one stream, sent in the order they became ready. The processor adds them from
// any thread. Acks that become ready while the reading thread hands a message to the
// processor (the spool usually commits on that very thread) are sent by the reading thread
// once the processor returns; a writer thread sends the rest. Waking the writer for every
// message would put a thread hand-off on the path of every ack.
class AckQueue : public std::enable_shared_from_this<AckQueue> {
 public:
  // Sends acks on the stream; false when it broke.
  using Write = std::function<bool(std::vector<PushAck>&)>;

  void Add(PushAck ack) {
    absl::MutexLock lock(&mu_);
    ready_.push_back(std::move(ack));
  }
  void ExpectOne() {
    absl::MutexLock lock(&mu_);
    ++outstanding_;
  }
  void InputDone() {
    absl::MutexLock lock(&mu_);
    input_done_ = true;
  }

  // For the writer thread: hands the acks ready so far to `write` (false when the stream
  // broke) until every expected ack was written after InputDone(), or a write fails.
  void WriteAll(const Write& write) {
    std::vector<PushAck> batch;
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          if (broken_) return true;
          if (writing_ || reader_will_write_) return false;
          return !ready_.empty() || (input_done_ && outstanding_ == 0);
        };
        mu_.Await(absl::Condition(&ready));
        if (broken_ || ready_.empty()) return;
        TakeReadyLocked(&batch);
      }
      if (!WriteTaken(write, batch)) return;
    }
  }

  // For the reading thread, around handing a message to the processor: acks that become ready
  // in between wait for WriteReady() instead of waking the writer thread.
  void ReaderWillWrite() {
    absl::MutexLock lock(&mu_);
    reader_will_write_ = true;
  }
  // Writes the acks ready now, unless the writer thread is already at it (it then takes them
  // next).
  void WriteReady(const Write& write) {
    std::vector<PushAck> batch;
    {
      absl::MutexLock lock(&mu_);
      reader_will_write_ = false;
      if (writing_ || broken_ || ready_.empty()) return;
      TakeReadyLocked(&batch);
    }
    WriteTaken(write, batch);
  }

  void Abort() {
    absl::MutexLock lock(&mu_);
    broken_ = true;
  }

 private:
  void TakeReadyLocked(std::vector<PushAck>* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    batch->assign(std::make_move_iterator(ready_.begin()), std::make_move_iterator(ready_.end()));
    ready_.clear();
    outstanding_ -= batch->size();
    writing_ = true;
  }
  // Writes what TakeReadyLocked took; false if the stream broke.
  bool WriteTaken(const Write& write, std::vector<PushAck>& batch) {
    const bool written = write(batch);
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!written) broken_ = true;
    return written;
  }

  absl::Mutex mu_;
  std::deque<PushAck> ready_ ABSL_GUARDED_BY(mu_);
  size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool input_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // a thread is sending taken acks
  bool reader_will_write_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

class IngestServer::Service final : public pushgate::v1::Ingest::Service {
 public:
  explicit Service(PushProcessor* processor) : processor_(processor) {}

  grpc::Status Push(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<PushAck, PushRequest>* stream) override {
    std::string serialized;
    PushView view;
    std::vector<PushProcessor::Push> pushes;
    return Serve<PushRequest>(
        context,
        [stream](std::vector<PushAck>& acks) {
          for (const PushAck& ack : acks) {
            if (!stream->Write(ack)) return false;
          }
          return true;
        },
        [stream](PushRequest& request) { return stream->Read(&request); },
        [&](PushRequest& request, AckQueue* acks) {
          serialized.clear();
          request.AppendToString(&serialized);
          view.Fill(request);
          pushes.clear();
          pushes.push_back({&view, serialized, AckTo(request.sequence(), acks)});
          processor_->Process(absl::MakeSpan(pushes));
        });
  }

  grpc::Status PushBatches(grpc::ServerContext* context,
                           grpc::ServerReaderWriter<AckBatch, PushBatch>* stream) override {
    std::deque<PushView> views;  // reused; a deque keeps their addresses
    std::vector<PushProcessor::Push> pushes;
    return Serve<PushBatch>(
        context,
        [stream, message = AckBatch()](std::vector<PushAck>& acks) mutable {
          message.Clear();
          for (PushAck& ack : acks) *message.add_acks() = std::move(ack);
          return stream->Write(message);
        },
        [stream](PushBatch& batch) { return stream->Read(&batch); },
        [&](PushBatch& batch, AckQueue* acks) {
          if (views.size() < static_cast<size_t>(batch.pushes_size())) {
            views.resize(batch.pushes_size());
          }
          pushes.clear();
          for (int i = 0; i < batch.pushes_size(); ++i) {
            PushView& view = views[i];
            const std::string& serialized = batch.pushes(i);
            // Accepts exactly what PushRequest::ParseFromString would.
            const absl::Status parsed = view.Parse(serialized);
            if (parsed.ok()) {
              pushes.push_back({&view, serialized, AckTo(view.sequence(), acks)});
            } else {
              RefuseUnparsable(view.sequence(), parsed, acks);
            }
          }
          if (!pushes.empty()) processor_->Process(absl::MakeSpan(pushes));
        });
  }

 private:
  // Runs one stream: `read(message)` reads the next message into the reused `message` (false
  // at the end of the input), `process(message, acks)` hands its pushes over; acks are sent
  // with `write`.
  template <typename Message, typename Read, typename Process>
  grpc::Status Serve(grpc::ServerContext* context, AckQueue::Write write, Read read,
                     Process process) {
    // Shared with the processor's callbacks, which may outlive this call if the stream breaks.
    auto acks = std::make_shared<AckQueue>();
    std::thread writer([&] {
      SetCurrentThreadName("ingest-acks");
      acks->WriteAll(write);
    });
    Message message;
    while (read(message)) {
      acks->ReaderWillWrite();
      process(message, acks.get());
      acks->WriteReady(write);
    }
    if (context->IsCancelled()) acks->Abort();
    acks->InputDone();
    writer.join();
    return grpc::Status::OK;
  }

  // The callback that acknowledges push `sequence` on this stream.
  static PushProcessor::Done AckTo(uint64_t sequence, AckQueue* acks) {
    acks->ExpectOne();
    return [acks = acks->shared_from_this(), sequence](PushAck ack) {
      ack.set_sequence(sequence);
      acks->Add(std::move(ack));
    };
  }

  // A batch entry that is not a PushRequest. Its sequence is whatever was parsed of it before
  // the damage (0 if nothing): the producer's ack timeout covers the case it names no push.
  static void RefuseUnparsable(uint64_t sequence, const absl::Status& why, AckQueue* acks) {
    PushAck ack;
    ack.set_sequence(sequence);
    ack.set_code(PushAck::INVALID);
    ack.set_message(
        absl::StrCat("batch entry is not a serialized pushgate.v1.PushRequest: ", why.message()));
    acks->ExpectOne();
    acks->Add(std::move(ack));
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
