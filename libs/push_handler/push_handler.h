// The front's HTTP API: Pushgateway-compatible push routes, health checks and self metrics.
//
// A push is decoded completely (grouping key from the URL, Content-Encoding, text or
// delimited-protobuf body) before anything is sent on; any problem is answered with one line
// of plain text and the matching status, and nothing of that push leaves the front. A valid
// push is answered only once the aggregator acknowledged it: 200 (202 for DELETE) when it is
// durable, 503 with Retry-After when it could not be handed over. Routes and statuses:
// docs/reference/push-api.md. As in the Pushgateway and DataKit, an empty
// body sent with `Content-Encoding: gzip` is not a gzip stream: 400.
#ifndef PUSHGATE_LIBS_PUSH_HANDLER_PUSH_HANDLER_H_
#define PUSHGATE_LIBS_PUSH_HANDLER_PUSH_HANDLER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/http_server/http_server.h"
#include "libs/ingest_client/ingest_client.h"
#include "libs/self_metrics/self_metrics.h"
#include "libs/text_parser/text_parser.h"
#include "libs/text_parser/text_shape_cache.h"
#include "libs/work_queue/work_queue.h"

namespace pushgate {

struct PushHandlerOptions {
  // Normalised with NormalizeRoutePrefix; "" serves the routes at the root.
  std::string route_prefix;
  size_t max_decompressed_bytes = 64 << 20;
  TextParserLimits limits;
  // Memory for the shapes of recurring text pushes (TextShapeCache); 0 parses every push.
  size_t text_shape_cache_bytes = 16 << 20;
  // Seconds suggested to clients in Retry-After when the aggregator cannot take a push.
  int retry_after_seconds = 1;
  // Pushes whose body is at least this large (a compressed body counting
  // kCompressedBodyWeight times its size) are decompressed and decoded on the handler's own
  // decode threads rather than on the HTTP thread that read them: a push of many megabytes
  // takes that long to decode, and the HTTP thread serves other connections meanwhile.
  // Small pushes stay on the HTTP thread, which answers them without a thread hand-off.
  // 0: every push is decoded on its HTTP thread.
  size_t large_push_bytes = 64 << 10;
  int decode_threads = 1;
  // Bodies waiting for a decode thread, in bytes; beyond it a large push is decoded on its HTTP
  // thread again, which then reads no other request meanwhile (the backpressure there was).
  size_t max_decode_queue_bytes = 64 << 20;
  // A large push that waited this long for a decode thread gets 503 instead: its client has
  // likely given up (and may have sent it again).
  absl::Duration max_decode_wait = absl::Seconds(10);
};

// Metrics text compresses about 10 to 20 times: a compressed body counts this many times
// its size against PushHandlerOptions::large_push_bytes.
inline constexpr size_t kCompressedBodyWeight = 16;

// "" and "/" (or more slashes) -> ""; "x", "/x/" and "//x//" -> "/x".
std::string NormalizeRoutePrefix(absl::string_view prefix);

class PushHandler {
 public:
  // `client` and `registry` must outlive the handler.
  PushHandler(PushHandlerOptions options, IngestClient* client, MetricsRegistry* registry);

  // Serves one request (an HttpHandler for HttpServer).
  void Handle(HttpRequest request, HttpResponder respond);

  // An HttpServerOptions::answer_before_body: the answer Handle would give a request whatever
  // its body (a bad or unknown path, a method the route does not take, a grouping key that is
  // malformed or over its limits), so that a client that waits for `100 Continue` is not
  // invited to upload a body only to be refused.
  std::optional<HttpResponse> AnswerBeforeBody(absl::string_view method,
                                               absl::string_view target) const;

  // Counts an answer the HTTP server made itself before the request reached Handle (an
  // HttpServerOptions::on_refused) in pushgate_front_requests_total: under the route and
  // method the request named, as Handle would, or as route="unread" if the server refused
  // it before reading its request line.
  void CountRefusedByServer(int status, absl::string_view method, absl::string_view target);

  // Answers the large pushes still waiting for a decode thread with 503, without decoding
  // them, and stops the decode threads. Call after the HTTP server stopped calling Handle and
  // before it is destroyed: the answers go to its connections.
  void StopDecoding();

 private:
  // Durations are measured on a clock that wall-clock adjustments do not move.
  using Clock = std::chrono::steady_clock;
  static double SecondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  // `receive_time_ns` and `start` are when the request was taken (on the HTTP thread).
  // Where a request goes: a route that serves it, or the refusal it gets whatever its body.
  struct Routed {
    // The refusal, if there is one; otherwise the route that serves the request. (Optional,
    // so that a push is not handed a response to build and throw away.)
    std::optional<HttpResponse> refusal;
    enum Kind { kHealthy, kReady, kMetrics, kPush } kind = kPush;
    const char* label = "other";  // the route label of pushgate_front_requests_total
    std::string path;             // percent-decoded
    size_t key_offset = 0;        // kPush: where the grouping key starts in `path`
  };
  // `path`: the request target without its query.
  Routed Route(absl::string_view method, absl::string_view path) const;
  // The same for a request target as the HTTP server sees it (origin form, query included).
  Routed RouteTarget(absl::string_view method, absl::string_view target) const;
  // The 404 for a path that is no route: it says where pushes go.
  HttpResponse NotFound() const;
  // The grouping key of a push path's key part (after `/metrics/`), within the limits.
  absl::StatusOr<pushgate::v1::GroupingKey> GroupingKeyOf(absl::string_view key_path) const;
  // `decompressed`: the body already decompressed (by DecompressSmall), if it was.
  void HandlePush(HttpRequest& request, absl::string_view key_path, HttpResponder respond,
                  int64_t receive_time_ns, Clock::time_point start,
                  std::optional<std::string> decompressed = std::nullopt);
  // Whether decoding the push in `request` would hold up its HTTP thread too long, judged by
  // its size as sent.
  bool IsLarge(const HttpRequest& request) const;
  // For a body IsLarge let through: when compressed, its decompressed form if that stays within
  // large_push_bytes (and max_decompressed_bytes), or ResourceExhausted if not (it goes to a
  // decode thread after all: a few KB of zstd can expand to 64 MB). nullopt for a body not
  // compressed, or one that does not decompress (HandlePush refuses it, saying why).
  absl::StatusOr<std::optional<std::string>> DecompressSmall(const HttpRequest& request) const;
  // The callback that answers the HTTP request once the aggregator acknowledged its push;
  // `start` is when the push's handling began.
  IngestClient::Done AckHandler(const std::string& method, Clock::time_point start,
                                HttpResponder respond);
  // Responds and records the outcome in the request counter.
  void Finish(const char* route, const std::string& method, HttpResponse response,
              const HttpResponder& respond);

  const PushHandlerOptions options_;
  TextShapeCache text_shapes_;
  IngestClient* const client_;
  MetricsRegistry* const registry_;
  MetricFamilyValues& requests_;
  MetricFamilyValues& body_bytes_;
  MetricFamilyValues& decoded_bytes_;
  MetricFamilyValues& rejected_pushes_;
  MetricFamilyValues& series_received_;
  HistogramMetric& push_duration_;
  std::atomic<size_t> decode_queue_bytes_{0};
  std::atomic<bool> decoding_stopped_{false};
  // Declared last: destroyed first, it runs the pushes still queued, which use the rest.
  std::unique_ptr<WorkQueue> decode_queue_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PUSH_HANDLER_PUSH_HANDLER_H_
