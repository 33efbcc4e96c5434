// The aggregator side of pushgate's ingest API: a gRPC server whose Push streams hand every
// PushRequest to a `PushProcessor` and send back its acknowledgement.
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

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "proto/ingest.pb.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace pushgate {

class PushProcessor {
 public:
  using Done = std::function<void(pushgate::v1::PushAck)>;
  // One push, both parsed and in its wire form (`serialized` parses to `request`; it may
  // hold the fields in another order). The ack's sequence is filled in by the server.
  struct Push {
    const pushgate::v1::PushRequest* request;
    absl::string_view serialized;
    Done done;
  };
  virtual ~PushProcessor() = default;
  // Takes the pushes that arrived in one stream message, in order, so that a processor can
  // store them together; must call each push's `done` exactly once, from any thread. The
  // requests and their wire forms are only valid during the call: the server reuses them for
  // the stream's next message.
  virtual void Process(absl::Span<Push> pushes) = 0;
};

class IngestServer {
 public:
  // `processor` must outlive the server.
  IngestServer(std::string listen, PushProcessor* processor);
  ~IngestServer();
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Binds `listen` (host:port, port 0 picks one) and starts serving.
  absl::Status Start();
  int port() const;
  // Stops serving: open streams are cancelled.
  void Stop();

 private:
  class Service;
  std::string listen_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_INGEST_SERVER_INGEST_SERVER_H_
