#include "libs/http_server/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "glog/logging.h"
#include "libs/thread_name/thread_name.h"

namespace pushgate {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d));
}

// The current time as the Date header writes it (RFC 9110, 5.6.7), formatted once a second
// per thread.
const std::string& HttpDate() {
  thread_local int64_t second = -1;
  thread_local std::string text;
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  if (now != second) {
    second = now;
    text = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::FromUnixSeconds(now),
                            absl::UTCTimeZone());
  }
  return text;
}

// The whole response in HTTP/1.x wire form. 1xx, 204 and 304 responses carry no body and no
// Content-Length (RFC 9110, 8.6). The answer to a HEAD request has the headers a GET would get,
// Content-Length included, but no body: a client reads none, and would take body bytes for
// the start of its next response.
std::string SerializeResponse(const HttpResponse& response, unsigned version, bool keep_alive,
                              bool head) {
  const int status = response.status;
  const bool bodiless = status < 200 || status == 204 || status == 304;
  const beast::string_view reason = http::obsolete_reason(static_cast<http::status>(status));
  std::string wire = absl::StrCat("HTTP/", version / 10, ".", version % 10, " ", status, " ",
                                  absl::string_view(reason.data(), reason.size()),
                                  "\r\nServer: pushgate\r\nDate: ", HttpDate(), "\r\n");
  if (!bodiless) absl::StrAppend(&wire, "Content-Type: ", response.content_type, "\r\n");
  for (const auto& [name, value] : response.headers) {
    absl::StrAppend(&wire, name, ": ", value, "\r\n");
  }
  if (!bodiless) absl::StrAppend(&wire, "Content-Length: ", response.body.size(), "\r\n");
  // HTTP/1.1 keeps connections open unless told otherwise; HTTP/1.0 closes them unless told.
  if (!keep_alive && version >= 11) absl::StrAppend(&wire, "Connection: close\r\n");
  if (keep_alive && version < 11) absl::StrAppend(&wire, "Connection: keep-alive\r\n");
  absl::StrAppend(&wire, "\r\n");
  if (!bodiless && !head) absl::StrAppend(&wire, response.body);
  return wire;
}

// Whether the request's Transfer-Encoding is exactly `chunked` (any case, blanks around it).
bool IsChunkedOnly(const http::request_header<>& req) {
  if (req.count(http::field::transfer_encoding) != 1) return false;
  const beast::string_view value = req[http::field::transfer_encoding];
  return absl::EqualsIgnoreCase(
      absl::StripAsciiWhitespace(absl::string_view(value.data(), value.size())), "chunked");
}

// The origin form (path and query) of a request target. Servers must accept the absolute form
// too (RFC 9112, 3.2.2), which proxies send: `http://host:port/path?query`.
std::string OriginForm(absl::string_view target) {
  if (!absl::StartsWithIgnoreCase(target, "http://") &&
      !absl::StartsWithIgnoreCase(target, "https://")) {
    return std::string(target);
  }
  const size_t authority = target.find("//") + 2;
  const size_t path = target.find_first_of("/?", authority);
  if (path == absl::string_view::npos) return "/";
  if (target[path] == '?') return absl::StrCat("/", target.substr(path));
  return std::string(target.substr(path));
}

class IdleSweeper;

// The room one connection's request body takes under HttpServerOptions::max_receiving_bytes:
// what it has counted in the server's total of bodies being received.
class BodyRoom {
 public:
  // `receiving`: the server's total; `limit`: max_receiving_bytes (0: none, nothing counted).
  BodyRoom(std::atomic<size_t>* receiving, size_t limit) : receiving_(receiving), limit_(limit) {}
  ~BodyRoom() { Release(); }
  BodyRoom(const BodyRoom&) = delete;
  BodyRoom& operator=(const BodyRoom&) = delete;

  // Whether `bytes` more would fit now beside the other bodies being received.
  bool HasRoomFor(size_t bytes) const { return bytes == 0 || Fits(others(), bytes); }

  // Counts `bytes` more, which have arrived; false, counting nothing, when they do not fit.
  bool Count(size_t bytes) {
    if (limit_ == 0 || bytes == 0) return true;
    size_t total = receiving_->load(std::memory_order_relaxed);
    do {
      if (!Fits(total - counted_, bytes)) return false;
    } while (!receiving_->compare_exchange_weak(total, total + bytes, std::memory_order_relaxed));
    counted_ += bytes;
    return true;
  }

  // Takes the body out of the total: it was handed over, or refused.
  void Release() {
    if (counted_ == 0) return;
    receiving_->fetch_sub(counted_, std::memory_order_relaxed);
    counted_ = 0;
  }

  // Bytes of the other bodies being received.
  size_t others() const { return receiving_->load(std::memory_order_relaxed) - counted_; }
  size_t limit() const { return limit_; }

 private:
  // The body received while no other is always fits, so that one of up to max_body_bytes can
  // get through.
  bool Fits(size_t others, size_t bytes) const {
    if (limit_ == 0 || others == 0) return true;
    return others <= limit_ && counted_ + bytes <= limit_ - others;
  }

  std::atomic<size_t>* const receiving_;
  const size_t limit_;
  size_t counted_ = 0;
};

// Sets a connection's mark of when it may be closed for room (Connection::reclaimable_at_)
// to `age` from now.
void MarkReclaimableAfter(absl::Duration age, std::atomic<std::chrono::steady_clock::rep>* mark) {
  mark->store((std::chrono::steady_clock::now() + ToChrono(age)).time_since_epoch().count(),
              std::memory_order_relaxed);
}

// A request body read into a string, each part counted in the body's BodyRoom before it is
// taken: the read stops with asio::error::no_buffer_space at the first part that does not fit.
// (Counting in the body, not around the reads, leaves Beast's reads whole: one parse of all
// that a read brought, chunk framing included.)
struct CountedBody {
  struct value_type {
    std::string data;
    BodyRoom* room = nullptr;
    size_t refused_part = 0;  // the part that did not fit
    // The connection's mark of when it may be closed for room, moved on as body bytes arrive
    // (see Connection::reclaimable_at_).
    std::atomic<std::chrono::steady_clock::rep>* reclaimable_at = nullptr;
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      // Address space only: pages are touched as the bytes arrive, and counted then.
      if (length.has_value() && *length <= body_.data.max_size()) {
        body_.data.reserve(static_cast<size_t>(*length));
      }
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      const size_t extra = beast::buffer_bytes(buffers);
      if (body_.room != nullptr && !body_.room->Count(extra)) {
        body_.refused_part = extra;
        ec = asio::error::no_buffer_space;
        return 0;
      }
      if (body_.reclaimable_at != nullptr) {
        MarkReclaimableAfter(HttpServer::kStalledBodyAge, body_.reclaimable_at);
      }
      const size_t size = body_.data.size();
      body_.data.resize(size + extra);
      beast::net::buffer_copy(beast::net::buffer(&body_.data[size], extra), buffers);
      ec = {};
      return extra;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// One client connection. Requests on a connection are answered in order: the next request
// is read only after the previous response was written, as HTTP/1.1 without pipelining
// expects. Socket work runs on the thread of the connection's io_context, except that the
// handler's answer is sent from the thread that gives it (see Answer).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Requests being handled or answered, and whether the server is draining (then every
  // response closes its connection); both owned by the server.
  struct Shared {
    std::atomic<int> inflight{0};
    std::atomic<bool> draining{false};
    // Bytes of request bodies being read, as counted against max_receiving_bytes.
    std::atomic<size_t> receiving{0};
    // Requests answered 503 for want of room under max_receiving_bytes.
    std::atomic<uint64_t> refused_for_room{0};
    // Connections open (counted as accepted, until destroyed), and what to call when one
    // closes with the count at max_connections: the acceptor may go on.
    std::atomic<size_t> open{0};
    size_t max_open = 0;
    std::function<void()> on_room;
    // Connections closed to make room and not yet gone (their places not yet free).
    std::atomic<size_t> closing_for_room{0};
  };

  Connection(tcp::socket socket, const HttpServerOptions& options, const HttpHandler& handler,
             Shared* shared)
      : socket_(std::move(socket)),
        buffer_(BufferLimit(options)),
        room_(&shared->receiving, options.max_receiving_bytes),
        options_(options),
        handler_(handler),
        shared_(shared) {}

  ~Connection() {
    // The place is free before the close stops counting as coming, so that the acceptor,
    // between the two, sees room rather than closes it should add.
    const size_t open = shared_->open.fetch_sub(1, std::memory_order_relaxed);
    if (closed_for_room_) shared_->closing_for_room.fetch_sub(1, std::memory_order_relaxed);
    if (open == shared_->max_open && shared_->on_room) shared_->on_room();
  }

  // `idle` is the sweeper of the connection's io_context, which then owns a weak reference.
  void Start(IdleSweeper* idle);

  // Closes the connection if it has been waiting on its client (for a whole request, or for
  // its response to be taken) past its deadline. Runs on the connection's thread.
  void CloseIfOverdue(std::chrono::steady_clock::time_point now) {
    if (now.time_since_epoch().count() >= deadline_.load(std::memory_order_relaxed)) Close();
  }

  // Closes the connection to make room for a waiting client (already counted in
  // Shared::closing_for_room) if it may be closed for room by `now` (see reclaimable_at_);
  // returns whether it did. Runs on the connection's thread. Its only operation is then a
  // read: the mark is set just before that read is started and is never less than a second
  // ahead, so the start of the read is long over.
  bool CloseIfReclaimable(std::chrono::steady_clock::time_point now) {
    if (reclaimable_at_.load(std::memory_order_relaxed) > now.time_since_epoch().count()) {
      return false;
    }
    // Bytes that arrived but are not read yet (the thread was busy): the client is sending,
    // its request or body is on its way rather than stalled.
    beast::error_code ec;
    if (socket_.available(ec) > 0 && !ec) return false;
    reclaimable_at_.store(kNever, std::memory_order_relaxed);
    closed_for_room_ = true;
    Close();
    return true;
  }

 private:
  void ReadHeader() {
    head_ = false;
    // A body over 16 KiB grows the buffer to up to 64 KiB more (see ReadBody). Between requests
    // that is let go: thousands of keep-alive clients that each pushed one such body would
    // otherwise hold them all while idle. (A client that sends such bodies one after another
    // pays an allocation per request, small beside the body.)
    constexpr size_t kKeepBufferBytes = 16 << 10;
    if (buffer_.size() == 0 && buffer_.capacity() > kKeepBufferBytes) {
      buffer_ = beast::flat_buffer(BufferLimit(options_));
    }
    ReclaimableAfter(HttpServer::kIdleReclaimAge);
    parser_.emplace();
    parser_->get().body().room = &room_;
    parser_->get().body().reclaimable_at = &reclaimable_at_;
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    WaitForClient();
    header_scanned_ = 0;
    ReadWholeHeader();
  }

  // Beast's parser takes each complete field out of the buffer as it arrives and holds its
  // header limit only against what is left, so a header of endless short fields never reached
  // it (4,000,000 of them took a front to 450 MB and got 200). The header is read whole into
  // the buffer first, up to max_header_bytes, then parsed in one go.
  void ReadWholeHeader() {
    // Empty lines before a request line are skipped, as RFC 9112 (2.2) asks (some clients
    // end a body with an extra CRLF).
    while (header_scanned_ == 0 && buffer_.size() > 0) {
      const char* const first = static_cast<const char*>(buffer_.data().data());
      if (first[0] == '\n') {
        buffer_.consume(1);
      } else if (first[0] == '\r' && (buffer_.size() == 1 || first[1] == '\n')) {
        if (buffer_.size() == 1) break;  // the LF may be on its way
        buffer_.consume(2);
      } else {
        break;
      }
    }
    const absl::string_view buffered(static_cast<const char*>(buffer_.data().data()),
                                     buffer_.size());
    const size_t end = FindHeaderEnd(buffered, header_scanned_);
    if (end != absl::string_view::npos && end <= options_.max_header_bytes) {
      beast::error_code ec;
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      // The parser stops at the header's end; it may need more only if it disagrees with
      // FindHeaderEnd about where that is, which is a malformed header either way.
      if (!ec && !parser_->is_header_done()) ec = http::error::bad_field;
      return OnHeader(ec, used);
    }
    if (end != absl::string_view::npos || buffered.size() >= options_.max_header_bytes) {
      return OnReadError(http::error::header_limit);
    }
    // A line end may straddle this read and the next.
    header_scanned_ = buffered.size() < 2 ? 0 : buffered.size() - 2;
    constexpr size_t kReadBytes = 16 << 10;
    socket_.async_read_some(
        buffer_.prepare(std::min(kReadBytes, buffer_.max_size() - buffer_.size())),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          self->buffer_.commit(n);
          // End of stream, a reset, or the sweeper closing an idle connection: no request.
          // (A read that had already completed when the connection was closed for room
          // arrives without an error: its request is dropped, as its client saw the close.)
          if (ec || !self->socket_.is_open()) return self->Close();
          self->ReadWholeHeader();
        });
  }

  // Where the header in `buffered` ends (just past the empty line that ends it), looking for
  // that line's end from `from` on; npos if it has not all arrived. A bare LF counts as a line
  // end here, so that the parser sees such a header at once and refuses it (400).
  static size_t FindHeaderEnd(absl::string_view buffered, size_t from) {
    for (size_t i = buffered.find('\n', from); i != absl::string_view::npos;
         i = buffered.find('\n', i + 1)) {
      if (i + 1 < buffered.size() && buffered[i + 1] == '\n') return i + 2;
      if (i + 2 < buffered.size() && buffered[i + 1] == '\r' && buffered[i + 2] == '\n') {
        return i + 3;
      }
    }
    return absl::string_view::npos;
  }

  void OnHeader(beast::error_code ec, std::size_t) {
    reclaimable_at_.store(kNever, std::memory_order_relaxed);
    if (ec) return OnReadError(ec);
    auto& req = parser_->get();
    // Answers the server makes before the body is read speak the request's version.
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    // Chunked trailers join these fields as the body is read (next to a field of the same
    // name, not after the rest); they are no request headers (RFC 9110, 6.5.1), so the
    // handler gets the fields as they are now, and keep-alive is decided now.
    headers_.clear();
    headers_.reserve(static_cast<size_t>(std::distance(req.begin(), req.end())));
    for (const auto& field : req) {
      headers_.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    keep_alive_ = req.keep_alive();
    // RFC 9112, 3.2: no request names two hosts, and an HTTP/1.1 request names one. (The
    // Pushgateway's Go server answers the same.)
    if (const size_t hosts = req.count(http::field::host);
        hosts > 1 || (hosts == 0 && req.version() >= 11)) {
      return Respond(HttpResponse::Error(400, hosts == 0 ? "HTTP/1.1 request without a Host header"
                                                         : "more than one Host header"),
                     /*keep_alive=*/false);
    }
    // An HTTP/1.0 request with Transfer-Encoding has framing that cannot be trusted (RFC 9112,
    // 6.1): an HTTP/1.0 peer in front of us reads its body as Content-Length or to the close.
    if (req.version() < 11 && req.count(http::field::transfer_encoding) != 0) {
      return Respond(HttpResponse::Error(400,
                                         "Transfer-Encoding is not allowed in an HTTP/1.0 "
                                         "request: send the body with Content-Length"),
                     /*keep_alive=*/false);
    }
    // A request body is framed by Content-Length or by chunked coding alone. Beast reads a
    // request with any other transfer coding as having no body, so its body would be read as
    // the next request: refused, and the connection closed (RFC 9112, 6.1 and 6.3).
    if (req.count(http::field::transfer_encoding) != 0 && !IsChunkedOnly(req)) {
      const beast::string_view coding = req[http::field::transfer_encoding];
      return Respond(
          HttpResponse::Error(501, absl::StrCat("Transfer-Encoding \"",
                                                absl::string_view(coding.data(), coding.size()),
                                                "\" is not supported: send the body as it is or "
                                                "chunked (compress it with Content-Encoding)")),
          /*keep_alive=*/false);
    }
    const beast::string_view expect = req[http::field::expect];
    if (!expect.empty() && !beast::iequals(expect, "100-continue")) {
      return Respond(
          HttpResponse::Error(417, absl::StrCat("unsupported Expect \"",
                                                absl::string_view(expect.data(), expect.size()),
                                                "\" (only 100-continue is)")),
          /*keep_alive=*/false);
    }
    // HTTP/1.0 clients know no interim responses (RFC 9110, 15.2).
    const bool expects_continue = !expect.empty() && req.version() >= 11;
    if (expects_continue && options_.answer_before_body) {
      const beast::string_view method = req.method_string();
      const beast::string_view target = req.target();
      std::optional<HttpResponse> answer =
          options_.answer_before_body(absl::string_view(method.data(), method.size()),
                                      OriginForm(absl::string_view(target.data(), target.size())));
      if (answer.has_value()) return Respond(*std::move(answer), /*keep_alive=*/false);
    }
    // A body announced larger than the room left is refused before the client sends it. (Over
    // max_body_bytes, the parser refuses it as it starts reading it: 413.)
    if (const auto length = parser_->content_length();
        length.has_value() && *length <= options_.max_body_bytes &&
        !room_.HasRoomFor(static_cast<size_t>(*length))) {
      return RefuseBody(static_cast<size_t>(*length), /*announced=*/true);
    }
    if (expects_continue) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(socket_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  // 503 for a body that does not fit beside the others being read: `bytes` as announced, or
  // received so far.
  void RefuseBody(size_t bytes, bool announced) {
    const size_t others = room_.others();
    room_.Release();
    shared_->refused_for_room.fetch_add(1, std::memory_order_relaxed);
    HttpResponse response = HttpResponse::Error(
        503, absl::StrCat("request not accepted, retry later: its body, ", bytes,
                          announced ? " bytes" : " bytes so far", ", does not fit beside the ",
                          others, " bytes of other request bodies being received (the limit is ",
                          room_.limit(), " bytes, --max_receiving_bytes)"));
    response.headers.emplace_back("Retry-After", "1");
    Respond(std::move(response), /*keep_alive=*/false);
  }

  void ReadBody() {
    ReclaimableAfter(HttpServer::kStalledBodyAge);
    // Beast reads no more per recv than the buffer's free room (at least 512 bytes), and the
    // parser consumes what it reads, so a buffer left at its first size takes a 7 KB body in
    // 15 system calls. Room for the body (Beast reads at most 64 KiB at once) makes it one or
    // two; the buffer keeps that capacity (up to 16 KiB, see ReadHeader) for the connection's
    // next requests, which then usually arrive whole with their header.
    constexpr uint64_t kMaxReadBytes = 64 << 10;
    buffer_.reserve(buffer_.size() +
                    std::min(parser_->content_length().value_or(kMaxReadBytes), kMaxReadBytes));
    http::async_read(socket_, buffer_, *parser_,
                     beast::bind_front_handler(&Connection::OnBody, shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    reclaimable_at_.store(kNever, std::memory_order_relaxed);
    if (ec == asio::error::no_buffer_space) {
      const CountedBody::value_type& body = parser_->get().body();
      return RefuseBody(body.data.size() + body.refused_part, /*announced=*/false);
    }
    room_.Release();
    // The refusal speaks the version of the request it refuses, when its start line got read.
    const unsigned version = parser_->get().version();
    if (version == 10 || version == 11) version_ = version;
    if (ec == http::error::body_limit) {
      return Respond(HttpResponse::Error(
                         413, options_.max_body_bytes == 0
                                  ? std::string("this server takes no request bodies")
                                  : absl::StrCat("request body exceeds ", options_.max_body_bytes,
                                                 " bytes (--max_body_bytes)")),
                     /*keep_alive=*/false);
    }
    // Only chunk framing fills the read buffer: a header over its limit is header_limit.
    if (ec == http::error::buffer_overflow) {
      return Respond(HttpResponse::Error(
                         400, absl::StrCat("malformed HTTP request: a chunk size line (with its "
                                           "extensions) or a trailer section longer than ",
                                           BufferLimit(options_), " bytes")),
                     false);
    }
    if (ec == http::error::header_limit) {
      return Respond(HttpResponse::Error(431, "request headers too large"), false);
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return Close();
    }
    if (!parser_->got_some()) return Close();
    return Respond(HttpResponse::Error(400, absl::StrCat("malformed HTTP request: ", ec.message())),
                   false);
  }

  void OnBody(beast::error_code ec, std::size_t) {
    reclaimable_at_.store(kNever, std::memory_order_relaxed);
    // Closed for room after the read had completed: its client saw the close, so the request
    // must not be handled (it would be stored, and the client would send it again).
    if (!ec && !socket_.is_open()) ec = asio::error::operation_aborted;
    if (ec) return OnReadError(ec);
    http::request<CountedBody> msg = parser_->release();
    HttpRequest request;
    request.method = std::string(msg.method_string());
    request.target = OriginForm(absl::string_view(msg.target().data(), msg.target().size()));
    request.headers = std::move(headers_);
    headers_.clear();
    request.body = std::move(msg.body().data);
    // From here the body is the handler's to bound (the front's in-flight limits).
    room_.Release();
    // The handler may answer later, from any thread (see Answer). Meanwhile the client is
    // waiting on us, so no idle deadline applies.
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    shared_->inflight.fetch_add(1);
    handler_(std::move(request), [self = shared_from_this()](HttpResponse response) {
      self->Answer(std::move(response));
    });
  }

  // The handler's answer, on whatever thread the handler answered from. It is written from
  // the connection's own thread. The front answers a batch of pushes at once, from the one
  // thread that reads the aggregator's acknowledgements; sending there put every answer's
  // `send` (on loopback the sender also runs the client's side of TCP) in one queue, ahead of
  // the next batch. On the connections' threads they run in parallel: 1.4x the pushes/s in
  // alternating benchmark runs, against the thread hand-off this costs (docs/performance.md).
  // While the server shuts down it is sent from here instead (see AnswerHere).
  void Answer(HttpResponse response) {
    if (shared_->draining.load()) return AnswerHere(std::move(response));
    asio::post(socket_.get_executor(), [self = shared_from_this(), response = std::move(response)] {
      const bool keep_alive = self->keep_alive_ && !self->shared_->draining.load();
      self->Write(std::make_shared<std::string>(
                      SerializeResponse(response, self->version_, keep_alive, self->head_)),
                  keep_alive, /*answering=*/true);
    });
  }

  // An answer given while the server shuts down: once Shutdown's drain timeout has passed, the
  // connections' threads are stopped, and what is posted to them never runs, yet the front
  // still answers what is left (503) then. Until the answer is sent the connection has no
  // operation pending and its own thread does not touch it, so this thread may use the socket.
  // An answer the socket does not take whole is left to the connection's thread.
  void AnswerHere(HttpResponse response) {
    std::string wire = SerializeResponse(response, version_, /*keep_alive=*/false, head_);
    const ssize_t sent =
        ::send(socket_.native_handle(), wire.data(), wire.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent == static_cast<ssize_t>(wire.size())) {
      shared_->inflight.fetch_sub(1);
      return Close();
    }
    wire.erase(0, sent > 0 ? sent : 0);
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), rest = std::make_shared<std::string>(std::move(wire))] {
                 self->Write(rest, /*keep_alive=*/false, /*answering=*/true);
               });
  }

  // Responses the server makes itself (errors found before the handler), on the connection's
  // thread. Without keep-alive the rest of the request may still be on its way (a body over
  // the limit, say), so the connection lingers (see Linger).
  void Respond(HttpResponse response, bool keep_alive) {
    if (options_.on_refused) {
      absl::string_view method, target;
      // Set together once the request line is parsed (a body over its limit is refused while
      // the header is finished, before it counts as done).
      if (parser_.has_value() && !parser_->get().method_string().empty()) {
        const auto& request = parser_->get();
        method = absl::string_view(request.method_string().data(), request.method_string().size());
        target = absl::string_view(request.target().data(), request.target().size());
      }
      options_.on_refused(response.status, method, target);
    }
    Write(std::make_shared<std::string>(SerializeResponse(response, version_, keep_alive, head_)),
          keep_alive, /*answering=*/false);
  }

  // `answering` marks the answer to a request the handler took (counted in `inflight`).
  void Write(std::shared_ptr<std::string> wire, bool keep_alive, bool answering) {
    WaitForClient();
    asio::async_write(socket_, asio::buffer(*wire),
                      [self = shared_from_this(), wire, keep_alive, answering](beast::error_code ec,
                                                                               std::size_t) {
                        if (answering) self->shared_->inflight.fetch_sub(1);
                        if (ec) return self->Close();
                        if (!keep_alive) return answering ? self->Close() : self->Linger();
                        self->ReadHeader();
                      });
  }

  // Ends a connection whose client may still be sending the request just refused. Closing a
  // socket with unread data resets the connection, and a client still writing its body (one
  // that does not wait for `100 Continue`, like Python's urllib) would see the reset instead
  // of the answer. So the answer is ended with a FIN and what the client still sends is read
  // and dropped until it closes its side, or until kLingerTime has passed.
  void Linger() {
    static constexpr absl::Duration kLingerTime = absl::Seconds(5);
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    CloseAfter(kLingerTime);
    buffer_.clear();
    Drain();
  }

  void Drain() {
    constexpr size_t kDrainBytes = 64 << 10;
    socket_.async_read_some(buffer_.prepare(kDrainBytes),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->Close();  // the client's FIN, or the deadline
                              self->Drain();
                            });
  }

  void Close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);  // pending reads and writes end with operation_aborted
  }

  // The connection may be closed for room from `age` on (see reclaimable_at_).
  void ReclaimableAfter(absl::Duration age) { MarkReclaimableAfter(age, &reclaimable_at_); }

  // The client has until idle_timeout from now to send a request or take a response.
  void WaitForClient() { CloseAfter(options_.idle_timeout); }

  // The IdleSweeper closes the connection once `timeout` from now has passed.
  void CloseAfter(absl::Duration timeout) {
    deadline_.store(
        (std::chrono::steady_clock::now() + ToChrono(timeout)).time_since_epoch().count(),
        std::memory_order_relaxed);
  }

  // What the read buffer may hold: a whole header, then a read's worth of body (the parser
  // takes body bytes out as it goes) and room to spare. It bounds what chunk framing can
  // make it hold, which the parser does not (a chunk extension of any length).
  static size_t BufferLimit(const HttpServerOptions& options) {
    return options.max_header_bytes + (256 << 10);
  }

  static constexpr std::chrono::steady_clock::rep kNoDeadline =
      std::numeric_limits<std::chrono::steady_clock::rep>::max();
  static constexpr std::chrono::steady_clock::rep kNever = kNoDeadline;

  tcp::socket socket_;
  // steady_clock ticks. Checked by the IdleSweeper: a timer per connection would cost a
  // timerfd update for every read and write. Every access is on the connection's thread;
  // relaxed atomic operations cost nothing there and keep it safe to set from elsewhere.
  std::atomic<std::chrono::steady_clock::rep> deadline_{kNoDeadline};
  // From when (steady_clock ticks) the connection may be closed to make room under
  // max_connections: kIdleReclaimAge after it began to wait for a request's header, and while
  // a body is read kStalledBodyAge after its last bytes arrived; kNever while the request is
  // handled or answered. Atomic like deadline_.
  std::atomic<std::chrono::steady_clock::rep> reclaimable_at_{kNever};
  bool closed_for_room_ = false;
  beast::flat_buffer buffer_;
  BodyRoom room_;
  std::optional<http::request_parser<CountedBody>> parser_;
  const HttpServerOptions& options_;
  const HttpHandler& handler_;
  Shared* const shared_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  bool head_ = false;  // the request being answered is a HEAD
  std::vector<std::pair<std::string, std::string>> headers_;  // the request's, read at OnHeader
  size_t header_scanned_ = 0;  // where ReadWholeHeader looks on for the header's end
};

// Closes the overdue connections of one io_context, checking them a few times per idle
// timeout. It runs on the io_context's thread, like the connections it checks.
class IdleSweeper {
 public:
  IdleSweeper(asio::io_context& io, absl::Duration idle_timeout)
      : timer_(io),
        period_(ToChrono(std::clamp(idle_timeout / 4, absl::Milliseconds(10), absl::Seconds(1)))) {
    Schedule();
  }

  void Add(std::weak_ptr<Connection> connection) { connections_.push_back(std::move(connection)); }

  // Closes up to `most` connections that may be closed for room by `now`, those accepted
  // first first; returns how many.
  size_t CloseReclaimable(size_t most, std::chrono::steady_clock::time_point now) {
    size_t closed = 0;
    for (size_t i = 0; i < connections_.size() && closed < most; ++i) {
      std::shared_ptr<Connection> connection = connections_[i].lock();
      if (connection != nullptr && connection->CloseIfReclaimable(now)) ++closed;
    }
    return closed;
  }

 private:
  void Schedule() {
    timer_.expires_after(period_);
    timer_.async_wait([this](beast::error_code ec) {
      if (ec) return;  // the io_context is stopping
      Sweep();
      Schedule();
    });
  }

  void Sweep() {
    const auto now = std::chrono::steady_clock::now();
    size_t kept = 0;
    for (size_t i = 0; i < connections_.size(); ++i) {
      std::shared_ptr<Connection> connection = connections_[i].lock();
      if (connection == nullptr) continue;  // gone: forget it
      connection->CloseIfOverdue(now);
      if (kept != i) connections_[kept] = std::move(connections_[i]);  // never onto itself
      ++kept;
    }
    connections_.resize(kept);
  }

  asio::steady_timer timer_;
  const std::chrono::steady_clock::duration period_;
  std::vector<std::weak_ptr<Connection>> connections_;
};

void Connection::Start(IdleSweeper* idle) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), idle] {
    idle->Add(self);
    self->ReadHeader();
  });
}

}  // namespace

// One io_context per worker thread, each connection bound to one of them: a connection's
// handlers then never run concurrently without a strand, and no lock is shared between the
// workers on the request path.
struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  // Before the contexts: connections still held by their handlers use it as they go.
  Connection::Shared shared;
  // Before the contexts too: connections destroyed with them read it (through on_room).
  std::atomic<bool> stopped{false};
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<IdleSweeper>> sweepers;  // one per context
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;  // on the acceptor's context
  std::vector<std::thread> workers;
  size_t next_context = 0;
  int port = 0;
  // At max_connections: accepting waits (on the acceptor's context, as are these).
  std::optional<asio::steady_timer> room_check;
  bool at_limit = false;
  std::atomic<uint64_t> limit_reached{0};
  std::atomic<uint64_t> closed_for_room{0};

  static constexpr absl::Duration kAcceptRetry = absl::Milliseconds(100);
  // While at max_connections: how often to look for waiting clients and connections to close
  // for them.
  static constexpr absl::Duration kRoomCheck = absl::Milliseconds(50);

  bool AtLimit() const {
    return options.max_connections != 0 &&
           shared.open.load(std::memory_order_relaxed) >= options.max_connections;
  }

  // Clients waiting in the listen queue. Linux reports a listening socket's accept queue as
  // tcpi_unacked (what `ss -l` shows as Recv-Q); elsewhere, 1 if any client waits.
  size_t ClientsWaiting() {
    tcp_info info{};
    socklen_t size = sizeof(info);
    if (::getsockopt(acceptor->native_handle(), IPPROTO_TCP, TCP_INFO, &info, &size) == 0 &&
        size >= offsetof(tcp_info, tcpi_unacked) + sizeof(info.tcpi_unacked)) {
      return info.tcpi_unacked;
    }
    pollfd listener{acceptor->native_handle(), POLLIN, 0};
    return ::poll(&listener, 1, 0) > 0 && (listener.revents & POLLIN) != 0 ? 1 : 0;
  }

  // Closes up to `wanted` connections that may be closed for room, on the worker thread of
  // context `index` and then, for as many as it found too few, the next. The caller counted
  // all `wanted` as closing; those not found stop counting at the end.
  void CloseForRoom(size_t wanted, size_t index) {
    asio::post(*contexts[index], [this, wanted, index] {
      const size_t closed =
          sweepers[index]->CloseReclaimable(wanted, std::chrono::steady_clock::now());
      closed_for_room.fetch_add(closed, std::memory_order_relaxed);
      if (closed == wanted) return;
      if (index + 1 < contexts.size()) return CloseForRoom(wanted - closed, index + 1);
      shared.closing_for_room.fetch_sub(wanted - closed, std::memory_order_relaxed);
    });
  }

  // At max_connections: accepts again once a connection closed (the last one to close calls
  // this at once through Shared::on_room, and it checks every kRoomCheck too), and while
  // clients wait closes connections that may be closed for room (see
  // HttpServerOptions::max_connections), one per client waiting less those being closed.
  void WaitForRoom() {
    if (stopped || !acceptor->is_open()) return;
    if (!AtLimit()) {
      if (at_limit) room_check->cancel();
      at_limit = false;
      return Accept();
    }
    if (!at_limit) {
      at_limit = true;
      limit_reached.fetch_add(1, std::memory_order_relaxed);
      LOG_EVERY_T(WARNING, 10) << "at the limit of " << options.max_connections
                               << " open connections (--max_connections): new clients wait "
                                  "until one closes";
    }
    const size_t waiting = ClientsWaiting();
    const size_t coming = shared.closing_for_room.load(std::memory_order_relaxed);
    if (waiting > coming) {
      shared.closing_for_room.fetch_add(waiting - coming, std::memory_order_relaxed);
      CloseForRoom(waiting - coming, 0);
    }
    // (Setting the expiry cancels a wait still pending, so one check is ever scheduled.)
    room_check->expires_after(ToChrono(kRoomCheck));
    room_check->async_wait([this](beast::error_code ec) {
      if (!ec && at_limit) WaitForRoom();
    });
  }

  void Accept() {
    if (AtLimit()) return WaitForRoom();
    const size_t index = next_context++ % contexts.size();
    asio::io_context& target = *contexts[index];
    acceptor->async_accept(target, [this, index](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted || stopped || !acceptor->is_open()) return;
        // Out of file descriptors, say: the connection stays queued and the listening socket
        // readable, so accepting again at once would spin on the same error. Wait first.
        LOG_EVERY_N(WARNING, 50) << "accept failed: " << ec.message() << " (retrying every "
                                 << absl::FormatDuration(kAcceptRetry) << ")";
        accept_retry->expires_after(ToChrono(kAcceptRetry));
        accept_retry->async_wait([this](beast::error_code timer_ec) {
          if (!timer_ec && !stopped && acceptor->is_open()) Accept();
        });
        return;
      } else {
        s.set_option(tcp::no_delay(true), ec);
        shared.open.fetch_add(1, std::memory_order_relaxed);
        std::make_shared<Connection>(std::move(s), options, handler, &shared)
            ->Start(sweepers[index].get());
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(new Impl{std::move(options), std::move(handler)}) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  auto host_port = SplitHostPort(impl_->options.listen);
  if (!host_port.ok()) return host_port.status();
  beast::error_code ec;
  auto address = asio::ip::make_address(host_port->first == "" ? "0.0.0.0" : host_port->first, ec);
  if (ec)
    return absl::InvalidArgumentError(
        absl::StrCat("bad listen address \"", impl_->options.listen, "\""));
  tcp::endpoint endpoint(address, static_cast<unsigned short>(host_port->second));
  const int threads = std::max(1, impl_->options.threads);
  for (int i = 0; i < threads; ++i) {
    impl_->contexts.push_back(std::make_unique<asio::io_context>(1));
    impl_->sweepers.push_back(
        std::make_unique<IdleSweeper>(*impl_->contexts.back(), impl_->options.idle_timeout));
  }
  tcp::acceptor& acceptor = impl_->acceptor.emplace(*impl_->contexts[0]);
  impl_->accept_retry.emplace(*impl_->contexts[0]);
  impl_->room_check.emplace(*impl_->contexts[0]);
  impl_->shared.max_open = impl_->options.max_connections;
  impl_->shared.on_room = [impl = impl_.get()] {
    // Not once stopping: the contexts may be going away with the connections they hold.
    if (impl->stopped) return;
    asio::post(*impl->contexts[0], [impl] {
      if (impl->at_limit) impl->WaitForRoom();
    });
  };
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", impl_->options.listen, ": ", ec.message()));
  }
  impl_->port = acceptor.local_endpoint().port();
  impl_->Accept();
  for (auto& context : impl_->contexts) {
    impl_->workers.emplace_back([this, io = context.get(), n = impl_->workers.size()] {
      SetCurrentThreadName(absl::StrCat("http-", n));
      auto work = asio::make_work_guard(*io);  // idle contexts wait for connections
      io->run();
    });
  }
  return absl::OkStatus();
}

int HttpServer::port() const { return impl_->port; }

size_t HttpServer::receiving_bytes() const {
  return impl_->shared.receiving.load(std::memory_order_relaxed);
}

uint64_t HttpServer::refused_for_room() const {
  return impl_->shared.refused_for_room.load(std::memory_order_relaxed);
}

size_t HttpServer::open_connections() const {
  return impl_->shared.open.load(std::memory_order_relaxed);
}

uint64_t HttpServer::connection_limit_reached() const {
  return impl_->limit_reached.load(std::memory_order_relaxed);
}

uint64_t HttpServer::connections_closed_for_room() const {
  return impl_->closed_for_room.load(std::memory_order_relaxed);
}

void HttpServer::Shutdown(absl::Duration drain_timeout) {
  if (impl_->stopped) return;
  impl_->shared.draining = true;
  if (impl_->acceptor) {
    asio::post(*impl_->contexts[0], [this] {
      beast::error_code ignored;
      impl_->acceptor->close(ignored);
    });
  }
  const absl::Time deadline = absl::Now() + drain_timeout;
  while (impl_->shared.inflight.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  Stop();
}

void HttpServer::Stop() {
  if (impl_->stopped.exchange(true)) return;
  for (auto& context : impl_->contexts) context->stop();
  for (auto& worker : impl_->workers) worker.join();
  impl_->workers.clear();
  // The workers are gone, so the acceptor can be closed here; the port is free on return.
  if (impl_->acceptor) {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
  }
}

absl::string_view HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

absl::string_view HttpRequest::Path() const {
  absl::string_view path = target;
  size_t query = path.find('?');
  return query == absl::string_view::npos ? path : path.substr(0, query);
}

HttpResponse HttpResponse::Error(int status, absl::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = absl::StrCat(message, "\n");
  return response;
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(absl::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\" is not host:port"));
  }
  absl::string_view host = address.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[") && !absl::ConsumeSuffix(&host, "]")) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\" is malformed"));
  }
  int port;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\" has a bad port"));
  }
  return std::make_pair(std::string(host), port);
}

}  // namespace pushgate
