#include "libs/push_handler/push_handler.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/compression/compression.h"
#include "libs/go_text/go_text.h"
#include "libs/grouping_key/grouping_key.h"
#include "libs/protobuf_decoder/protobuf_decoder.h"
#include "libs/text_parser/text_parser.h"
#include "proto/ingest.pb.h"

namespace pushgate {
namespace {

using pushgate::v1::PushAck;
using pushgate::v1::PushRequest;

// Whether the body came with a Content-Encoding other than identity.
bool IsCompressed(const HttpRequest& request) {
  const absl::string_view encoding = request.Header("Content-Encoding");
  return !encoding.empty() && !absl::EqualsIgnoreCase(encoding, "identity");
}

constexpr char kPushRoute[] = "push";

int StatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kUnimplemented:
      return 415;
    default:
      return 400;
  }
}

HttpResponse Text(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// The `method` label of pushgate_front_requests_total: the HTTP parser takes any token as a
// method, and a label per token would let clients make series without bound.
absl::string_view MethodLabel(absl::string_view method) {
  for (absl::string_view known : {"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"}) {
    if (method == known) return known;
  }
  return "other";
}

// Whether a Content-Type names the OpenMetrics text format (media type
// `application/openmetrics-text`, any case, whatever its parameters).
bool IsOpenMetricsText(absl::string_view content_type) {
  const absl::string_view media_type =
      absl::StripAsciiWhitespace(content_type.substr(0, content_type.find(';')));
  return absl::EqualsIgnoreCase(media_type, "application/openmetrics-text");
}

// The URL's job and labels tag every point of the push, as a series' own labels tag its
// points, so the limits on a series' labels hold for them too.
absl::Status CheckGroupingKeyLimits(const pushgate::v1::GroupingKey& key,
                                    const TextParserLimits& limits) {
  const auto too_long = [](absl::string_view what, size_t size, size_t limit, const char* flag) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is ", size, " bytes long, over the limit of ", limit, " bytes (", flag, ")"));
  };
  const size_t max_labels = limits.max_labels_per_series;
  if (max_labels != 0 && static_cast<size_t>(key.labels_size()) > max_labels) {
    return absl::InvalidArgumentError(absl::StrCat("grouping key has ", key.labels_size(),
                                                   " labels besides the job, over the limit of ",
                                                   max_labels, " (max_labels_per_series)"));
  }
  const size_t max_value = limits.max_label_value_length;
  if (max_value != 0 && key.job().size() > max_value) {
    return too_long("the job name", key.job().size(), max_value, "max_label_value_length");
  }
  for (const pushgate::v1::Label& label : key.labels()) {
    const size_t max_name = limits.max_label_name_length;
    if (max_name != 0 && label.name().size() > max_name) {
      return too_long(absl::StrCat("grouping label name ", GoQuote(label.name(), 100)),
                      label.name().size(), max_name, "max_label_name_length");
    }
    if (max_value != 0 && label.value().size() > max_value) {
      return too_long(absl::StrCat("the value of grouping label ", GoQuote(label.name(), 100)),
                      label.value().size(), max_value, "max_label_value_length");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string NormalizeRoutePrefix(absl::string_view prefix) {
  while (absl::ConsumeSuffix(&prefix, "/")) {
  }
  while (absl::ConsumePrefix(&prefix, "/")) {
  }
  return prefix.empty() ? "" : absl::StrCat("/", prefix);
}

PushHandler::PushHandler(PushHandlerOptions options, IngestClient* client,
                         MetricsRegistry* registry)
    : options_(std::move(options)),
      text_shapes_(options_.limits, options_.text_shape_cache_bytes),
      client_(client),
      registry_(registry),
      requests_(registry->Counter("pushgate_front_requests_total",
                                  "HTTP requests answered, by route, method and status code "
                                  "(route unread: refused by the HTTP layer before its request "
                                  "line was read, e.g. 400 for a malformed one).",
                                  {"route", "method", "code"})),
      body_bytes_(registry->Counter("pushgate_front_push_body_bytes_total",
                                    "Bytes of push bodies received, as sent (compressed).")),
      decoded_bytes_(registry->Counter("pushgate_front_push_decoded_bytes_total",
                                       "Bytes of push bodies after decompression.")),
      rejected_pushes_(registry->Counter(
          "pushgate_front_push_rejected_total",
          "Pushes refused before reaching the aggregator, by reason.", {"reason"})),
      series_received_(registry->Counter("pushgate_front_series_total",
                                         "Series in pushes handed to the aggregator.")),
      push_duration_(registry->Histogram(
          "pushgate_front_push_duration_seconds",
          "Time from a push request read in full to its answer (after the aggregator's "
          "acknowledgement for an accepted push), refused pushes included.",
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
      decode_queue_(options_.large_push_bytes == 0
                        ? nullptr
                        : std::make_unique<WorkQueue>("decode", options_.decode_threads)) {
  // Every reason has a series from the start, so increase() sees the first refusal.
  for (const char* reason : {"url", "encoding", "body"}) rejected_pushes_.Add({reason}, 0);
  registry->CallbackGauge(
      "pushgate_front_large_pushes_queued",
      "Large pushes (--large_push_bytes) read in full and waiting for a decode thread.",
      [this] { return decode_queue_ == nullptr ? 0.0 : double(decode_queue_->queued()); });
  registry->CallbackCounter(
      "pushgate_front_text_shape_cache_hits_total",
      "Text pushes written from the shape of an earlier push with the same text.",
      [this] { return double(text_shapes_.stats().hits); });
  registry->CallbackCounter(
      "pushgate_front_text_shape_cache_misses_total",
      "Text pushes parsed (new group or text, a 0 that came or went, or cache off).",
      [this] { return double(text_shapes_.stats().misses); });
  registry->CallbackCounter("pushgate_front_text_shape_cache_evictions_total",
                            "Groups dropped to keep within --text_shape_cache_bytes.",
                            [this] { return double(text_shapes_.stats().evictions); });
  registry->CallbackGauge(
      "pushgate_front_text_shape_cache_bytes",
      "Memory held by the shapes of recurring text pushes and their groups' entries.",
      [this] { return double(text_shapes_.stats().bytes); });
  registry->CallbackGauge("pushgate_front_text_shape_cache_shapes",
                          "Distinct text shapes kept (groups pushing the same text share one).",
                          [this] { return double(text_shapes_.stats().shapes); });
  registry->CallbackGauge("pushgate_front_text_shape_cache_groups",
                          "Groups whose last text push's shape is kept.",
                          [this] { return double(text_shapes_.stats().groups); });
  registry->CallbackGauge("pushgate_front_inflight_pushes",
                          "Pushes sent to the aggregator and not yet acknowledged.",
                          [client] { return static_cast<double>(client->stats().inflight); });
  registry->CallbackGauge("pushgate_front_upstream_connected",
                          "1 while the stream to the aggregator is open.",
                          [client] { return client->stats().connected ? 1.0 : 0.0; });
  registry->CallbackCounter("pushgate_front_upstream_stream_failures_total",
                            "Times the stream to the aggregator broke since start.", [client] {
                              return static_cast<double>(client->stats().stream_failures);
                            });
  registry->CallbackFamily(
      "pushgate_front_upstream_batches_total",
      "Stream messages sent to the aggregator; each carries one or more "
      "pushes (see pushgate_front_upstream_pushes_total).",
      "counter", {}, [client] {
        return MetricsRegistry::SeriesList{{{}, static_cast<double>(client->stats().batches_sent)}};
      });
  registry->CallbackFamily(
      "pushgate_front_upstream_pushes_total", "Pushes sent to the aggregator.", "counter", {},
      [client] {
        return MetricsRegistry::SeriesList{{{}, static_cast<double>(client->stats().pushes_sent)}};
      });
  registry->CallbackFamily(
      "pushgate_front_upstream_unavailable_total",
      "Pushes answered 503 by the front itself, by reason: no stream to the aggregator, "
      "--max_inflight_pushes or --max_inflight_bytes reached, no ack within --ack_timeout, the "
      "stream broke before the ack. (The aggregator's own refusals, such as a full spool, are "
      "in pushgate_aggregator_pushes_refused_total.)",
      "counter", {"reason"}, [client] {
        const IngestClientStats s = client->stats();
        return MetricsRegistry::SeriesList{
            {{"not_connected"}, static_cast<double>(s.refused_not_connected)},
            {{"inflight_pushes"}, static_cast<double>(s.refused_inflight_pushes)},
            {{"inflight_bytes"}, static_cast<double>(s.refused_inflight_bytes)},
            {{"ack_timeout"}, static_cast<double>(s.ack_timeouts)},
            {{"stream_broke"}, static_cast<double>(s.failed_stream_broke)},
        };
      });
}

void PushHandler::Finish(const char* route, const std::string& method, HttpResponse response,
                         const HttpResponder& respond) {
  requests_.Add({route, std::string(MethodLabel(method)), absl::StrCat(response.status)});
  respond(std::move(response));
}

void PushHandler::CountRefusedByServer(int status, absl::string_view method,
                                       absl::string_view target) {
  if (method.empty()) {
    requests_.Add({"unread", "other", absl::StrCat(status)});
    return;
  }
  const Routed routed = RouteTarget(method, target);
  requests_.Add({routed.label, std::string(MethodLabel(method)), absl::StrCat(status)});
}

PushHandler::Routed PushHandler::Route(absl::string_view method, absl::string_view path) const {
  Routed routed;
  absl::StatusOr<std::string> decoded = PercentDecodePath(path);
  if (!decoded.ok()) {
    routed.refusal = HttpResponse::Error(400, decoded.status().message());
    return routed;
  }
  routed.path = *std::move(decoded);
  absl::string_view rest = routed.path;
  if (!absl::ConsumePrefix(&rest, options_.route_prefix)) {
    routed.refusal = NotFound();
    return routed;
  }
  const bool is_get = method == "GET" || method == "HEAD";
  const auto get_only = [&](Routed::Kind kind, const char* label) {
    routed.label = label;
    if (is_get) {
      routed.kind = kind;
    } else {
      routed.refusal =
          HttpResponse::Error(405, absl::StrCat("method ", method, " not allowed on ",
                                                options_.route_prefix, rest, "; use GET or HEAD"));
      routed.refusal->headers.emplace_back("Allow", "GET, HEAD");
    }
    return std::move(routed);
  };
  if (rest == "/-/healthy") return get_only(Routed::kHealthy, "health");
  if (rest == "/-/ready") return get_only(Routed::kReady, "health");
  if (rest == "/metrics") return get_only(Routed::kMetrics, "metrics");
  // /metrics/job itself is no route (404 for every method, as in the Pushgateway).
  if (absl::ConsumePrefix(&rest, "/metrics/") &&
      (absl::StartsWith(rest, "job/") || absl::StartsWith(rest, "job@base64/"))) {
    routed.label = kPushRoute;
    if (method != "PUT" && method != "POST" && method != "DELETE") {
      routed.refusal = HttpResponse::Error(
          405,
          absl::StrCat("method ", method, " not allowed on a push path; use PUT, POST or DELETE"));
      routed.refusal->headers.emplace_back("Allow", "PUT, POST, DELETE");
      return routed;
    }
    routed.kind = Routed::kPush;
    routed.key_offset = rest.data() - routed.path.data();
    return routed;
  }
  routed.refusal = NotFound();
  return routed;
}

PushHandler::Routed PushHandler::RouteTarget(absl::string_view method,
                                             absl::string_view target) const {
  return Route(method, target.substr(0, target.find('?')));
}

HttpResponse PushHandler::NotFound() const {
  return HttpResponse::Error(404, absl::StrCat("not found: pushes go to ", options_.route_prefix,
                                               "/metrics/job/<job>{/<label>/<value>}"));
}

std::optional<HttpResponse> PushHandler::AnswerBeforeBody(absl::string_view method,
                                                          absl::string_view target) const {
  Routed routed = RouteTarget(method, target);
  if (routed.refusal.has_value() || routed.kind != Routed::kPush) return routed.refusal;
  // A grouping key HandlePush would refuse is refused before the body is sent.
  const absl::Status status =
      GroupingKeyOf(absl::string_view(routed.path).substr(routed.key_offset)).status();
  if (status.ok()) return std::nullopt;
  rejected_pushes_.Add({"url"});
  return HttpResponse::Error(StatusFor(status), status.message());
}

absl::StatusOr<pushgate::v1::GroupingKey> PushHandler::GroupingKeyOf(
    absl::string_view key_path) const {
  absl::StatusOr<pushgate::v1::GroupingKey> key = ParseGroupingKey(key_path);
  if (!key.ok()) return key;
  if (absl::Status status = CheckGroupingKeyLimits(*key, options_.limits); !status.ok()) {
    return status;
  }
  return key;
}

void PushHandler::Handle(HttpRequest request, HttpResponder respond) {
  Routed routed = Route(request.method, request.Path());
  if (routed.refusal.has_value()) {
    return Finish(routed.label, request.method, *std::move(routed.refusal), respond);
  }
  switch (routed.kind) {
    case Routed::kHealthy:
      return Finish(routed.label, request.method, Text(200, "OK\n"), respond);
    case Routed::kReady:
      if (!client_->connected()) {
        return Finish(routed.label, request.method,
                      HttpResponse::Error(503, "aggregator is not reachable"), respond);
      }
      return Finish(routed.label, request.method, Text(200, "OK\n"), respond);
    case Routed::kMetrics: {
      HttpResponse response = Text(200, registry_->Render());
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      return Finish(routed.label, request.method, std::move(response), respond);
    }
    case Routed::kPush:
      break;
  }
  const int64_t receive_time_ns = absl::GetCurrentTimeNanos();
  const Clock::time_point start = Clock::now();
  const size_t bytes = request.body.size();
  const absl::string_view key_path = absl::string_view(routed.path).substr(routed.key_offset);
  if (decode_queue_ == nullptr || decoding_stopped_.load() ||
      decode_queue_bytes_.load() + bytes > options_.max_decode_queue_bytes) {
    return HandlePush(request, key_path, std::move(respond), receive_time_ns, start);
  }
  if (!IsLarge(request)) {
    absl::StatusOr<std::optional<std::string>> decompressed = DecompressSmall(request);
    if (decompressed.ok()) {
      return HandlePush(request, key_path, std::move(respond), receive_time_ns, start,
                        *std::move(decompressed));
    }
  }
  decode_queue_bytes_ += bytes;
  decode_queue_->Submit([this, request = std::move(request), path = std::move(routed.path),
                         key_offset = routed.key_offset, respond = std::move(respond),
                         receive_time_ns, start, bytes]() mutable {
    decode_queue_bytes_ -= bytes;
    const double waited = SecondsSince(start);
    if (decoding_stopped_.load() || waited > absl::ToDoubleSeconds(options_.max_decode_wait)) {
      push_duration_.Observe(waited);
      HttpResponse response = HttpResponse::Error(
          503, decoding_stopped_.load()
                   ? std::string("the front is shutting down; push again")
                   : absl::StrCat("push waited ", absl::FormatDuration(absl::Seconds(waited)),
                                  " for a decode thread; retry later"));
      response.headers.emplace_back("Retry-After", absl::StrCat(options_.retry_after_seconds));
      return Finish(kPushRoute, request.method, std::move(response), respond);
    }
    HandlePush(request, absl::string_view(path).substr(key_offset), std::move(respond),
               receive_time_ns, start);
  });
}

void PushHandler::StopDecoding() {
  decoding_stopped_.store(true);
  decode_queue_.reset();  // answers what is still queued, then joins the threads
}

bool PushHandler::IsLarge(const HttpRequest& request) const {
  const size_t size = request.body.size();
  return (IsCompressed(request) ? size * kCompressedBodyWeight : size) >= options_.large_push_bytes;
}

absl::StatusOr<std::optional<std::string>> PushHandler::DecompressSmall(
    const HttpRequest& request) const {
  if (request.method == "DELETE" || !IsCompressed(request)) return std::nullopt;
  absl::StatusOr<ContentEncoding> encoding =
      ParseContentEncoding(request.Header("Content-Encoding"));
  if (!encoding.ok() || *encoding == ContentEncoding::kIdentity) return std::nullopt;
  // Never past the limit on decoded bodies either: whatever goes beyond is a decode thread's
  // to finish, or to refuse (413).
  std::string decompressed;
  const absl::Status status = Decompress(
      *encoding, request.body, std::min(options_.large_push_bytes, options_.max_decompressed_bytes),
      &decompressed);
  if (absl::IsResourceExhausted(status)) return status;
  // A body that does not decompress is refused by HandlePush, which says why.
  if (!status.ok()) return std::nullopt;
  return decompressed;
}

void PushHandler::HandlePush(HttpRequest& request, absl::string_view key_path,
                             HttpResponder respond, int64_t receive_time_ns,
                             Clock::time_point start, std::optional<std::string> decompressed) {
  const std::string method = request.method;
  auto reject = [&](const char* reason, const absl::Status& status) {
    rejected_pushes_.Add({reason});
    push_duration_.Observe(SecondsSince(start));
    Finish(kPushRoute, method, HttpResponse::Error(StatusFor(status), status.message()), respond);
  };

  // Everything but the families, which the decoders write in wire form after it.
  PushRequest head;
  head.set_receive_time_ns(receive_time_ns);
  absl::StatusOr<pushgate::v1::GroupingKey> key = GroupingKeyOf(key_path);
  if (!key.ok()) return reject("url", key.status());
  *head.mutable_grouping_key() = std::move(*key);

  head.set_method(method == "DELETE" ? pushgate::v1::DELETE
                  : method == "PUT"  ? pushgate::v1::PUT
                                     : pushgate::v1::POST);
  std::string serialized = head.SerializeAsString();
  if (method != "DELETE") {
    body_bytes_.Add(request.body.size());
    absl::StatusOr<ContentEncoding> encoding =
        ParseContentEncoding(request.Header("Content-Encoding"));
    if (!encoding.ok()) {
      return reject("encoding", absl::UnimplementedError(encoding.status().message()));
    }
    // A gzip stream is never empty (it has at least its header), and the Pushgateway and
    // DataKit refuse an empty one; Decompress would read it as an empty push.
    if (*encoding == ContentEncoding::kGzip && request.body.empty()) {
      return reject("encoding",
                    absl::InvalidArgumentError("empty body with Content-Encoding gzip: send a "
                                               "gzip stream, or no Content-Encoding header"));
    }
    absl::string_view body = request.body;
    if (*encoding == ContentEncoding::kIdentity &&
        request.body.size() > options_.max_decompressed_bytes) {
      // The same bound on what the decoders read whether or not the body came compressed.
      return reject(
          "encoding",
          absl::ResourceExhaustedError(absl::StrCat(
              "body of ", request.body.size(), " bytes exceeds ", options_.max_decompressed_bytes,
              " bytes, the limit on decoded bodies (--max_decompressed_bytes)")));
    }
    if (*encoding != ContentEncoding::kIdentity && !decompressed.has_value()) {
      decompressed.emplace();
      absl::Status status =
          Decompress(*encoding, request.body, options_.max_decompressed_bytes, &*decompressed);
      if (absl::IsResourceExhausted(status)) {
        status = absl::ResourceExhaustedError(
            absl::StrCat(status.message(), " (--max_decompressed_bytes)"));
      }
      if (!status.ok()) return reject("encoding", status);
    }
    if (*encoding != ContentEncoding::kIdentity) body = *decompressed;
    decoded_bytes_.Add(body.size());
    // Either decoder writes the families' wire form straight after the rest of the request,
    // so no message is built for them (nor serialized again).
    size_t series = 0;
    const absl::string_view content_type = request.Header("Content-Type");
    absl::Status parsed =
        IsDelimitedProtobuf(content_type)
            ? DecodeProtobufPushToWire(body, options_.limits, &serialized, &series)
        // OpenMetrics writes timestamps in seconds. Its pushes are rare enough to go without
        // the shape cache, whose shapes are of bodies in the Prometheus text format.
        : IsOpenMetricsText(content_type)
            ? ParseTextToWire(body, options_.limits, &serialized, &series, TimestampUnit::kSeconds)
            : text_shapes_.ParseToWire(key_path, body, &serialized, &series);
    if (!parsed.ok()) return reject("body", parsed);
    series_received_.Add(series);
  }
  client_->PushSerialized(std::move(serialized), AckHandler(method, start, std::move(respond)));
}

IngestClient::Done PushHandler::AckHandler(const std::string& method, Clock::time_point start,
                                           HttpResponder respond) {
  const int success_status = method == "DELETE" ? 202 : 200;
  return [this, method, start, success_status, respond = std::move(respond)](const PushAck& ack) {
    push_duration_.Observe(SecondsSince(start));
    switch (ack.code()) {
      case PushAck::OK:
        return Finish(kPushRoute, method, Text(success_status, ""), respond);
      case PushAck::INVALID:
        return Finish(kPushRoute, method, HttpResponse::Error(400, ack.message()), respond);
      default: {
        HttpResponse response = HttpResponse::Error(
            503, absl::StrCat("push not accepted, retry later: ", ack.message()));
        response.headers.emplace_back("Retry-After", absl::StrCat(options_.retry_after_seconds));
        return Finish(kPushRoute, method, std::move(response), respond);
      }
    }
  };
}

}  // namespace pushgate
