// The aggregator's durable path from an accepted push to every backend.
//
//   Process(push) --append--> Spool (write-ahead log, group commit) --ack OK--> producer
//   dispatcher thread: Spool::ReadCommitted --> decode once (PushView) --> convert + encode
//                      per backend --> Uploader
//   each Uploader: on_delivered(position) --> min over backends --> Spool::Release
//
// A push is acknowledged only once it is on disk, and leaves the spool only once every
// backend accepted it (or refused it permanently), so neither an aggregator crash nor a
// backend outage loses an acknowledged push; after a crash, pushes not yet released are sent
// again (duplicates are possible, losses are not). When the spool is full new pushes are
// refused as UNAVAILABLE (the front answers 503) rather than old data being dropped.
#ifndef PUSHGATE_LIBS_PIPELINE_PIPELINE_H_
#define PUSHGATE_LIBS_PIPELINE_PIPELINE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "libs/conversion/conversion.h"
#include "libs/ingest_server/ingest_server.h"
#include "libs/self_metrics/self_metrics.h"
#include "libs/spool/spool.h"
#include "libs/uploader/uploader.h"

namespace pushgate {

enum class UploadFormat {
  kLineProtocol,  // DataKit-named points (libs/conversion), line protocol
  kRemoteWrite,   // Prometheus names, remote write 1.0 (libs/remote_write)
};

// Parses "lineproto" or "remote_write".
absl::StatusOr<UploadFormat> ParseUploadFormat(absl::string_view text);

struct BackendSpec {
  UploadFormat format = UploadFormat::kLineProtocol;
  std::unique_ptr<Sink> sink;
  UploaderOptions uploader;  // on_delivered is set by the pipeline
};

struct PipelineOptions {
  ConversionOptions conversion;
  // The dispatcher stops reading the spool while a backend has this much data queued in
  // memory, so a backend outage fills the (bounded, on-disk) spool instead of memory. It is
  // checked before each record, so a queue may pass it by one push's output.
  size_t max_queued_bytes_per_backend = 64 << 20;
  // How long Stop() keeps delivering what was read from the spool; the rest is replayed
  // from the spool on the next start.
  absl::Duration drain_timeout = absl::Seconds(5);
  // Memory for the line templates of recurring pushes (ConversionCache): about 13 KiB per
  // group of 100 series, so the default holds some 2,500 such groups. 0 turns it off.
  size_t conversion_cache_bytes = 32 << 20;
  // Pushes whose ConvertedBytesBound (libs/conversion) is above this are refused (INVALID)
  // before they are stored: labels are copied onto every point a push makes, so a small push
  // can expand to more than the aggregator's memory, and once stored it would be converted on
  // every restart. The dispatcher skips spooled records over it (stored before the limit was
  // lowered). 0 means no limit.
  uint64_t max_converted_bytes_per_push = uint64_t{512} << 20;
  // Nice value of the dispatcher and upload threads (libs/thread_priority): they convert,
  // compress and upload what is already acknowledged, so they yield the CPU to the threads
  // that acknowledge new pushes. 0 keeps normal priority.
  int background_nice = 0;
};

class PushPipeline : public PushProcessor {
 public:
  // `spool` and `registry` must outlive the pipeline. Starts the dispatcher, which first
  // replays every unreleased record of the spool.
  PushPipeline(PipelineOptions options, Spool* spool, std::vector<BackendSpec> backends,
               MetricsRegistry* registry);
  ~PushPipeline() override;  // Stop()

  // Appends the pushes to the spool, together, and acknowledges each once durable: OK;
  // UNAVAILABLE when the spool is full or failing; INVALID for a push larger than the spool
  // could ever hold or one that would convert to more than max_converted_bytes_per_push. A
  // DELETE is acknowledged at once: groups are not stored yet.
  void Process(absl::Span<Push> pushes, bool other_streams_open) override;

  // Stops the dispatcher, drains the uploaders for up to drain_timeout. Idempotent.
  void Stop();

 private:
  struct Backend {
    UploadFormat format;
    size_t batch_max_bytes;  // its uploader's: larger outputs are added in pieces
    std::string name;        // unique among the backends: the `backend` label
    std::unique_ptr<Uploader> uploader;
    uint64_t delivered = 0;  // guarded by release_mu_
  };

  pushgate::v1::PushAck AckForAppend(const absl::Status& status);
  void Dispatch();
  // Encodes one spooled push for every backend and queues it there.
  // `previous` is the position of the record before it (delivered or not).
  void DispatchRecord(const Spool::Record& record, uint64_t previous);
  // Adds one push's output to `backend`, in pieces of at most its batch size.
  void AddToBackend(Backend& backend, absl::string_view body, size_t points, uint64_t position,
                    uint64_t previous);
  bool AnyBackendFull() const;
  void OnDelivered(size_t backend, uint64_t position);
  // Whether `view` is over max_converted_bytes_per_push; if so `bound` is its bound.
  // INVALID when `view` breaks what proto/ingest.proto asks of a push (a known method, a
  // job, a receive time, known family types).
  static absl::Status BreaksTheContract(const PushView& view);
  bool ConvertsTooLarge(const PushView& view, uint64_t* bound) const;
  void RegisterMetrics(MetricsRegistry* registry);

  const PipelineOptions options_;
  Spool* const spool_;
  // Used by the dispatcher thread only.
  ConversionCache conversion_cache_;
  // Records up to here were stored before this pipeline started, so not checked by Process
  // against max_converted_bytes_per_push; the dispatcher checks them.
  const uint64_t recovered_end_;
  // The receive time of the last recovered push whose time the spool was told (the dispatcher's).
  absl::Time last_recovered_time_noted_ = absl::InfinitePast();
  std::vector<std::unique_ptr<Backend>> backends_;

  absl::Mutex release_mu_;
  std::atomic<bool> stopping_{false};
  std::thread dispatcher_;

  MetricFamilyValues* pushes_;
  MetricFamilyValues* refused_;
  MetricFamilyValues* points_;
  MetricFamilyValues* dropped_non_finite_;
  MetricFamilyValues* unreadable_records_;
  MetricFamilyValues* oversized_records_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PIPELINE_PIPELINE_H_
