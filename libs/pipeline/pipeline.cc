#include "libs/pipeline/pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "libs/line_protocol/line_protocol.h"
#include "libs/protowire/wire_reader.h"
#include "libs/push_view/push_view.h"
#include "libs/remote_write/remote_write.h"
#include "libs/thread_name/thread_name.h"
#include "libs/thread_priority/thread_priority.h"

namespace pushgate {

using pushgate::v1::PushAck;
using pushgate::v1::PushRequest;

namespace {

struct Piece {
  absl::string_view body;
  size_t points;
};

// Cuts line protocol (every line ending in '\n') between lines into pieces of at most
// `max_bytes` (a longer line is a piece of its own).
void CutLines(absl::string_view lines, size_t max_bytes, std::vector<Piece>* pieces) {
  while (!lines.empty()) {
    size_t end = 0, points = 0;
    while (end < lines.size()) {
      const size_t line_end = lines.find('\n', end);
      const size_t next = line_end == absl::string_view::npos ? lines.size() : line_end + 1;
      if (end > 0 && next > max_bytes) break;
      end = next;
      ++points;
    }
    pieces->push_back({lines.substr(0, end), points});
    lines.remove_prefix(end);
  }
}

// Cuts a serialized WriteRequest between its top-level fields (each TimeSeries holds one
// sample, and concatenated WriteRequests are one), as CutLines does. False if it does not
// decode, which AppendRemoteWrite's output always does.
bool CutWriteRequest(absl::string_view request, size_t max_bytes, std::vector<Piece>* pieces) {
  constexpr uint32_t kTimeSeriesTag = (1 << 3) | 2;
  protowire::WireReader reader(request, 0);
  const char* piece_begin = request.data();
  size_t points = 0;
  while (!reader.done()) {
    const char* const field_begin = reader.position();
    uint32_t tag;
    if (!reader.ReadTag(&tag) || !reader.SkipField(tag)) return false;
    const char* const field_end = reader.position();
    if (field_begin > piece_begin && static_cast<size_t>(field_end - piece_begin) > max_bytes) {
      pieces->push_back({absl::string_view(piece_begin, field_begin - piece_begin), points});
      piece_begin = field_begin;
      points = 0;
    }
    if (tag == kTimeSeriesTag) ++points;
  }
  const char* const end = request.data() + request.size();
  if (end > piece_begin)
    pieces->push_back({absl::string_view(piece_begin, end - piece_begin), points});
  return true;
}

}  // namespace

absl::StatusOr<UploadFormat> ParseUploadFormat(absl::string_view text) {
  if (text == "lineproto") return UploadFormat::kLineProtocol;
  if (text == "remote_write") return UploadFormat::kRemoteWrite;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown upload format \"", text, "\"; use lineproto or remote_write"));
}

PushPipeline::PushPipeline(PipelineOptions options, Spool* spool, std::vector<BackendSpec> backends,
                           MetricsRegistry* registry)
    : options_(std::move(options)),
      spool_(spool),
      conversion_cache_(options_.conversion_cache_bytes),
      recovered_end_(spool->committed_end()) {
  // Backends per description so far. The `backend` label of the upload metrics must be unique:
  // two --upload_url values may describe alike (the same URL twice, or ones differing in the
  // query or user, which are not shown), and Prometheus drops a series given twice.
  absl::flat_hash_map<std::string, int> described;
  for (size_t i = 0; i < backends.size(); ++i) {
    auto backend = std::make_unique<Backend>();
    backend->format = backends[i].format;
    backend->batch_max_bytes = backends[i].uploader.batch_max_bytes;
    backend->name = backends[i].sink->Describe();
    const int same = described[backend->name]++;
    if (same > 0) absl::StrAppend(&backend->name, " #", same + 1);
    backend->delivered = spool_->first_unreleased();
    UploaderOptions uploader_options = backends[i].uploader;
    uploader_options.on_delivered = [this, i](uint64_t position) { OnDelivered(i, position); };
    uploader_options.background_nice = options_.background_nice;
    backend->uploader =
        std::make_unique<Uploader>(std::move(backends[i].sink), std::move(uploader_options));
    backends_.push_back(std::move(backend));
  }
  RegisterMetrics(registry);
  dispatcher_ = std::thread([this] {
    SetCurrentThreadName("dispatch");
    MakeCurrentThreadBackgroundOrWarn(options_.background_nice);
    Dispatch();
  });
}

PushPipeline::~PushPipeline() { Stop(); }

void PushPipeline::Stop() {
  if (stopping_.exchange(true)) return;
  dispatcher_.join();
  // All drains at once: one after another, N backends that are down would take N drain
  // timeouts, past a supervisor's grace period.
  for (auto& backend : backends_) backend->uploader->BeginStop(options_.drain_timeout);
  for (auto& backend : backends_) backend->uploader->Stop(options_.drain_timeout);
}

void PushPipeline::Process(absl::Span<Push> pushes, bool other_streams_open) {
  std::vector<Spool::AppendRequest> appends;
  appends.reserve(pushes.size());
  // A push answered before it is stored: OK (a DELETE), or INVALID counted under `reason`.
  const auto answer = [this](Push& push, PushAck::Code code, const char* reason,
                             std::string message) {
    if (reason != nullptr) refused_->Add({reason});
    PushAck ack;
    ack.set_code(code);
    ack.set_message(std::move(message));
    push.done(std::move(ack));
  };
  for (Push& push : pushes) {
    if (absl::Status broken = BreaksTheContract(*push.view); !broken.ok()) {
      answer(push, PushAck::INVALID, "contract", std::string(broken.message()));
      continue;
    }
    pushes_->Add({pushgate::v1::Method_Name(push.view->method())});
    if (push.view->method() == pushgate::v1::DELETE) {
      answer(push, PushAck::OK, nullptr, "");
      continue;
    }
    if (uint64_t bound; ConvertsTooLarge(*push.view, &bound)) {
      answer(push, PushAck::INVALID, "converts_too_large",
             absl::StrCat("push would convert to up to ", bound,
                          " bytes (its labels copied onto each of its points), over the "
                          "aggregator's limit of ",
                          options_.max_converted_bytes_per_push,
                          " (--max_converted_bytes_per_push): split it, or shorten the labels "
                          "that every point carries (info labels, grouping key, labels of series "
                          "with many buckets)"));
      continue;
    }
    appends.push_back({std::string(push.serialized),
                       [this, done = std::move(push.done)](absl::StatusOr<uint64_t> position) {
                         done(AckForAppend(position.status()));
                       }});
  }
  // Together, so that they share one disk commit. With one producer this thread commits
  // them itself (no hand-off on the path every push waits on); with several, the spool's
  // committer does, while this thread reads the other producers' messages, whose pushes then
  // share the next commit instead of each waiting for a commit of its own.
  spool_->AppendAll(std::move(appends), /*commit_here=*/!other_streams_open);
}

// What proto/ingest.proto asks of every push that the decoders cannot see: the front always
// keeps to it, a producer streaming to the aggregator itself may not. A push without a job
// or a receive time would be written with no job tag at 1970, one with a method outside the
// enumeration was taken for a PUT, a family of an unknown type made no points, silently.
absl::Status PushPipeline::BreaksTheContract(const PushView& view) {
  if (!pushgate::v1::Method_IsValid(view.method())) {
    return absl::InvalidArgumentError(absl::StrCat("method ", static_cast<int>(view.method()),
                                                   " is none of PUT, POST and DELETE"));
  }
  if (view.job().empty()) {
    return absl::InvalidArgumentError("grouping_key.job is empty: every push names its job");
  }
  if (view.receive_time_ns() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "receive_time_ns is ", view.receive_time_ns(),
        ": give the time the push was received (nanoseconds since the epoch), which points "
        "without a timestamp of their own get"));
  }
  for (const FamilyView& family : view.families()) {
    if (!pushgate::v1::MetricType_IsValid(family.type)) {
      return absl::InvalidArgumentError(absl::StrCat("family \"", family.name, "\" has type ",
                                                     static_cast<int>(family.type),
                                                     ", which is no MetricType"));
    }
  }
  return absl::OkStatus();
}

bool PushPipeline::ConvertsTooLarge(const PushView& view, uint64_t* bound) const {
  if (options_.max_converted_bytes_per_push == 0) return false;
  *bound = ConvertedBytesBound(view, options_.conversion);
  return *bound > options_.max_converted_bytes_per_push;
}

PushAck PushPipeline::AckForAppend(const absl::Status& status) {
  PushAck ack;
  if (status.ok()) {
    ack.set_code(PushAck::OK);
  } else if (absl::IsInvalidArgument(status)) {
    // A push that could never fit the spool: retrying cannot help.
    refused_->Add({absl::StatusCodeToString(status.code())});
    ack.set_code(PushAck::INVALID);
    ack.set_message(absl::StrCat("push too large for the aggregator's spool: ", status.message()));
  } else {
    refused_->Add({absl::StatusCodeToString(status.code())});
    ack.set_code(PushAck::UNAVAILABLE);
    // The spool says which limit it met: its own size, or the disk's ("No space left on
    // device"), which --spool_max_bytes has nothing to do with.
    ack.set_message(absl::StrCat("aggregator cannot store the push: ", status.message()));
  }
  return ack;
}

void PushPipeline::Dispatch() {
  uint64_t after = spool_->first_unreleased();
  std::vector<Spool::Record> records;
  size_t next = 0;  // the first record of `records` not dispatched yet
  while (!stopping_) {
    // Checked before each record, not each read: a record may convert to far more than it
    // takes in the spool, so a read's worth could take a backend's queue gigabytes past its
    // limit. The records already read wait here (reading them again would make the spool
    // scan their segment from its start).
    if (AnyBackendFull()) {
      absl::SleepFor(absl::Milliseconds(20));
      continue;
    }
    if (next == records.size()) {
      records = spool_->ReadCommitted(after, /*max_records=*/512, /*max_bytes=*/4 << 20,
                                      /*timeout=*/absl::Milliseconds(100));
      next = 0;
      continue;
    }
    const Spool::Record& record = records[next++];
    DispatchRecord(record, after);
    after = record.position;
  }
}

void PushPipeline::DispatchRecord(const Spool::Record& record, uint64_t previous) {
  // Reused across records: the dispatcher is one thread. The record is decoded once, into a
  // view that the line-protocol conversion reads without copying.
  static thread_local PushView view;
  static thread_local LineProtocolEncoder encoder;
  static thread_local std::string lines, remote_write;
  // What a huge push grew is let go rather than kept for the thread's lifetime.
  constexpr size_t kKeepBytes = 16 << 20;
  for (std::string* buffer : {&lines, &remote_write}) {
    if (buffer->capacity() > kKeepBytes) std::string().swap(*buffer);
    buffer->clear();
  }
  const absl::Status parsed = view.Parse(record.data);
  if (!parsed.ok()) {
    // Checksummed on disk, so this means a record written by an incompatible version. Its
    // (empty) output still goes to every backend, so that its position is released.
    LOG(ERROR) << "spool record at " << record.position << " is not a push (" << parsed.message()
               << "); skipping it";
    unreadable_records_->Add();
  } else if (record.position <= recovered_end_ && view.receive_time_ns() > 0 &&
             absl::FromUnixNanos(view.receive_time_ns()) >=
                 last_recovered_time_noted_ + absl::Seconds(1)) {
    // The spool counts what it recovered as appended at this start; the push knows better.
    last_recovered_time_noted_ = absl::FromUnixNanos(view.receive_time_ns());
    spool_->NoteRecoveredAppendTime(previous, last_recovered_time_noted_);
  }
  if (uint64_t bound;
      parsed.ok() && record.position <= recovered_end_ && ConvertsTooLarge(view, &bound)) {
    // Stored before this start, under a higher limit or by a version without one (later
    // records passed the limit in Process). Converting it could take more memory than there
    // is, on every restart; its (empty) output releases its position.
    LOG(ERROR) << "spool record at " << record.position << " would convert to up to " << bound
               << " bytes, over --max_converted_bytes_per_push="
               << options_.max_converted_bytes_per_push << "; skipping it";
    view.Clear();
    oversized_records_->Add();
  }
  bool lines_ready = false, remote_write_ready = false;
  size_t line_count = 0;
  size_t remote_write_samples = 0;
  for (auto& backend : backends_) {
    if (backend->format == UploadFormat::kLineProtocol) {
      if (!lines_ready) {
        ConversionStats stats;
        line_count = conversion_cache_.Convert(view, options_.conversion, &encoder, &lines, &stats);
        points_->Add(line_count);
        if (stats.dropped_non_finite > 0) dropped_non_finite_->Add(stats.dropped_non_finite);
        lines_ready = true;
      }
      AddToBackend(*backend, lines, line_count, record.position, previous);
    } else {
      if (!remote_write_ready) {
        // From the same view (empty for a record not converted).
        RemoteWriteOptions rw_options;
        rw_options.honor_timestamps = options_.conversion.honor_timestamps;
        remote_write_samples = AppendRemoteWrite(view, rw_options, &remote_write);
        remote_write_ready = true;
      }
      AddToBackend(*backend, remote_write, remote_write_samples, record.position, previous);
    }
  }
}

void PushPipeline::AddToBackend(Backend& backend, absl::string_view body, size_t points,
                                uint64_t position, uint64_t previous) {
  if (body.size() <= backend.batch_max_bytes) {
    backend.uploader->Add(body, points, position);
    return;
  }
  // The uploader keeps an Add whole, so one large push would be one large upload: over a
  // backend's body limit (InfluxDB's 25 MB), its 413 would drop the whole push, and a slow
  // backend would time it out again on every retry. In pieces, it goes as any other data.
  // Only the last piece carries the record's position: delivering the others must not let
  // the spool release it.
  static thread_local std::vector<Piece> pieces;
  pieces.clear();
  if (backend.format == UploadFormat::kLineProtocol) {
    CutLines(body, backend.batch_max_bytes, &pieces);
  } else if (!CutWriteRequest(body, backend.batch_max_bytes, &pieces)) {
    pieces.assign(1, {body, points});
  }
  for (size_t i = 0; i < pieces.size(); ++i) {
    backend.uploader->Add(pieces[i].body, pieces[i].points,
                          i + 1 == pieces.size() ? position : previous);
  }
}

bool PushPipeline::AnyBackendFull() const {
  for (const auto& backend : backends_) {
    if (backend->uploader->stats().queued_bytes >= options_.max_queued_bytes_per_backend) {
      return true;
    }
  }
  return false;
}

void PushPipeline::OnDelivered(size_t backend, uint64_t position) {
  uint64_t release = std::numeric_limits<uint64_t>::max();
  {
    absl::MutexLock lock(&release_mu_);
    backends_[backend]->delivered = std::max(backends_[backend]->delivered, position);
    for (const auto& b : backends_) release = std::min(release, b->delivered);
  }
  spool_->Release(release);
}

void PushPipeline::RegisterMetrics(MetricsRegistry* registry) {
  pushes_ = &registry->Counter("pushgate_aggregator_pushes_total",
                               "Pushes received over the ingest API, by method.", {"method"});
  refused_ =
      &registry->Counter("pushgate_aggregator_pushes_refused_total",
                         "Pushes refused: the spool could not store them (reason: the status), "
                         "they would convert to more than --max_converted_bytes_per_push "
                         "(converts_too_large), or they break proto/ingest.proto's contract: an "
                         "unknown method or family type, no job, no receive time (contract).",
                         {"reason"});
  // Every reason the pipeline itself gives has a series from the start, so increase() sees the
  // first refusal (the spool's status codes appear when they first occur).
  for (const char* reason : {"contract", "converts_too_large", "RESOURCE_EXHAUSTED"}) {
    refused_->Add({reason}, 0);
  }
  points_ = &registry->Counter("pushgate_aggregator_points_total",
                               "Line-protocol points produced from spooled pushes.");
  dropped_non_finite_ =
      &registry->Counter("pushgate_aggregator_dropped_non_finite_total",
                         "NaN or infinite sample values and fields left out of points.");
  unreadable_records_ = &registry->Counter("pushgate_aggregator_spool_unreadable_records_total",
                                           "Spool records that did not decode as a push.");
  oversized_records_ =
      &registry->Counter("pushgate_aggregator_spool_oversized_records_total",
                         "Spool records skipped because they would convert to more than "
                         "--max_converted_bytes_per_push (stored before the limit was lowered).");
  registry->CallbackCounter(
      "pushgate_aggregator_conversion_cache_hits_total",
      "Pushes written from the line templates of an earlier push of the same shape.",
      [this] { return double(conversion_cache_.stats().hits); });
  registry->CallbackCounter(
      "pushgate_aggregator_conversion_cache_misses_total",
      "Pushes converted point by point (new shape, non-finite value, or cache off).",
      [this] { return double(conversion_cache_.stats().misses); });
  registry->CallbackCounter("pushgate_aggregator_conversion_cache_evictions_total",
                            "Push shapes dropped to keep within --conversion_cache_bytes.",
                            [this] { return double(conversion_cache_.stats().evictions); });
  registry->CallbackGauge("pushgate_aggregator_conversion_cache_bytes",
                          "Memory held by remembered push shapes and their line templates.",
                          [this] { return double(conversion_cache_.stats().bytes); });

  auto spool_gauge = [this, registry](const char* name, const char* help, auto read) {
    registry->CallbackGauge(name, help, [this, read] { return double(read(spool_->stats())); });
  };
  spool_gauge("pushgate_aggregator_spool_bytes", "Size of the spool's segment files.",
              [](const Spool::Stats& s) { return s.bytes; });
  spool_gauge("pushgate_aggregator_spool_unreleased_bytes",
              "Spooled bytes not yet delivered to every backend (bounded by --spool_max_bytes).",
              [](const Spool::Stats& s) { return s.unreleased_bytes; });
  spool_gauge(
      "pushgate_aggregator_spool_max_bytes",
      "--spool_max_bytes: pushes are refused (503) once the unreleased bytes would pass it.",
      [](const Spool::Stats& s) { return s.max_bytes; });
  registry->CallbackGauge(
      "pushgate_aggregator_spool_disk_free_bytes",
      "Bytes free on the spool's file system; the spool needs room for two segments beyond its "
      "records (NaN when unknown).",
      [this] {
        const uint64_t free = spool_->stats().disk_free_bytes;
        return free == UINT64_MAX ? std::nan("") : double(free);
      });
  spool_gauge("pushgate_aggregator_spool_segments", "Segment files in the spool.",
              [](const Spool::Stats& s) { return s.segments; });
  registry->CallbackGauge(
      "pushgate_aggregator_spool_failed",
      "1 once the spool refuses every push until a restart (a failed sync or cut-back; "
      "/-/healthy then fails), else 0.",
      [this] { return spool_->health().ok() ? 0.0 : 1.0; });
  spool_gauge("pushgate_aggregator_spool_recovered_records",
              "Unreleased records found in the spool at start (replayed).",
              [](const Spool::Stats& s) { return s.records_recovered; });
  auto spool_counter = [this, registry](const char* name, const char* help, auto read) {
    registry->CallbackCounter(name, help, [this, read] { return double(read(spool_->stats())); });
  };
  spool_counter(
      "pushgate_aggregator_spool_corrupt_bytes_total",
      "Damaged spool bytes skipped or cut, at start or while reading.",
      [](const Spool::Stats& s) { return s.corrupt_tail_bytes_dropped + s.corrupt_bytes_skipped; });
  spool_counter("pushgate_aggregator_spool_fsyncs_total", "fdatasync calls made by the spool.",
                [](const Spool::Stats& s) { return s.fsyncs; });
  registry->CallbackHistogram(
      "pushgate_aggregator_spool_commit_seconds",
      "Time each spool commit took (write and fdatasync); every push it held waited that long "
      "for its acknowledgement.",
      [this] {
        const Spool::Stats stats = spool_->stats();
        MetricsRegistry::HistogramValues values;
        values.upper_bounds.assign(Spool::kCommitBucketSeconds.begin(),
                                   Spool::kCommitBucketSeconds.end());
        values.counts.assign(stats.commit_buckets.begin(), stats.commit_buckets.end());
        values.sum = stats.commit_seconds;
        return values;
      });
  registry->CallbackGauge(
      "pushgate_aggregator_oldest_unsent_age_seconds",
      "Age of the oldest push not yet delivered to every backend; 0 when none.", [this] {
        absl::Time oldest = spool_->stats().oldest_unreleased;
        return oldest == absl::InfiniteFuture() ? 0.0 : absl::ToDoubleSeconds(absl::Now() - oldest);
      });

  registry->CallbackFamily(
      "pushgate_aggregator_upload_oldest_unsent_age_seconds",
      "Per backend: age of the oldest push it has not yet taken; 0 when none. With several "
      "backends, says which one holds the spool back.",
      "gauge", {"backend"}, [this] {
        std::vector<uint64_t> delivered;
        {
          absl::MutexLock lock(&release_mu_);
          for (const auto& b : backends_) delivered.push_back(b->delivered);
        }
        const absl::Time now = absl::Now();
        MetricsRegistry::SeriesList series;
        for (size_t i = 0; i < backends_.size(); ++i) {
          const absl::Time oldest = spool_->OldestAppendedAfter(delivered[i]);
          series.push_back(
              {{backends_[i]->name},
               oldest == absl::InfiniteFuture() ? 0.0 : absl::ToDoubleSeconds(now - oldest)});
        }
        return series;
      });

  auto backend_family = [this, registry](const char* name, const char* help, const char* type,
                                         auto read) {
    registry->CallbackFamily(name, help, type, {"backend"}, [this, read] {
      MetricsRegistry::SeriesList series;
      for (const auto& b : backends_) {
        series.push_back({{b->name}, double(read(b->uploader->stats()))});
      }
      return series;
    });
  };
  backend_family("pushgate_aggregator_upload_points_total", "Points accepted by the backend.",
                 "counter", [](const Uploader::Stats& s) { return s.points_sent; });
  backend_family("pushgate_aggregator_upload_last_success_timestamp_seconds",
                 "When the backend last accepted a batch (Unix seconds; 0 before the first): "
                 "alert on time() minus it while pushes are coming.",
                 "gauge", [](const Uploader::Stats& s) {
                   return s.last_accepted == absl::InfinitePast()
                              ? 0.0
                              : absl::ToDoubleSeconds(s.last_accepted - absl::UnixEpoch());
                 });
  backend_family("pushgate_aggregator_upload_batches_total", "Batches accepted by the backend.",
                 "counter", [](const Uploader::Stats& s) { return s.batches_sent; });
  registry->CallbackFamily(
      "pushgate_aggregator_upload_retries_total",
      "Upload attempts that failed and were retried, by why: network (no answer: connection, "
      "TLS, timeout; or the file sink's write), redirect (3xx), unauthorized (401, 403), not_found "
      "(404, 405), throttled "
      "(429), timeout (408), refused (another 4xx while the backend refuses every upload), "
      "server_error (5xx).",
      "counter", {"backend", "cause"}, [this] {
        MetricsRegistry::SeriesList series;
        for (const auto& b : backends_) {
          const Uploader::Stats stats = b->uploader->stats();
          for (int i = 0; i < kUploadFailureKinds; ++i) {
            series.push_back({{b->name, UploadFailureName(static_cast<UploadFailure>(i))},
                              double(stats.retries_by_failure[i])});
          }
        }
        return series;
      });
  backend_family("pushgate_aggregator_upload_rejected_batches_total",
                 "Pushes (or a batch's pushes, when a single one is too large) the backend "
                 "refused permanently: a 413, or a 4xx other than 401, 403, 404, 405, 408 and "
                 "429 while it takes an empty upload (refusing that too, the upload is wrong, "
                 "and it is retried); dropped, logged at most every 10 s.",
                 "counter", [](const Uploader::Stats& s) { return s.permanent_failures; });
  backend_family("pushgate_aggregator_upload_points_dropped_total",
                 "Points in the pushes the backend refused permanently.", "counter",
                 [](const Uploader::Stats& s) { return s.points_dropped; });
  backend_family("pushgate_aggregator_upload_queued_points",
                 "Points read from the spool and waiting in memory for upload.", "gauge",
                 [](const Uploader::Stats& s) { return s.queued_points; });
}

}  // namespace pushgate
