// A raw TCP connection to a local HTTP server, for tests whose client must do what curl will
// not: send a request in parts, stall mid-body, pipeline, misframe, or read the bytes exactly
// as the server sent them.
#ifndef PUSHGATE_TESTS_HARNESS_RAW_CLIENT_H_
#define PUSHGATE_TESTS_HARNESS_RAW_CLIENT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace pushgate {

// A connection to 127.0.0.1:`port`. Every read gives up after 10 s, so a hung server fails
// the test instead of hanging it.
class RawClient {
 public:
  // Connects at once unless `connect_now` is false (then call Connect).
  explicit RawClient(int port, bool connect_now = true);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Needs no new file descriptor: the socket was made by the constructor. A failure is a test
  // failure.
  void Connect();
  int fd() const { return fd_; }
  // One send() of `data`, which must take all of it (a test failure otherwise): for requests
  // small enough to fit the socket buffer.
  void Send(absl::string_view data);
  // Sends all of `data`, however many calls it takes; false if the connection broke first.
  bool SendAll(absl::string_view data);
  // What the server sends until it has sent `end` (or closes, or 10 s pass).
  std::string ReadUntil(absl::string_view end);
  // Everything the server sends until it closes the connection; after 10 s without it, what
  // came followed by "<no close within 10 s>".
  std::string ReadUntilClosed();

 private:
  const int fd_;
  const int port_;
};

}  // namespace pushgate

#endif  // PUSHGATE_TESTS_HARNESS_RAW_CLIENT_H_
