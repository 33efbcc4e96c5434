// The aggregator side of pushgate's ingest API: a gRPC server whose Push streams hand every
// PushRequest to a `PushProcessor` and send back its acknowledgement. Pushes are handed over
// decoded into PushViews (libs/push_view), never as protobuf messages: a batched push is
// decoded straight from its wire bytes, once.
//
// Requests on one stream are handed over in order, but the processor may acknowledge them
// later and in any order (e.g. after a group commit to disk); acks are written as they come.
// When a producer closes its side, the stream ends only after every request it sent has been
// acknowledged, so a clean shutdown of a producer loses no acks.
#ifndef PUSHGATE_LIBS_INGEST_SERVER_INGEST_SERVER_H_
#define PUSHGATE_LIBS_INGEST_SERVER_INGEST_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "libs/push_view/push_view.h"
#include "proto/ingest.pb.h"

namespace grpc {
class Server;
class ServerCompletionQueue;
}  // namespace grpc

namespace pushgate {

class PushProcessor {
 public:
  using Done = std::function<void(pushgate::v1::PushAck)>;
  // One push, both decoded and in its wire form. The ack's sequence is filled in by the
  // server.
  struct Push {
    // What the push holds, its method included. It views `serialized`, or the message the
    // server read from a Push stream.
    const PushView* view;
    // The push as a serialized PushRequest that protobuf parses (to what `view` shows; the
    // fields may come in another order).
    absl::string_view serialized;
    Done done;
  };
  virtual ~PushProcessor() = default;
  // Takes the pushes that arrived in one stream message, in order, so that a processor can
  // store them together; must call each push's `done` exactly once, from any thread. The
  // views and wire forms are only valid during the call: the server reuses them for the
  // stream's next message. It runs on the server thread that serves the stream, which also
  // serves other streams: it may wait for one disk commit, but not for anything open-ended.
  // `other_streams_open`: other producers' streams are open on this server, whose messages
  // the thread would read meanwhile (and whose pushes could share the next commit), so
  // waiting here holds them up; with one stream there is nothing else to do meanwhile.
  virtual void Process(absl::Span<Push> pushes, bool other_streams_open) = 0;
};

class IngestServer {
 public:
  // `processor` must outlive the server. Streams are spread over `threads` threads (at least
  // one), each serving its streams one message at a time with gRPC's asynchronous API: the
  // thread that waits for the socket reads the message and processes it. More than one
  // thread lets several producers' pushes be checked while one commit waits for the disk,
  // but gRPC's poller then hands reads from one thread to another.
  IngestServer(std::string listen, PushProcessor* processor, int threads = 1);
  ~IngestServer();
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Binds `listen` (host:port, port 0 picks one) and starts serving.
  absl::Status Start();
  int port() const;
  // Streams open now (producers connected), of both methods.
  int open_streams() const;
  // Stops serving: streams still open after a grace period of 2 s are cancelled, and acks
  // given after their stream is gone are dropped. Returns once the threads have stopped.
  void Stop();

 private:
  class Service;
  std::string listen_;
  int threads_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> threads_running_;
  int port_ = 0;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_INGEST_SERVER_INGEST_SERVER_H_
