#include "libs/ingest_client/ingest_client.h"

#include <chrono>
#include <deque>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "libs/thread_name/thread_name.h"
#include "proto/ingest.grpc.pb.h"

namespace pushgate {
namespace {

using pushgate::v1::PushAck;
using pushgate::v1::PushRequest;

PushAck Unavailable(uint64_t sequence, std::string message) {
  PushAck ack;
  ack.set_sequence(sequence);
  ack.set_code(PushAck::UNAVAILABLE);
  ack.set_message(std::move(message));
  return ack;
}

// Appends PushRequest.sequence in wire form; a parser takes it wherever it comes.
void AppendSequenceField(uint64_t sequence, std::string* serialized) {
  PushRequest field;
  field.set_sequence(sequence);
  field.AppendToString(serialized);
}

// Deadlines and waits are measured on the monotonic clock: a step of the wall clock must
// neither fail pushes in flight nor hold a client past its ack timeout.
using Clock = std::chrono::steady_clock;

Clock::duration ToClock(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

// `now` + `d`, or the end of time where the sum would not fit (`inf`, say): an overflow would
// put the deadline in the past.
Clock::time_point DeadlineAfter(Clock::time_point now, absl::Duration d) {
  const Clock::duration wait = ToClock(d);
  return wait >= Clock::time_point::max() - now ? Clock::time_point::max() : now + wait;
}

// The channel's own reconnect backoff grows to two minutes while the aggregator is down and
// resets only once a connection succeeds, so after an outage of two minutes the front stayed
// unreachable-looking for another minute: it is bounded by the client's. Keepalive pings find
// a connection whose peer went away without a reset (a node lost) or stopped answering, which
// TCP alone would take some fifteen minutes to give up on.
std::shared_ptr<grpc::Channel> MakeChannel(const IngestClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.max_reconnect_backoff)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_interval)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_timeout)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Without this, pings stop after two on a stream that sends nothing (no pushes for a while).
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  return grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
}

gpr_timespec Deadline(absl::Duration d) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_millis(absl::ToInt64Milliseconds(d), GPR_TIMESPAN));
}

}  // namespace

// One thread (`Run`) owns the stream's life: connect, read acks until the stream breaks, fail
// what was pending, reconnect with backoff; it also sends the pushes that waited for the acks
// it reads. A second thread per stream sends the others (see WriteLoop). A third expires
// pushes whose ack is overdue, so a stuck aggregator cannot hold a client request forever.
class IngestClient::Impl {
 public:
  explicit Impl(IngestClientOptions options)
      : options_(std::move(options)),
        channel_(MakeChannel(options_)),
        stub_(pushgate::v1::Ingest::NewStub(channel_)) {}

  ~Impl() { Stop(); }

  void Start() {
    absl::MutexLock lock(&mu_);
    if (running_) return;
    running_ = true;
    manager_ = std::thread([this] {
      SetCurrentThreadName("ingest-read");
      Run();
    });
    reaper_ = std::thread([this] {
      SetCurrentThreadName("ingest-reaper");
      ReapExpired();
    });
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (!running_) return;
      running_ = false;
      if (context_ != nullptr) context_->TryCancel();
    }
    manager_.join();
    reaper_.join();
    FailAll("pushgate front is shutting down");
  }

  // `serialized` is a PushRequest; the sequence is known only under the lock below and is
  // appended then, as a field after the others: parsers take fields in any order, and the
  // last occurrence of a scalar.
  void Push(std::string serialized, Done done) {
    if (serialized.size() > kMaxPushBytes) {
      // Sent, it would end the whole stream (gRPC refuses the message), failing every push in
      // flight, and again each time its client retried.
      PushAck ack;
      ack.set_code(PushAck::INVALID);
      ack.set_message(absl::StrCat("push of ", serialized.size(),
                                   " bytes once decoded is over the ingest API's limit of ",
                                   kMaxPushBytes, " bytes"));
      done(ack);
      return;
    }
    uint64_t sequence;
    std::string refusal;
    {
      absl::MutexLock lock(&mu_);
      sequence = ++last_sequence_;
      if (stream_ == nullptr) {
        refusal = "aggregator is not reachable";
        ++stats_.refused_not_connected;
      } else if (pending_.size() >= options_.max_inflight) {
        refusal =
            absl::StrCat("too many pushes in flight (", options_.max_inflight, "); retry later");
        ++stats_.refused_inflight_pushes;
      } else if (options_.max_inflight_bytes != 0 && pending_bytes_ != 0 &&
                 pending_bytes_ + serialized.size() > options_.max_inflight_bytes) {
        // The first push in flight goes whatever its size (it is within kMaxPushBytes).
        refusal = absl::StrCat("too many bytes in flight (", pending_bytes_, " of at most ",
                               options_.max_inflight_bytes, "); retry later");
        ++stats_.refused_inflight_bytes;
      } else {
        AppendSequenceField(sequence, &serialized);
        const Clock::time_point now = Clock::now();
        pending_bytes_ += serialized.size();
        pending_.emplace(
            sequence,
            Pending{std::move(done), DeadlineAfter(now, options_.ack_timeout), serialized.size()});
        if (queue_.empty()) oldest_queued_ = now;
        queue_.push_back({sequence, std::move(serialized)});
        return;
      }
    }
    done(Unavailable(sequence, std::move(refusal)));
  }

  IngestClientStats stats() const {
    absl::MutexLock lock(&mu_);
    IngestClientStats stats = stats_;
    stats.connected = stream_ != nullptr;
    stats.inflight = pending_.size();
    return stats;
  }

 private:
  struct Pending {
    Done done;
    Clock::time_point deadline;
    size_t bytes;  // the push's size, counted in pending_bytes_
  };
  struct Queued {
    uint64_t sequence;
    std::string serialized;  // the PushRequest, sequence included
  };
  using Stream = grpc::ClientReaderWriter<pushgate::v1::PushBatch, pushgate::v1::AckBatch>;
  static constexpr size_t kMaxPushesPerBatch = 256;
  // A batch holds at most this much, or one larger push alone, so that no message is over
  // the aggregator's limit (kMaxPushBytes, with room for the batch's framing).
  static constexpr size_t kMaxBatchBytes = 4 << 20;

  void Run() {
    absl::Duration backoff = absl::Milliseconds(50);
    // Since when no stream has been open, and when that was last logged: a wrong --aggregator
    // or an aggregator that never came up would otherwise show only in /-/ready and 503s.
    absl::Time unreachable_since = absl::Now();
    absl::Time last_warned = absl::InfinitePast();
    while (IsRunning()) {
      if (!channel_->WaitForConnected(Deadline(absl::Milliseconds(500)))) {
        const absl::Time now = absl::Now();
        if (now - unreachable_since >= absl::Seconds(5) && now - last_warned >= absl::Minutes(1)) {
          LOG(WARNING) << "aggregator " << options_.target << " unreachable for "
                       << absl::FormatDuration(
                              absl::Trunc(now - unreachable_since, absl::Seconds(1)))
                       << "; every push gets 503 meanwhile";
          last_warned = now;
        }
        continue;
      }
      auto context = std::make_unique<grpc::ClientContext>();
      std::unique_ptr<Stream> stream = stub_->PushBatches(context.get());
      {
        absl::MutexLock lock(&mu_);
        if (!running_) break;
        context_ = context.get();
        stream_ = stream.get();
        ++stats_.stream_starts;
      }
      LOG(INFO) << "ingest stream to " << options_.target << " open";
      std::thread writer([this, s = stream.get()] {
        SetCurrentThreadName("ingest-write");
        WriteLoop(s);
      });
      pushgate::v1::AckBatch acks;
      bool received_any = false;
      while (stream->Read(&acks)) {
        received_any = true;
        Complete(acks, stream.get());
      }
      {
        absl::MutexLock lock(&mu_);
        stream_ = nullptr;  // Also tells the writer to stop.
        context_ = nullptr;
        ++stats_.stream_failures;
      }
      context->TryCancel();
      writer.join();
      grpc::Status status = stream->Finish();
      const bool running = IsRunning();
      if (running) {
        LOG(WARNING) << "ingest stream to " << options_.target
                     << " closed: " << status.error_message();
      }
      // Stopped, it is this service that gave up on the pushes (its drain ran out), not the
      // aggregator's stream.
      FailAll(running ? absl::StrCat("aggregator stream broke before acknowledging: ",
                                     status.error_message())
                      : "the front is shutting down and its drain time ran out before the "
                        "aggregator acknowledged");
      unreachable_since = absl::Now();
      last_warned = absl::InfinitePast();
      backoff = received_any ? absl::Milliseconds(50)
                             : std::min(backoff * 2, options_.max_reconnect_backoff);
      absl::SleepFor(backoff);
    }
  }

  // Batches, and who sends them: pushes that arrive while the previous batch is unacknowledged
  // wait in `queue_`, and the reader thread sends them as one PushBatch as soon as that batch's
  // last ack arrives, so under load no other thread is woken to send. This thread sends when
  // the stream is idle (the previous batch is acknowledged: a push goes at once), when a batch
  // is full, and when a push has waited `max_linger` (the reaper asks).
  void WriteLoop(Stream* stream) {
    std::deque<Queued> queued;
    pushgate::v1::PushBatch batch;
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this, stream]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stream_ != stream ||
                 (CanSendLocked() &&
                  (PreviousBatchAckedLocked() || queue_.size() >= kMaxPushesPerBatch ||
                   linger_expired_ || options_.max_linger <= absl::ZeroDuration()));
        };
        mu_.Await(absl::Condition(&ready));
        if (stream_ != stream) return;
        TakeQueueLocked(&queued);
      }
      if (!WriteQueued(stream, queued, batch)) return;  // The reader sees the break too.
    }
  }

  bool CanSendLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !writing_ && !queue_.empty();
  }
  bool PreviousBatchAckedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pending_.empty() || pending_.begin()->first > last_written_sequence_;
  }
  // Moves the queue to `out` for the caller to write; nobody else writes meanwhile.
  void TakeQueueLocked(std::deque<Queued>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    out->swap(queue_);
    queue_.clear();
    last_written_sequence_ = out->back().sequence;
    writing_ = true;
    linger_expired_ = false;
  }

  // Writes `queued` (taken with TakeQueueLocked) in PushBatches of at most kMaxPushesPerBatch
  // pushes and about kMaxBatchBytes; false if the stream broke.
  bool WriteQueued(Stream* stream, std::deque<Queued>& queued, pushgate::v1::PushBatch& batch) {
    bool written = true;
    uint64_t batches = 0, pushes = 0;
    while (written && !queued.empty()) {
      batch.Clear();  // keeps the strings' buffers for the next batch
      size_t bytes = 0;
      while (
          !queued.empty() && static_cast<size_t>(batch.pushes_size()) < kMaxPushesPerBatch &&
          (batch.pushes().empty() || bytes + queued.front().serialized.size() <= kMaxBatchBytes)) {
        bytes += queued.front().serialized.size();
        batch.add_pushes()->swap(queued.front().serialized);
        queued.pop_front();
      }
      written = stream->Write(batch);
      if (written) {
        ++batches;
        pushes += batch.pushes_size();
      }
    }
    queued.clear();
    absl::MutexLock lock(&mu_);
    writing_ = false;
    stats_.batches_sent += batches;
    stats_.pushes_sent += pushes;
    return written;
  }

  // Takes the acks' callbacks under one lock and runs them outside it, after sending, on the
  // reader's thread, the pushes that waited for these acks. The batch goes first: each push
  // waits for the aggregator's next commit, which starts when the batch arrives, while the
  // callbacks only hand answers to other threads. Sent before the callbacks instead of after
  // them, the batch reached the aggregator sooner and the front took 7% more pushes a second
  // (median of ten alternating runs under tools/bench's load).
  void Complete(const pushgate::v1::AckBatch& acks, Stream* stream) {
    std::vector<std::pair<Done, const PushAck*>> completed;
    completed.reserve(acks.acks_size());
    bool send = false;
    {
      absl::MutexLock lock(&mu_);
      for (const PushAck& ack : acks.acks()) {
        auto it = pending_.find(ack.sequence());
        if (it == pending_.end()) continue;  // Already timed out.
        completed.emplace_back(std::move(it->second.done), &ack);
        pending_bytes_ -= it->second.bytes;
        pending_.erase(it);
      }
      if (stream_ == stream && CanSendLocked() && PreviousBatchAckedLocked()) {
        TakeQueueLocked(&reader_queued_);
        send = true;
      }
    }
    // A failed write breaks the stream, which this thread's next Read reports.
    if (send) WriteQueued(stream, reader_queued_, reader_batch_);
    for (auto& [done, ack] : completed) done(*ack);
  }

  void FailAll(const std::string& message) {
    std::map<uint64_t, Pending> failed;
    {
      absl::MutexLock lock(&mu_);
      failed.swap(pending_);
      pending_bytes_ = 0;
      queue_.clear();
      stats_.failed_stream_broke += failed.size();
    }
    for (auto& [sequence, pending] : failed) pending.done(Unavailable(sequence, message));
  }

  // Every 10 ms: fails pushes whose ack is overdue, and asks the writer to send pushes that
  // have waited max_linger for the previous batch's acks.
  void ReapExpired() {
    while (IsRunning()) {
      absl::SleepFor(absl::Milliseconds(10));
      std::vector<std::pair<uint64_t, Done>> expired;
      bool restart = false;
      {
        absl::MutexLock lock(&mu_);
        const Clock::time_point now = Clock::now();
        if (!queue_.empty() && now - oldest_queued_ >= ToClock(options_.max_linger)) {
          linger_expired_ = true;
        }
        // Deadlines grow with the sequence (a fixed timeout after each push), so the overdue
        // pushes are the first ones.
        for (auto it = pending_.begin(); it != pending_.end() && it->second.deadline <= now;) {
          expired.emplace_back(it->first, std::move(it->second.done));
          pending_bytes_ -= it->second.bytes;
          it = pending_.erase(it);
        }
        // Under the same lock: pending pushes are always the current stream's (FailAll empties
        // them before another stream opens), so this cancels the stream they expired on and
        // never one opened meanwhile.
        stats_.ack_timeouts += expired.size();
        if (!expired.empty()) restart = RestartStreamLocked();
      }
      for (auto& [sequence, done] : expired) {
        done(Unavailable(sequence, absl::StrCat("aggregator did not acknowledge within ",
                                                absl::FormatDuration(options_.ack_timeout))));
      }
      if (restart) {
        LOG(WARNING) << "no ack from " << options_.target << " within "
                     << absl::FormatDuration(options_.ack_timeout)
                     << "; restarted the ingest stream";
      }
    }
  }

  // A stream whose acks are overdue is not to be trusted with more pushes: the aggregator may
  // have stopped reading it (a stuck disk, a stopped process, a half-open connection), and
  // the pushes queued behind it, already answered 503, would pile up in memory and be
  // delivered late, as duplicates of their clients' retries. Cancelling it fails what it
  // still holds and makes Run connect again. Whether there was a stream to cancel.
  bool RestartStreamLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (context_ == nullptr) return false;
    context_->TryCancel();
    return true;
  }

  bool IsRunning() const {
    absl::MutexLock lock(&mu_);
    return running_;
  }

  const IngestClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pushgate::v1::Ingest::Stub> stub_;
  std::thread manager_, reaper_;

  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  // The last sequence handed to the writer: the previous batch is acknowledged once no
  // pending push has a sequence up to it.
  uint64_t last_written_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;             // a thread is writing a taken queue
  Clock::time_point oldest_queued_ ABSL_GUARDED_BY(mu_);  // when the queue's first push arrived
  bool linger_expired_ ABSL_GUARDED_BY(mu_) = false;
  // Used by the reader thread only, to send what waited for acks.
  std::deque<Queued> reader_queued_;
  pushgate::v1::PushBatch reader_batch_;
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // the pending pushes' sizes
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  IngestClientStats stats_ ABSL_GUARDED_BY(mu_);
};

IngestClient::IngestClient(IngestClientOptions options) : impl_(new Impl(std::move(options))) {}
IngestClient::~IngestClient() = default;
void IngestClient::Start() { impl_->Start(); }
void IngestClient::Stop() { impl_->Stop(); }
void IngestClient::Push(const PushRequest& request, Done done) {
  // Serialized here, on the caller's thread, so that the single writer thread only moves bytes.
  impl_->Push(request.SerializeAsString(), std::move(done));
}
void IngestClient::PushSerialized(std::string serialized, Done done) {
  impl_->Push(std::move(serialized), std::move(done));
}
bool IngestClient::connected() const { return impl_->stats().connected; }
IngestClientStats IngestClient::stats() const { return impl_->stats(); }

}  // namespace pushgate
