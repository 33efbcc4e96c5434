// pushgate-front: accepts Pushgateway pushes over HTTP and streams them to the aggregator.
// Wiring only: flags -> PushHandler (libs/push_handler) on an HttpServer, with an
// IngestClient to the aggregator.
#include <cstdint>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "libs/build_info/build_info.h"
#include "libs/grouping_key/grouping_key.h"
#include "libs/http_server/http_server.h"
#include "libs/ingest_client/ingest_client.h"
#include "libs/push_handler/push_handler.h"
#include "libs/self_metrics/self_metrics.h"
#include "libs/service_util/service_util.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:9091", "HTTP address to serve pushes on (host:port).");
ABSL_FLAG(std::string, aggregator, "127.0.0.1:9092", "gRPC address of the aggregator.");
ABSL_FLAG(std::string, route_prefix, "",
          "Prefix of every route, e.g. /pushgateway (env ENV_INPUT_PUSHGATEWAY_ROUTE_PREFIX).");
ABSL_FLAG(int, threads, 2, "HTTP worker threads.");
ABSL_FLAG(int64_t, max_body_bytes, 16 << 20, "Largest request body accepted, as sent (413).");
ABSL_FLAG(int64_t, max_receiving_bytes, 128 << 20,
          "Bytes of request bodies received and held until they are whole, over all "
          "connections: a body is counted as it arrives and gets 503 with Retry-After once it "
          "would go beyond it (before it is sent, when its Content-Length already does); a body "
          "always fits while no other is being received. Bounds the memory of many large "
          "uploads at once; 0 = no limit.");
ABSL_FLAG(int64_t, max_connections, 2048,
          "Client connections open at once. At the limit new clients wait in the listen queue, "
          "and for each one waiting a connection is closed that has waited a second or more "
          "for a request's header (idle keep-alive, silent, or stalled in its header) or whose "
          "body has received nothing for 5 s, the oldest first. Bounds the memory and file "
          "descriptors connections take (a partly sent header holds up to 64 KiB); lowered to "
          "fit the open-file limit; 0 = no limit.");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(120),
          "A connection with no whole request for this long is closed: keep-alive connections "
          "idle between requests, and clients that take longer to send a request (header and "
          "body) than this, however slowly they trickle it.");
ABSL_FLAG(int64_t, max_decompressed_bytes, 64 << 20,
          "Largest push body accepted after decompression, or as sent when not compressed "
          "(413).");
ABSL_FLAG(int64_t, max_series_per_push, 100000, "Most series in one push (400); 0 = no limit.");
ABSL_FLAG(int64_t, max_labels_per_series, 64, "Most labels on one series (400); 0 = no limit.");
ABSL_FLAG(int64_t, max_label_name_length, 1024, "Longest label name (400); 0 = no limit.");
ABSL_FLAG(int64_t, max_label_value_length, 16384, "Longest label value (400); 0 = no limit.");
ABSL_FLAG(int64_t, max_samples_per_push, 1000000,
          "Most samples in one push (400): each text sample line; in protobuf each value, a "
          "summary's quantiles or a histogram's buckets plus its sum and count, each native-"
          "histogram span, delta and count, each exemplar and exemplar label, and each field "
          "protobuf does not know. Bounds the memory a push takes to decode; 0 = no limit.");
ABSL_FLAG(int64_t, max_inflight_pushes, 1024,
          "Pushes waiting for the aggregator's acknowledgement; beyond it pushes get 503.");
ABSL_FLAG(int64_t, max_inflight_bytes, int64_t{256} << 20,
          "Bytes of decoded pushes waiting for the aggregator's acknowledgement; a push that "
          "would go beyond it gets 503 (unless it is the only one). 0 = no limit.");
ABSL_FLAG(absl::Duration, ack_timeout, absl::Seconds(10),
          "How long a push may wait for the aggregator's acknowledgement before 503 (under the "
          "30 s timeout of Python's prometheus_client, so that its pushes see the 503 rather "
          "than their own timeout); the stream to the aggregator is then opened again.");
ABSL_FLAG(absl::Duration, batch_linger, absl::Milliseconds(2),
          "While the aggregator has not yet acknowledged the previous batch, how long new pushes "
          "may wait to be sent with the next one (larger batches, fewer disk commits; checked "
          "every 10 ms); 0 = send at once.");
ABSL_FLAG(int64_t, text_shape_cache_bytes, 16 << 20,
          "Memory for the shapes of recurring text pushes: a push whose text is its group's last "
          "one but for the values is not parsed again (about 15 KiB per distinct text of the "
          "benchmark's 7 KB body, shared by the groups that push it, and 100 bytes per group); "
          "0 = parse every push.");
ABSL_FLAG(int64_t, large_push_bytes, 64 << 10,
          "Pushes with a body at least this large (a compressed body counting 16 times its "
          "size) are decompressed and decoded on --decode_threads, not on the HTTP thread that "
          "read them, whose other connections would wait meanwhile; 0 = decode every push on its "
          "HTTP thread.");
ABSL_FLAG(int, decode_threads, 1, "Threads that decode large pushes (--large_push_bytes).");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "On SIGTERM, how long pushes already received may take to be answered.");

namespace {

// Far above what two to a few dozen cores use; a typo beyond it would fail to create threads.
constexpr int64_t kMaxThreads = 256;

// The numeric flags' ranges: the first one out of range, if any.
absl::Status CheckNumericFlags() {
  using pushgate::CheckDurationFlag;
  using pushgate::CheckFlagInRange;
  using pushgate::FirstError;
  return FirstError({
      CheckFlagInRange("threads", absl::GetFlag(FLAGS_threads), 1, kMaxThreads),
      CheckFlagInRange("max_body_bytes", absl::GetFlag(FLAGS_max_body_bytes), 1),
      CheckFlagInRange("max_receiving_bytes", absl::GetFlag(FLAGS_max_receiving_bytes), 0),
      CheckFlagInRange("max_connections", absl::GetFlag(FLAGS_max_connections), 0),
      CheckFlagInRange("max_decompressed_bytes", absl::GetFlag(FLAGS_max_decompressed_bytes), 1),
      CheckFlagInRange("max_series_per_push", absl::GetFlag(FLAGS_max_series_per_push), 0),
      CheckFlagInRange("max_labels_per_series", absl::GetFlag(FLAGS_max_labels_per_series), 0),
      CheckFlagInRange("max_label_name_length", absl::GetFlag(FLAGS_max_label_name_length), 0),
      CheckFlagInRange("max_label_value_length", absl::GetFlag(FLAGS_max_label_value_length), 0),
      CheckFlagInRange("max_samples_per_push", absl::GetFlag(FLAGS_max_samples_per_push), 0),
      CheckFlagInRange("max_inflight_pushes", absl::GetFlag(FLAGS_max_inflight_pushes), 1),
      CheckFlagInRange("max_inflight_bytes", absl::GetFlag(FLAGS_max_inflight_bytes), 0),
      CheckFlagInRange("text_shape_cache_bytes", absl::GetFlag(FLAGS_text_shape_cache_bytes), 0),
      CheckFlagInRange("large_push_bytes", absl::GetFlag(FLAGS_large_push_bytes), 0),
      CheckFlagInRange("decode_threads", absl::GetFlag(FLAGS_decode_threads), 1, kMaxThreads),
      // A push waits that long for its answer; clients give up far sooner.
      CheckDurationFlag("ack_timeout", absl::GetFlag(FLAGS_ack_timeout), false, absl::Hours(1)),
      CheckDurationFlag("batch_linger", absl::GetFlag(FLAGS_batch_linger), true),
      CheckDurationFlag("drain_timeout", absl::GetFlag(FLAGS_drain_timeout), true),
      CheckDurationFlag("idle_timeout", absl::GetFlag(FLAGS_idle_timeout), false, absl::Hours(24)),
  });
}

// --aggregator is a gRPC target: host:port, or a URI gRPC resolves (dns:///..., unix:...).
// Without a port gRPC would dial 443, and without a host nothing; both only showed as 503s.
absl::Status CheckAggregatorTarget(absl::string_view target) {
  if (target.empty()) {
    return absl::InvalidArgumentError("--aggregator is empty: give the aggregator's host:port");
  }
  // The name resolvers Debian's gRPC has.
  for (absl::string_view scheme : {"dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "xds:",
                                   "google-c2p:", "vsock:", "passthrough:"}) {
    if (absl::StartsWithIgnoreCase(target, scheme)) return absl::OkStatus();
  }
  absl::StatusOr<std::pair<std::string, int>> host_port = pushgate::SplitHostPort(target);
  if (!host_port.ok() || host_port->first.empty() || host_port->second == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--aggregator=", target, " is not host:port (or a gRPC target such as dns:///host:port)"));
  }
  return absl::OkStatus();
}

// The prefix is matched against the request's decoded path, so it is given as a path is
// written in a URL (`/a%20b` for a space) and decoded here; a control byte, '?' or '#' could
// not come from a request path, so every push would get 404.
absl::StatusOr<std::string> DecodedRoutePrefix(absl::string_view prefix) {
  const auto refuse = [prefix](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("route prefix \"", prefix,
                     "\" (--route_prefix or ENV_INPUT_PUSHGATEWAY_ROUTE_PREFIX) ", why));
  };
  for (const char c : prefix) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '?' || c == '#') {
      return refuse("holds a byte no request path can (a control byte, '?' or '#')");
    }
  }
  absl::StatusOr<std::string> decoded = pushgate::PercentDecodePath(prefix);
  if (!decoded.ok()) return refuse(decoded.status().message());
  return pushgate::NormalizeRoutePrefix(*decoded);
}

// --max_connections as it can be kept: each connection takes a file descriptor, and running
// out of them would stall accepting without the idle connections being closed for the clients
// waiting (and could starve the front's other descriptors: its stream to the aggregator).
// `kReserved` descriptors are left for those. 0 (no limit) stays 0.
size_t EffectiveMaxConnections(int64_t wanted) {
  constexpr uint64_t kReserved = 64;
  const uint64_t open_files = pushgate::RaiseOpenFileLimit();
  if (wanted == 0 || open_files == 0) return static_cast<size_t>(wanted);
  const uint64_t fits = open_files > 2 * kReserved ? open_files - kReserved : open_files / 2;
  if (static_cast<uint64_t>(wanted) <= fits) return static_cast<size_t>(wanted);
  LOG(WARNING) << "--max_connections=" << wanted << " lowered to " << fits
               << ": the open-file limit is " << open_files << " (ulimit -n), and " << kReserved
               << " descriptors are kept for the front's own use";
  return static_cast<size_t>(fits);
}

}  // namespace

int main(int argc, char** argv) {
  pushgate::InitService(argc, argv, "pushgate-front: Pushgateway-compatible push endpoint");
  const absl::StatusOr<std::string> route_prefix = DecodedRoutePrefix(
      pushgate::StringFlagOrEnv("route_prefix", "ENV_INPUT_PUSHGATEWAY_ROUTE_PREFIX"));
  const absl::Status in_range = pushgate::FirstError(
      {CheckNumericFlags(), CheckAggregatorTarget(absl::GetFlag(FLAGS_aggregator)),
       route_prefix.status()});
  if (!in_range.ok()) {
    LOG(ERROR) << in_range.message();
    return 2;
  }

  pushgate::IngestClientOptions client_options;
  client_options.target = absl::GetFlag(FLAGS_aggregator);
  client_options.max_inflight = absl::GetFlag(FLAGS_max_inflight_pushes);
  client_options.max_inflight_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_inflight_bytes));
  client_options.ack_timeout = absl::GetFlag(FLAGS_ack_timeout);
  client_options.max_linger = absl::GetFlag(FLAGS_batch_linger);
  pushgate::IngestClient client(client_options);
  client.Start();

  pushgate::PushHandlerOptions handler_options;
  handler_options.route_prefix = *route_prefix;
  handler_options.max_decompressed_bytes = absl::GetFlag(FLAGS_max_decompressed_bytes);
  handler_options.limits.max_series = absl::GetFlag(FLAGS_max_series_per_push);
  handler_options.limits.max_labels_per_series = absl::GetFlag(FLAGS_max_labels_per_series);
  handler_options.limits.max_label_name_length = absl::GetFlag(FLAGS_max_label_name_length);
  handler_options.limits.max_label_value_length = absl::GetFlag(FLAGS_max_label_value_length);
  handler_options.limits.max_samples = absl::GetFlag(FLAGS_max_samples_per_push);
  handler_options.text_shape_cache_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_text_shape_cache_bytes));
  handler_options.large_push_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_large_push_bytes));
  handler_options.decode_threads = absl::GetFlag(FLAGS_decode_threads);
  handler_options.max_decode_wait = absl::GetFlag(FLAGS_ack_timeout);
  pushgate::MetricsRegistry registry;
  pushgate::RegisterProcessMetrics(&registry);
  pushgate::RegisterBuildInfoMetric("pushgate_front_build_info", &registry);
  pushgate::PushHandler handler(handler_options, &client, &registry);

  pushgate::HttpServerOptions server_options;
  server_options.listen = absl::GetFlag(FLAGS_listen);
  server_options.threads = absl::GetFlag(FLAGS_threads);
  server_options.max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes);
  server_options.max_receiving_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_receiving_bytes));
  server_options.max_connections = EffectiveMaxConnections(absl::GetFlag(FLAGS_max_connections));
  server_options.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  server_options.on_refused = [&handler](int status, absl::string_view method,
                                         absl::string_view target) {
    handler.CountRefusedByServer(status, method, target);
  };
  server_options.answer_before_body = [&handler](absl::string_view method,
                                                 absl::string_view target) {
    return handler.AnswerBeforeBody(method, target);
  };
  pushgate::HttpServer server(
      server_options, [&handler](pushgate::HttpRequest request, pushgate::HttpResponder respond) {
        handler.Handle(std::move(request), std::move(respond));
      });
  registry.CallbackGauge("pushgate_front_receiving_bytes",
                         "Bytes of request bodies received and not yet whole, as counted against "
                         "--max_receiving_bytes.",
                         [&server] { return static_cast<double>(server.receiving_bytes()); });
  registry.CallbackCounter(
      "pushgate_front_receiving_refused_total",
      "Requests answered 503 because their body did not fit under --max_receiving_bytes.",
      [&server] { return static_cast<double>(server.refused_for_room()); });
  registry.CallbackGauge("pushgate_front_connections", "Client connections open.",
                         [&server] { return static_cast<double>(server.open_connections()); });
  registry.CallbackGauge(
      "pushgate_front_max_connections",
      "The limit on client connections open at once (--max_connections, as lowered to fit the "
      "open-file limit); 0 = none.",
      [limit = server_options.max_connections] { return static_cast<double>(limit); });
  registry.CallbackCounter(
      "pushgate_front_connection_limit_reached_total",
      "Times the front reached --max_connections and stopped accepting until a connection "
      "closed.",
      [&server] { return static_cast<double>(server.connection_limit_reached()); });
  registry.CallbackCounter(
      "pushgate_front_connections_closed_for_room_total",
      "Connections closed to make room for clients waiting at --max_connections: each had "
      "waited a second or more for a request's header (idle keep-alive, silent, or stalled), "
      "or its body had received nothing for 5 s.",
      [&server] { return static_cast<double>(server.connections_closed_for_room()); });
  absl::Status started = server.Start();
  if (!started.ok()) {
    LOG(ERROR) << started;
    return 1;
  }
  LOG(INFO) << "pushgate-front listening on " << server_options.listen << " (port " << server.port()
            << "), route prefix \"" << handler_options.route_prefix << "\", aggregator "
            << client_options.target;

  const std::string signal = pushgate::WaitForTerminationSignal();
  LOG(INFO) << "received " << signal << ", shutting down";
  server.Shutdown(absl::GetFlag(FLAGS_drain_timeout));
  // Large pushes still waiting to be decoded are answered while the server's connections
  // still exist (they are gone with `server`, declared after the handler).
  handler.StopDecoding();
  client.Stop();
  return 0;
}
