// Test harness for pushgate's end-to-end and integration tests: starts the real service
// binaries (and real third-party servers) as child processes on free loopback ports, sends
// HTTP requests with libcurl, and receives uploads on a local HTTP endpoint.
#ifndef PUSHGATE_TESTS_HARNESS_HARNESS_H_
#define PUSHGATE_TESTS_HARNESS_HARNESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/http_server/http_server.h"

namespace pushgate::testing {

// A TCP port on 127.0.0.1 that is free now and that no other test process on this machine
// will be given while this one runs (ports are not handed back within a process either).
int FreePort();

// Path of a binary built by Bazel and listed in the test's `data`, e.g.
// "services/front/pushgate-front".
std::string RunfilePath(const std::string& workspace_relative);

// A new writable scratch directory on each call, named after `name`.
std::string ScratchDir(const std::string& name);

// A child process; killed (SIGKILL) on destruction if still running, and by the kernel when
// the thread that created it exits (so create it on the test's main thread).
class Process {
 public:
  // Starts `argv[0]` with `argv`; stdout/stderr go to `log_path` (appended).
  Process(std::vector<std::string> argv, std::string log_path);
  ~Process();
  pid_t pid() const { return pid_; }
  // Sends `signal` and waits for exit; returns the wait status.
  int Stop(int signal = 15);
  bool Running();
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// Polls `url` until it answers 200 or `timeout` passes.
absl::Status WaitForHttp200(const std::string& url, absl::Duration timeout);

struct HttpResult {
  long status = 0;  // 0 when the request failed at the transport level
  std::string body;
  std::string headers;
  std::string error;
};

HttpResult HttpRequestTo(const std::string& method, const std::string& url,
                         const std::string& body = "",
                         const std::vector<std::string>& headers = {});

// An HTTP endpoint that records every request body (gzip bodies are decompressed).
class UploadReceiver {
 public:
  UploadReceiver();
  ~UploadReceiver();
  // Simulates a backend outage: the port stops answering (connections are refused) until
  // Resume(), which listens on the same port again. Received data is kept.
  void Pause();
  void Resume();
  std::string url(const std::string& path = "/write") const;
  // All bodies received so far, concatenated.
  std::string Received();
  size_t requests();
  // Status answered to the next requests (default 204).
  void set_status(int status);
  // Waits until the received text contains at least `lines` lines.
  bool WaitForLines(size_t lines, absl::Duration timeout);

 private:
  absl::Mutex mu_;
  std::string received_ ABSL_GUARDED_BY(mu_);
  size_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  int status_ ABSL_GUARDED_BY(mu_) = 204;
  int port_ = 0;
  std::unique_ptr<HttpServer> server_;
  void Listen(int port);
};

// The front and aggregator started together, the aggregator uploading to `upload_url`.
struct PushgateOptions {
  std::string upload_url;
  std::vector<std::string> front_flags;
  std::vector<std::string> aggregator_flags;
};

class Pushgate {
 public:
  explicit Pushgate(PushgateOptions options);
  ~Pushgate();
  // The front's base URL, e.g. "http://127.0.0.1:12345".
  std::string front_url() const;
  std::string aggregator_metrics_url() const;
  Process& aggregator() { return *aggregator_; }
  pid_t front_pid() const { return front_->pid(); }
  // Restarts the aggregator with the same flags and ports.
  void RestartAggregator();
  // Restarts it with these flags instead of PushgateOptions::aggregator_flags (a
  // configuration fixed), on the same ports and data.
  void RestartAggregator(std::vector<std::string> aggregator_flags);
  const std::string& data_dir() const { return data_dir_; }

 private:
  void StartAggregator();
  PushgateOptions options_;
  std::string data_dir_;
  int front_port_, grpc_port_, aggregator_http_port_;
  std::unique_ptr<Process> aggregator_, front_;
};

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_HARNESS_HARNESS_H_
