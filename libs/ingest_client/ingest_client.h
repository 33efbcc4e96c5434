// The producer side of pushgate's ingest API: one long-lived gRPC stream to the aggregator
// over which pushes are sent and acknowledged.
//
// Every call to Push() ends in exactly one callback. It carries the aggregator's PushAck, or an
// UNAVAILABLE ack made here when the push could not be handed over (not connected, too many
// pushes in flight, stream broken before the ack, no ack within `ack_timeout`, after which the
// stream is cancelled and opened again: what it still held fails too). A caller
// therefore answers its own client "accepted" only for an OK ack, which the aggregator sends
// once the push is durable.
#ifndef PUSHGATE_LIBS_INGEST_CLIENT_INGEST_CLIENT_H_
#define PUSHGATE_LIBS_INGEST_CLIENT_INGEST_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "proto/ingest.pb.h"

namespace pushgate {

// The largest push the client sends: the aggregator (libs/ingest_server) takes messages of up
// to 256 MiB, and a batch of one push adds a few bytes of framing.
inline constexpr size_t kMaxPushBytes = (256 << 20) - 1024;

struct IngestClientOptions {
  std::string target = "127.0.0.1:9092";  // gRPC target of the aggregator
  absl::Duration ack_timeout = absl::Seconds(10);
  // Pushes sent but not yet acknowledged; more are refused at once (back-pressure).
  size_t max_inflight = 1024;
  // The same in bytes (decoded pushes), which the count alone does not bound: 1,024 pushes of
  // 64 MiB each would be 64 GiB. A push that would go over it is refused, unless none is in
  // flight. 0 means no limit.
  size_t max_inflight_bytes = size_t{256} << 20;
  // Longest wait between attempts to reach the aggregator, gRPC's own included.
  absl::Duration max_reconnect_backoff = absl::Seconds(2);
  // A connection idle for this long is pinged, and closed if no answer comes within the
  // timeout. The aggregator (libs/ingest_server) accepts pings every second at most.
  absl::Duration keepalive_interval = absl::Seconds(10);
  absl::Duration keepalive_timeout = absl::Seconds(5);
  // While the previous batch is still unacknowledged, new pushes wait up to this long to
  // join the next batch. The aggregator acknowledges a batch once it is on disk, and pushes
  // arriving meanwhile would wait for its next disk commit anyway, so under load this makes
  // batches (and disk commits) larger at little cost in latency. Checked every 10 ms; zero
  // sends at once.
  absl::Duration max_linger = absl::Milliseconds(2);
};

struct IngestClientStats {
  bool connected = false;
  size_t inflight = 0;
  uint64_t stream_starts = 0;
  uint64_t stream_failures = 0;
  // Stream messages written and the pushes they carried: pushes_sent / batches_sent is the
  // mean batch size.
  uint64_t batches_sent = 0;
  uint64_t pushes_sent = 0;
  // Pushes answered UNAVAILABLE here, by why: no stream open; the push limit or the byte limit
  // in flight; no ack within ack_timeout; the stream broke (or the client stopped) first.
  uint64_t refused_not_connected = 0;
  uint64_t refused_inflight_pushes = 0;
  uint64_t refused_inflight_bytes = 0;
  uint64_t ack_timeouts = 0;
  uint64_t failed_stream_broke = 0;
};

class IngestClient {
 public:
  using Done = std::function<void(const pushgate::v1::PushAck&)>;

  explicit IngestClient(IngestClientOptions options);
  ~IngestClient();  // Stops; pending pushes get UNAVAILABLE.
  IngestClient(const IngestClient&) = delete;
  IngestClient& operator=(const IngestClient&) = delete;

  // Starts connecting in the background; returns at once.
  void Start();
  void Stop();

  // Sends a push in wire form, a serialized PushRequest (e.g. assembled from pieces a decoder
  // wrote directly), and calls `done` exactly once, possibly before PushSerialized returns and
  // possibly from another thread. The client assigns the sequence number by appending the
  // field, which a parser takes over any sequence already in `serialized`. A push over
  // kMaxPushBytes gets an INVALID ack at once.
  void PushSerialized(std::string serialized, Done done);
  // The same for a push as a message.
  void Push(const pushgate::v1::PushRequest& request, Done done);

  // True while a stream to the aggregator is open.
  bool connected() const;
  IngestClientStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_INGEST_CLIENT_INGEST_CLIENT_H_
