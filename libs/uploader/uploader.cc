#include "libs/uploader/uploader.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/thread_name/thread_name.h"
#include "libs/thread_priority/thread_priority.h"
#include "libs/uploader/internal/sinks.h"

namespace pushgate {
namespace {

// A status for a log line: code and message, without payloads.
std::string ForLog(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
}

constexpr absl::string_view kRetryAfterPayload = "type.pushgate/retry-after-ms";

// Whether a failed attempt is worth a log line: the first few, then ever more rarely, so a
// long outage neither floods the log nor goes quiet.
bool WorthLogging(int attempt) { return attempt < 3 || (attempt & (attempt + 1)) == 0; }

}  // namespace

absl::Status UnavailableWithRetryAfter(absl::string_view message, absl::Duration retry_after) {
  absl::Status status = absl::UnavailableError(message);
  status.SetPayload(kRetryAfterPayload,
                    absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(retry_after))));
  return status;
}

constexpr absl::string_view kHttpStatusPayload = "type.pushgate/http-status";

void SetHttpStatus(int code, absl::Status* status) {
  status->SetPayload(kHttpStatusPayload, absl::Cord(absl::StrCat(code)));
}

const char* UploadFailureName(UploadFailure failure) {
  static constexpr const char* kNames[kUploadFailureKinds] = {
      "network",   "redirect", "unauthorized", "not_found",
      "throttled", "timeout",  "refused",      "server_error"};
  return kNames[static_cast<int>(failure)];
}

UploadFailure ClassifyUploadFailure(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kHttpStatusPayload);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) {
    return UploadFailure::kNetwork;
  }
  if (code >= 300 && code < 400) return UploadFailure::kRedirect;
  if (code == 401 || code == 403) return UploadFailure::kUnauthorized;
  if (code == 404 || code == 405) return UploadFailure::kNotFound;
  if (code == 429) return UploadFailure::kThrottled;
  if (code == 408) return UploadFailure::kTimeout;
  if (code >= 500) return UploadFailure::kServerError;
  return UploadFailure::kRefused;
}

absl::optional<absl::Duration> RetryAfterHint(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kRetryAfterPayload);
  int64_t ms = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &ms) || ms < 0) {
    return absl::nullopt;
  }
  return absl::Milliseconds(ms);
}

std::unique_ptr<Sink> MakeHttpSink(const HttpSinkOptions& options) {
  return uploader_internal::MakeCurlSink(options);
}

absl::StatusOr<std::unique_ptr<Sink>> MakeSinkForUrl(absl::string_view url,
                                                     const HttpSinkOptions& base,
                                                     const FileSinkOptions& file) {
  const size_t scheme_end = url.find("://");
  const absl::string_view scheme =
      scheme_end == absl::string_view::npos ? absl::string_view() : url.substr(0, scheme_end);
  if (absl::EqualsIgnoreCase(scheme, "http") || absl::EqualsIgnoreCase(scheme, "https")) {
    HttpSinkOptions options = base;
    options.url = std::string(url);
    return MakeHttpSink(options);
  }
  if (absl::EqualsIgnoreCase(scheme, "file")) {
    absl::string_view path = url.substr(scheme_end + 3);
    if (absl::StartsWithIgnoreCase(path, "localhost/")) path.remove_prefix(9);
    if (!absl::StartsWith(path, "/")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "file sink URL must be file:///absolute/path, got \"", absl::CEscape(url), "\""));
    }
    return uploader_internal::MakeFileSink(std::string(path), file);
  }
  // Only the scheme is echoed: the rest may hold credentials.
  return absl::InvalidArgumentError(absl::StrCat("unsupported sink URL scheme \"",
                                                 absl::CEscape(scheme),
                                                 "\" (want http://, https:// or file://)"));
}

Uploader::Uploader(std::unique_ptr<Sink> sink, UploaderOptions options)
    : sink_(std::move(sink)), options_(std::move(options)) {
  thread_ = std::thread(&Uploader::Run, this);
}

Uploader::~Uploader() { Stop(); }

void Uploader::Add(absl::string_view lines, size_t points, uint64_t position) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    stats_.points_abandoned += points;
    return;
  }
  if (current_.adds > 0 && (current_.points + points > options_.batch_max_points ||
                            current_.body.size() + lines.size() > options_.batch_max_bytes)) {
    SealCurrentLocked();
  }
  if (current_.adds == 0) {
    // Room for as much as the last batch held: under steady load batches come out alike, and
    // a body grown by doubling would copy itself several times over (and touch fresh pages
    // each time) on the dispatcher's thread.
    current_.body.reserve(std::min(options_.batch_max_bytes, last_sealed_bytes_ + lines.size()));
    current_.opened = absl::Now();
    current_.first_add = adds_ + 1;
    work_cv_.Signal();  // the thread now has an interval deadline to wait for
  }
  current_.body.append(lines.data(), lines.size());
  current_.points += points;
  current_.add_ends.emplace_back(current_.body.size(), current_.points);
  current_.max_position = std::max(current_.max_position, position);
  current_.last_add = ++adds_;
  ++current_.adds;
  stats_.queued_points += points;
  stats_.queued_bytes += lines.size();
  if (current_.points >= options_.batch_max_points ||
      current_.body.size() >= options_.batch_max_bytes) {
    SealCurrentLocked();
  }
}

void Uploader::SealCurrentLocked() {
  if (current_.adds == 0) return;
  last_sealed_bytes_ = current_.body.size();
  // A batch sealed early (by the flush interval) may have far more room than content; queued
  // batches are bounded by their content (max_queued_bytes_per_backend), so give it back.
  if (current_.body.capacity() > 2 * current_.body.size()) current_.body.shrink_to_fit();
  sealed_.push_back(std::move(current_));
  current_ = Batch();
  work_cv_.Signal();
}

bool Uploader::Flush(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  const uint64_t target = adds_;
  SealCurrentLocked();
  while (done_adds_ < target) {
    if (done_cv_.WaitWithDeadline(&mu_, deadline) && done_adds_ < target) return false;
  }
  return first_abandoned_ > target;
}

void Uploader::BeginStop(absl::Duration drain_timeout) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  stopping_ = true;
  drain_deadline_ = absl::Now() + drain_timeout;
  SealCurrentLocked();
  work_cv_.SignalAll();
}

void Uploader::Stop(absl::Duration drain_timeout) {
  BeginStop(drain_timeout);
  absl::MutexLock lock(&stop_mu_);
  if (thread_.joinable()) thread_.join();
}

Uploader::Stats Uploader::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void Uploader::Run() {
  SetCurrentThreadName("upload");
  MakeCurrentThreadBackgroundOrWarn(options_.background_nice);
  for (;;) {
    Batch batch;
    bool abandon = false;
    {
      absl::MutexLock lock(&mu_);
      while (sealed_.empty()) {
        if (current_.adds > 0 && absl::Now() >= current_.opened + options_.flush_interval) {
          SealCurrentLocked();
          break;
        }
        if (stopping_) return;  // Stop() sealed the last batch and Add() accepts no more
        work_cv_.WaitWithDeadline(&mu_, current_.adds > 0
                                            ? current_.opened + options_.flush_interval
                                            : absl::InfiniteFuture());
      }
      batch = std::move(sealed_.front());
      sealed_.pop_front();
      abandon = stopping_ && absl::Now() >= drain_deadline_;
    }
    const Outcome outcome = abandon ? Outcome::kAbandoned : Deliver(batch);
    if (outcome != Outcome::kAbandoned && options_.on_delivered) {
      // Before Flush() can return, so a flusher sees the callback's effects.
      options_.on_delivered(batch.max_position);
    }
    absl::MutexLock lock(&mu_);
    Finish(batch, outcome);
  }
}

Uploader::Outcome Uploader::Deliver(Batch& batch) {
  return DeliverAdds(batch, 0, batch.add_ends.size());
}

Uploader::Outcome Uploader::DeliverAdds(Batch& batch, size_t begin, size_t end) {
  const size_t from = begin == 0 ? 0 : batch.add_ends[begin - 1].first;
  const uint64_t points_before = begin == 0 ? 0 : batch.add_ends[begin - 1].second;
  const absl::string_view body =
      absl::string_view(batch.body).substr(from, batch.add_ends[end - 1].first - from);
  const uint64_t points = batch.add_ends[end - 1].second - points_before;
  // Adds with no data only carry a position forward (e.g. a push with no points).
  if (body.empty()) return Outcome::kDelivered;
  for (int attempt = 0;; ++attempt) {
    absl::Status status = sink_->Send(body);
    if (status.ok()) {
      took_data_ = true;
      if (attempt > 0) {
        LOG(INFO) << "uploader: " << sink_->Describe() << " accepted a batch after " << attempt
                  << " retries";
      }
      return Outcome::kDelivered;
    }
    const UploadFailure failure = ClassifyUploadFailure(status);  // before a refusal is classed
    if (!absl::IsUnavailable(status) && !absl::IsOutOfRange(status) && !batch.data_refused) {
      status = ClassifyRefusal(batch, status);
    }
    if (!absl::IsUnavailable(status)) {
      const bool too_large = absl::IsOutOfRange(status);
      if (!too_large && end - begin > 1 && batch.data_split_requests_left < 0) {
        batch.data_split_requests_left = DataSplitBudget(batch.add_ends.size());
      }
      if (end - begin > 1 && (too_large || batch.data_split_requests_left >= 2)) {
        if (!too_large) batch.data_split_requests_left -= 2;
        // 413: the backend takes less per request than --batch_max_bytes. Any other refusal
        // of the data: it refuses some pushes (an out-of-order sample makes Prometheus refuse
        // the whole request, with every other client's points in it). Either way halves,
        // split between pushes, until each part is taken or a single push is refused, cost
        // requests, not other pushes' data.
        if (ShouldLog(too_large ? &last_size_split_log_ : &last_data_split_log_,
                      absl::Seconds(10))) {
          LOG(WARNING) << "uploader: " << sink_->Describe() << " refused " << body.size()
                       << " bytes of " << end - begin << " pushes; sending them again in halves"
                       << (too_large ? " (lower --batch_max_bytes to spare the retries)"
                                     : " to find the pushes it refuses")
                       << ": " << ForLog(status);
        }
        const size_t middle = begin + (end - begin) / 2;
        const Outcome first = DeliverAdds(batch, begin, middle);
        if (first == Outcome::kAbandoned) return first;
        const Outcome second = DeliverAdds(batch, middle, end);
        if (second == Outcome::kAbandoned) return second;
        return first == Outcome::kDropped && second == Outcome::kDropped ? Outcome::kDropped
                                                                         : Outcome::kDelivered;
      }
      // At most one line every 10 s per backend: one refusing every push (a client's points
      // it takes for bad) would otherwise write one per push, hundreds a second under load.
      // The count is in pushgate_aggregator_upload_points_dropped_total.
      if (ShouldLog(&last_refusal_log_, absl::Seconds(10))) {
        LOG(ERROR) << "uploader: " << sink_->Describe() << " permanently rejected " << points
                   << " points (" << body.size() << " bytes) of " << end - begin
                   << (end - begin == 1 ? " push" : " pushes")
                   << "; dropping them: " << ForLog(status);
      }
      batch.points_dropped += points;
      ++batch.rejections;
      return Outcome::kDropped;
    }
    const absl::Duration delay = RetryDelay(attempt, status);
    if (WorthLogging(attempt)) {
      LOG(WARNING) << "uploader: sending " << points << " points to " << sink_->Describe()
                   << " failed (attempt " << attempt + 1 << "), retrying in " << delay << ": "
                   << ForLog(status);
    }
    {
      absl::MutexLock lock(&mu_);
      ++stats_.retries;
      ++stats_.retries_by_failure[static_cast<int>(failure)];
    }
    if (!SleepUnlessAbandoned(absl::Now() + delay)) return Outcome::kAbandoned;
  }
}

// A refusal other than 413 (400 in the main) may be about some of the data, a sample the
// backend will not take, or about every upload: a URL without InfluxDB's database, a path
// VictoriaMetrics does not serve, line protocol sent to a remote-write receiver. Dropping the
// data for a configuration mistake would lose every batch until it is fixed; kept, it waits
// in the spool, as for a 404. A backend that took data since start has the right URL and
// format. Before that, an empty upload tells them apart: InfluxDB 1.x, VictoriaMetrics and
// Prometheus take one (204) where they take the format at all, and refuse it with the very
// answer they gave the data where they do not; InfluxDB 2 refuses every empty upload, but
// with its own message ("writing requires points"), so a different answer means the data.
absl::Status Uploader::ClassifyRefusal(Batch& batch, const absl::Status& refusal) {
  if (took_data_) {
    batch.data_refused = true;
    return refusal;
  }
  const absl::Status probe = sink_->Send("");
  if (absl::IsUnavailable(probe)) return probe;
  if (probe.ok() || probe.code() != refusal.code() || probe.message() != refusal.message()) {
    batch.data_refused = true;
    return refusal;
  }
  return absl::UnavailableError(
      absl::StrCat(refusal.message(),
                   " (an empty upload is refused too, so it is the upload, not the data, that is "
                   "wrong: check --upload_url (path, database) and --upload_format; the data is "
                   "kept and retried)"));
}

int Uploader::DataSplitBudget(size_t adds) {
  // Two requests per split level find one refused push among `adds`; enough for a few.
  int levels = 0;
  while ((size_t{1} << levels) < adds) ++levels;
  return 4 * levels + 8;
}

bool Uploader::ShouldLog(absl::Time* last, absl::Duration every) {
  const absl::Time now = absl::Now();
  if (now - *last < every) return false;
  *last = now;
  return true;
}

absl::Duration Uploader::RetryDelay(int attempt, const absl::Status& status) {
  const absl::optional<absl::Duration> hint = RetryAfterHint(status);
  if (hint.has_value()) {
    return std::min(std::max(*hint, options_.backoff_base), options_.retry_after_max);
  }
  absl::Duration delay = options_.backoff_base;
  for (int i = 0; i < attempt && delay < options_.backoff_max; ++i) delay *= 2;
  delay = std::min(delay, options_.backoff_max);
  // Jitter spreads out many pushgate instances retrying against one recovering backend.
  thread_local absl::BitGen rng;
  return delay * absl::Uniform(rng, 0.5, 1.0);
}

bool Uploader::SleepUnlessAbandoned(absl::Time until) {
  absl::MutexLock lock(&mu_);
  for (;;) {
    const absl::Time now = absl::Now();
    if (stopping_ && now >= drain_deadline_) return false;
    if (now >= until) return true;
    work_cv_.WaitWithDeadline(&mu_, stopping_ ? std::min(until, drain_deadline_) : until);
  }
}

void Uploader::Finish(const Batch& batch, Outcome outcome) {
  stats_.queued_points -= batch.points;
  stats_.queued_bytes -= batch.body.size();
  switch (outcome) {
    case Outcome::kDelivered:
      if (!batch.body.empty()) {  // an empty one is not sent at all
        ++stats_.batches_sent;
        stats_.last_accepted = absl::Now();
      }
      stats_.points_sent += batch.points - batch.points_dropped;
      stats_.bytes_sent += batch.body.size();
      stats_.permanent_failures += batch.rejections;
      stats_.points_dropped += batch.points_dropped;
      stats_.delivered_position = batch.max_position;
      break;
    case Outcome::kDropped:
      stats_.permanent_failures += batch.rejections;
      stats_.points_dropped += batch.points;
      stats_.delivered_position = batch.max_position;
      break;
    case Outcome::kAbandoned:
      stats_.points_abandoned += batch.points;
      first_abandoned_ = std::min(first_abandoned_, batch.first_add);
      break;
  }
  done_adds_ = batch.last_add;
  done_cv_.SignalAll();
}

}  // namespace pushgate
