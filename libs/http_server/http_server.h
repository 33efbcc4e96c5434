// An HTTP/1.1 server for pushgate's HTTP endpoints, built on Boost.Beast.
//
// It serves keep-alive connections on a pool of worker threads and hands every complete
// request to one asynchronous handler. The handler answers through a `Responder` that may be
// called later from any thread, so a handler can wait for another service (the front waits
// for the aggregator's acknowledgement) without holding a worker thread.
//
// Limits are enforced before the handler runs: a body larger than `max_body_bytes` is
// answered 413 without being read, one that would take the bodies being received past
// `max_receiving_bytes` 503, malformed requests get 400, and `Expect: 100-continue` is
// answered so that clients such as curl do not stall before sending a body. At most
// `max_connections` connections are open at once.
#ifndef PUSHGATE_LIBS_HTTP_SERVER_HTTP_SERVER_H_
#define PUSHGATE_LIBS_HTTP_SERVER_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pushgate {

struct HttpRequest {
  std::string method;  // as sent, e.g. "PUT"
  std::string target;  // path and query, still percent-encoded (from an absolute form too)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of the first header named `name` (case-insensitive), or "" if absent.
  absl::string_view Header(absl::string_view name) const;
  // `target` without the query string.
  absl::string_view Path() const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;

  // A one-line plain-text error response; a newline is appended to `message`.
  static HttpResponse Error(int status, absl::string_view message);
};

// Called exactly once per request, from any thread.
using HttpResponder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest, HttpResponder)>;

struct HttpServerOptions {
  std::string listen = "0.0.0.0:9091";  // host:port; port 0 picks a free port
  int threads = 2;
  size_t max_body_bytes = 16 << 20;
  size_t max_header_bytes = 64 << 10;
  // A connection with no complete request for this long is closed.
  absl::Duration idle_timeout = absl::Seconds(120);
  // Bytes of request bodies received and held until they are whole, summed over all
  // connections; 0 = no limit. Without it, clients uploading large bodies at the same time
  // have all of them held at once (48 bodies of 16 MB took a front to 769 MiB). A body is
  // counted as its bytes arrive (a header alone holds nothing) and answered 503 with
  // Retry-After once the next bytes would take the sum over the limit; one announced by
  // Content-Length larger than the room left is refused so before its client sends it. The
  // body read while no other is being read always fits, so that a body of up to
  // max_body_bytes can get through. What is still sent of a refused body is read and dropped.
  size_t max_receiving_bytes = 0;
  // Connections open at once; 0 = no limit. At the limit the server accepts no more (new
  // clients wait in the listen queue, as behind HAProxy's maxconn or Go's LimitListener), and
  // for each client waiting it closes a connection that has waited kIdleReclaimAge or longer
  // for a request's header (a keep-alive connection idle between requests, a client that
  // connected and sent nothing, or one whose header has not all arrived: as nginx reuses such
  // connections when it runs out) or whose body has not moved for kStalledBodyAge, those
  // accepted first first on each worker thread. A request being handled or answered, and a
  // body that keeps arriving, are never cut off. It bounds the memory and descriptors
  // connections take, which no other limit does: each holds a read buffer, a partly sent
  // header up to max_header_bytes.
  size_t max_connections = 0;
  // Called with the status of each answer the server makes itself, before any handler sees
  // the request (413 over max_body_bytes, 431, 400 for a malformed request), so that they can
  // be counted with the handler's: with the request's method and target once its request
  // line was read (a body or header over its limit), both empty before (a malformed request
  // line). From
  // the thread reading the request: a connection's thread, or the one whose answer to the
  // request before it started that read.
  std::function<void(int status, absl::string_view method, absl::string_view target)> on_refused;
  // For a request that announced its body with `Expect: 100-continue`: asked with its method
  // and target (origin form) before the server invites the body. An answer given here is sent
  // instead, the body is never read and the connection closes; so a client pushing megabytes
  // to a wrong path learns it before uploading them. nullopt (or no function): the body is
  // read and the handler called as usual. From the thread reading the request (as for
  // on_refused); its answers are reported to on_refused too.
  std::function<std::optional<HttpResponse>(absl::string_view method, absl::string_view target)>
      answer_before_body;
};

class HttpServer {
 public:
  // How long a connection must have waited for a request's header before it may be closed to
  // make room under max_connections: a client that just connected, or just got its answer and
  // is sending its next request on the same connection, is not cut off. (A keep-alive client
  // that starts its next request just as its connection is closed sees the close, as it
  // would at any server's idle timeout.)
  static constexpr absl::Duration kIdleReclaimAge = absl::Seconds(1);
  // How long a body being read must have received nothing before its connection may be closed
  // to make room: longer than the stalls TCP recovers from (retransmission timeouts double
  // from 0.2 s), so that only a client that stopped sending loses its request.
  static constexpr absl::Duration kStalledBodyAge = absl::Seconds(5);

  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // Stops the server.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the worker threads. Fails if the address cannot be bound.
  absl::Status Start();
  // The bound port (useful with port 0). Valid after Start().
  int port() const;
  // Bytes of request bodies counted against max_receiving_bytes now (0 without a limit).
  size_t receiving_bytes() const;
  // Requests answered 503 because their body did not fit under max_receiving_bytes.
  uint64_t refused_for_room() const;
  // Connections open now.
  size_t open_connections() const;
  // Times the server reached max_connections and stopped accepting until one closed.
  uint64_t connection_limit_reached() const;
  // Connections closed to make room for waiting clients (see max_connections).
  uint64_t connections_closed_for_room() const;
  // Stops accepting, closes connections and joins the workers. Idempotent.
  void Stop();
  // A graceful Stop(): stops accepting, lets requests already being handled get their
  // answers (with `Connection: close`) for up to `drain_timeout`, then Stop().
  void Shutdown(absl::Duration drain_timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" ("[::1]:80" for IPv6). InvalidArgument if malformed.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(absl::string_view address);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_HTTP_SERVER_HTTP_SERVER_H_
