// Delivery of encoded data (line protocol, or any other body) to a backend: `Sink`s that send
// one body somewhere (HTTP POST via libcurl, or a local file), and `Uploader`, which batches
// added data on a background thread and delivers every batch with retries, never dropping
// data on a retryable failure.
#ifndef PUSHGATE_LIBS_UPLOADER_UPLOADER_H_
#define PUSHGATE_LIBS_UPLOADER_UPLOADER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace pushgate {

// A destination for encoded batches.
class Sink {
 public:
  virtual ~Sink() = default;

  // Delivers one batch. OK means the backend accepted it. A retryable failure (network
  // error, timeout, HTTP 5xx, 408 or 429) returns UNAVAILABLE, with a retry-after hint (see
  // RetryAfterHint) when the server sent one. A permanent failure (any other HTTP status)
  // returns another code with the backend's message. The sinks made below serialise
  // concurrent calls (the Uploader makes them from one thread only).
  virtual absl::Status Send(absl::string_view body) = 0;

  // Where the sink delivers, for logs and metrics: never contains credentials (URL user
  // info, query strings and tokens are left out).
  virtual std::string Describe() const = 0;
};

// An UNAVAILABLE status carrying the server's Retry-After as a payload.
absl::Status UnavailableWithRetryAfter(absl::string_view message, absl::Duration retry_after);
// The retry-after hint attached by UnavailableWithRetryAfter, if any.
absl::optional<absl::Duration> RetryAfterHint(const absl::Status& status);

// Marks a failed upload's `status` with the HTTP status the backend answered (sinks that
// reached one do), so that failures can be counted by cause.
void SetHttpStatus(int code, absl::Status* status);

// Why an upload attempt failed: no answer (kNetwork: connection, TLS, timeout, file) or the
// backend's HTTP status, in classes an operator acts on differently.
enum class UploadFailure {
  kNetwork,       // no HTTP answer
  kRedirect,      // 3xx, not followed: the URL is an old address
  kUnauthorized,  // 401, 403: token or credentials
  kNotFound,      // 404, 405: path or database
  kThrottled,     // 429
  kTimeout,       // 408
  kRefused,       // another 4xx (the data, or a format the backend does not take)
  kServerError,   // 5xx
};
constexpr int kUploadFailureKinds = 8;
// The label value for `failure`: "network", "redirect", "unauthorized", "not_found",
// "throttled", "timeout", "refused", "server_error".
const char* UploadFailureName(UploadFailure failure);
UploadFailure ClassifyUploadFailure(const absl::Status& status);

struct HttpSinkOptions {
  std::string url;
  // Compress bodies with gzip (and send Content-Encoding: gzip).
  bool gzip = true;
  // How gzip bodies are made: kFastGzip, pushgate's own encoder (libs/deflate: about zlib
  // level 1's size on line protocol, in about half its time), or zlib at level 1-9. Line
  // protocol is repetitive, so even the fastest already shrinks it about 14 times.
  static constexpr int kFastGzip = 0;
  int gzip_level = kFastGzip;
  // Compress bodies with snappy's block format instead (Prometheus remote write; the
  // Content-Encoding header comes with extra_headers). Wins over `gzip`.
  bool snappy_block = false;
  // When set, sent as "Authorization: Token <token>" (InfluxDB/DataKit style).
  std::string token;
  std::string content_type = "text/plain; charset=utf-8";
  // Bounds each whole request, connecting included.
  absl::Duration timeout = absl::Seconds(10);
  // Further "Name: value" header lines.
  std::vector<std::string> extra_headers;
};

// A sink that POSTs each batch to options.url with libcurl, over one reused connection
// (keep-alive). Retry-After on a 429 or 503 (seconds or an HTTP date) becomes the status's
// retry-after hint. The URL is not checked here; a bad one fails every Send as UNAVAILABLE.
std::unique_ptr<Sink> MakeHttpSink(const HttpSinkOptions& options);

struct FileSinkOptions {
  // Before a batch that would take the file past this many bytes, the file is renamed
  // `<path>.1` (replacing the previous one) and a new one begun, so that the two together
  // stay within about twice this; 0 = the file only grows.
  size_t rotate_bytes = 0;
};

// A sink for `url`: http:// and https:// make an HTTP sink (`base` with its url replaced);
// file:///abs/path (or file://localhost/abs/path) appends each batch to that file, creating
// it (mode 0644) if missing, and fdatasyncs it (and the directory, for a new file) before
// Send returns, so delivered data survives a crash; a failed write is rolled back and
// reported as UNAVAILABLE. The file sink rotates as `file` says, and follows a rotation made
// by another program (logrotate): a batch finding the file moved away or deleted begins a new
// one at the path. Any other URL -> InvalidArgument; a file that cannot be opened -> that
// error.
absl::StatusOr<std::unique_ptr<Sink>> MakeSinkForUrl(absl::string_view url,
                                                     const HttpSinkOptions& base,
                                                     const FileSinkOptions& file = {});

struct UploaderOptions {
  // A batch is sent as soon as it holds this many points or bytes. Batches hold whole Adds,
  // so a single Add larger than a limit becomes a batch of its own.
  size_t batch_max_points = 5000;
  size_t batch_max_bytes = size_t{1} << 20;
  // ...and at the latest this long after its first Add.
  absl::Duration flush_interval = absl::Seconds(1);
  // Retry delays grow exponentially from backoff_base to backoff_max; each delay is drawn
  // uniformly from [d/2, d]. A server's retry-after hint replaces the delay, clamped to
  // [backoff_base, retry_after_max].
  absl::Duration backoff_base = absl::Milliseconds(100);
  // Also how long a backend that came back may wait for the next attempt, while the spool
  // fills. Prometheus' remote write uses 5 s; at 30 s, after a 30 s outage under the
  // benchmark's load, the first points went out 9 s after the backend returned, 7 s of them
  // with a full spool (pushes refused).
  absl::Duration backoff_max = absl::Seconds(5);
  absl::Duration retry_after_max = absl::Minutes(5);
  // Called on the upload thread, in order, after a batch is done (delivered, or permanently
  // rejected and dropped), with the highest position of the Adds in it: every Add with a
  // position up to this one is done and need not be kept for replay. Must not call back
  // into the Uploader's Flush or Stop.
  std::function<void(uint64_t position)> on_delivered;
  // The upload thread's nice value (see libs/thread_priority); 0 keeps normal priority.
  int background_nice = 0;
};

// Batches added data and uploads it to a Sink on a background thread.
//
// Retryable failures (UNAVAILABLE) are retried forever with backoff, so data is never
// dropped while the backend is down (memory grows meanwhile; bounding it is a durability
// layer's job). Permanent failures drop the batch, LOG(ERROR) the backend's message and are
// counted. All methods are thread-safe.
class Uploader {
 public:
  struct Stats {
    uint64_t batches_sent = 0;  // accepted by the sink
    uint64_t points_sent = 0;
    uint64_t bytes_sent = 0;  // uncompressed body bytes
    uint64_t retries = 0;     // failed attempts that were retried
    // The same by why they failed (UploadFailure).
    std::array<uint64_t, kUploadFailureKinds> retries_by_failure{};
    uint64_t permanent_failures = 0;  // batches dropped on a permanent error
    uint64_t points_dropped = 0;      // points in those batches
    uint64_t points_abandoned = 0;    // given up by Stop(), or added after it
    uint64_t queued_points = 0;       // added, not yet done (in flight included)
    uint64_t queued_bytes = 0;
    uint64_t delivered_position = 0;  // last position reported to on_delivered
    // When the sink last accepted a batch; InfinitePast() before the first.
    absl::Time last_accepted = absl::InfinitePast();
  };

  // Starts the upload thread.
  Uploader(std::unique_ptr<Sink> sink, UploaderOptions options);
  // Stop(), without further draining.
  ~Uploader();

  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Queues `lines` (already encoded) holding `points` points. Adds are concatenated as
  // given, so each must end with its separator ('\n' for line protocol). `position` is an opaque,
  // non-decreasing marker of where this data came from (e.g. a write-ahead-log offset) that
  // on_delivered reports back; pass 0 when unused. Data added after Stop() is not sent (it is
  // counted as abandoned).
  void Add(absl::string_view lines, size_t points, uint64_t position = 0);

  // Sends what is queued now, without waiting for the batch limits or interval, and blocks
  // until everything added before the call is delivered or permanently rejected, or until
  // `timeout`. Returns false on timeout or when Stop() abandoned some of that data.
  bool Flush(absl::Duration timeout = absl::InfiniteDuration());

  // Stops accepting data and keeps delivering what is queued for at most `drain_timeout`
  // (retries included), then abandons the rest and joins the thread. A Send in progress
  // is never interrupted (the sink's own timeout bounds it). Idempotent; later calls
  // return at once.
  void Stop(absl::Duration drain_timeout = absl::ZeroDuration());
  // Stop() without the join: starts the drain and returns. Stopping several uploaders, call
  // this on each first, so that their drains run at the same time, then Stop() on each.
  void BeginStop(absl::Duration drain_timeout);

  Stats stats() const;

  const Sink& sink() const { return *sink_; }

 private:
  struct Batch {
    std::string body;
    uint64_t points = 0;
    uint64_t adds = 0;       // how many Adds it holds
    uint64_t first_add = 0;  // sequence numbers (1-based) of its first and last Add
    uint64_t last_add = 0;
    uint64_t max_position = 0;
    absl::Time opened;  // when its first Add came
    // After each Add: where its lines end in `body`, and the points up to there. A batch is
    // split only at these (an Add is whole lines, or whole remote-write messages).
    std::vector<std::pair<size_t, uint64_t>> add_ends;
    // Set by Deliver: points in parts the backend refused for good, and how many refusals.
    uint64_t points_dropped = 0;
    uint64_t rejections = 0;
    // The backend refuses some of this batch's data, not every upload (see ClassifyRefusal).
    bool data_refused = false;
    // Requests left for splitting the batch to find the pushes refused (set at the first
    // split): a backend refusing every push of a large batch would otherwise take 2N - 1
    // requests; once spent, a refused part is dropped whole.
    int data_split_requests_left = -1;
  };
  // kDelivered: delivered, except any points_dropped; kDropped: nothing delivered.
  enum class Outcome { kDelivered, kDropped, kAbandoned };

  void Run();
  void SealCurrentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Outcome Deliver(Batch& batch) ABSL_LOCKS_EXCLUDED(mu_);
  // Sends Adds [begin, end) of `batch`, retrying; see Deliver.
  Outcome DeliverAdds(Batch& batch, size_t begin, size_t end) ABSL_LOCKS_EXCLUDED(mu_);
  // After a permanent refusal (other than 413) of `batch` or a part of it: `refusal` when it
  // is about the data, to be dropped push by push; UNAVAILABLE, to be retried, when the
  // backend refuses every upload (a wrong path, database or format) or is in trouble.
  absl::Status ClassifyRefusal(Batch& batch, const absl::Status& refusal) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a line logged at most every `every` (per uploader: each backend's problems are
  // logged apart) may be written now; `last` is when one was last written.
  static bool ShouldLog(absl::Time* last, absl::Duration every);
  // Batch::data_split_requests_left for a batch of `adds` Adds.
  static int DataSplitBudget(size_t adds);
  absl::Duration RetryDelay(int attempt, const absl::Status& status);
  // Waits until `until`; false (at once) when Stop()'s drain deadline passes first.
  bool SleepUnlessAbandoned(absl::Time until) ABSL_LOCKS_EXCLUDED(mu_);
  void Finish(const Batch& batch, Outcome outcome) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<Sink> sink_;
  const UploaderOptions options_;
  // Whether the backend has taken a non-empty upload since start: its URL and format are
  // right, so a later refusal is about the data. Upload thread only.
  bool took_data_ = false;
  // When the upload thread last logged a refusal, a split for size, a split for the data.
  absl::Time last_refusal_log_ = absl::InfinitePast();
  absl::Time last_size_split_log_ = absl::InfinitePast();
  absl::Time last_data_split_log_ = absl::InfinitePast();

  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;  // wakes the thread: a sealed batch, a new batch, Stop()
  absl::CondVar done_cv_;  // wakes Flush(): a batch is done
  Batch current_ ABSL_GUARDED_BY(mu_);
  size_t last_sealed_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // body size of the last batch sealed
  std::deque<Batch> sealed_ ABSL_GUARDED_BY(mu_);
  uint64_t adds_ ABSL_GUARDED_BY(mu_) = 0;       // Adds accepted so far
  uint64_t done_adds_ ABSL_GUARDED_BY(mu_) = 0;  // Adds 1..done_adds_ are done
  uint64_t first_abandoned_ ABSL_GUARDED_BY(mu_) = UINT64_MAX;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  Stats stats_ ABSL_GUARDED_BY(mu_);

  absl::Mutex stop_mu_;  // serialises Stop()'s join
  std::thread thread_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_UPLOADER_UPLOADER_H_
