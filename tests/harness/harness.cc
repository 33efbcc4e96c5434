#include "tests/harness/harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "libs/compression/compression.h"
#include "libs/push_handler/push_handler.h"

namespace pushgate::testing {
namespace {

void CheckOk(const absl::Status& status) { CHECK(status.ok()) << status; }

// The end of a service's log, for a failed test's output: what the service saw is usually
// the explanation, and the log itself is gone with the test's scratch directory.
void PrintLogTail(const std::string& what, const std::string& path) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(std::move(line));
    if (tail.size() > 40) tail.pop_front();
  }
  std::cerr << "---- last " << tail.size() << " lines of the " << what << " log (" << path << ")\n";
  for (const std::string& line : tail) std::cerr << line << "\n";
}

}  // namespace

int FreePort() {
  // Tests of several targets run at once and each starts servers on ports it picked, so
  // "bind port 0 and let go" races: another test process (or any client socket, which takes
  // its source port from the same ephemeral range) can get the port before our server binds
  // it, and then a server of another test answers ours. So ports come from below the
  // ephemeral range, and each is claimed machine-wide by an flock held until this process
  // exits; a port is used only if it is also free to bind now.
  static absl::Mutex mu(absl::kConstInit);
  absl::MutexLock lock(&mu);
  mkdir("/tmp/pushgate-test-ports", 0777);
  static std::mt19937 random(static_cast<uint32_t>(getpid()) * 2654435761u ^
                             static_cast<uint32_t>(absl::ToUnixNanos(absl::Now())));
  constexpr int kFirst = 20000, kEnd = 32000;  // Linux's ephemeral ports start at 32768.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = kFirst + static_cast<int>(random() % (kEnd - kFirst));
    const std::string claim = absl::StrCat("/tmp/pushgate-test-ports/", port);
    int claim_fd = open(claim.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (claim_fd < 0) continue;
    if (flock(claim_fd, LOCK_EX | LOCK_NB) != 0) {  // Another test process has it.
      close(claim_fd);
      continue;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool bindable = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (bindable) return port;  // `claim_fd` stays open: the claim lasts as long as we do.
    close(claim_fd);
  }
  LOG(FATAL) << "no free port between 20000 and 32000";
}

std::string RunfilePath(const std::string& workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  CHECK(srcdir != nullptr) << "run under bazel test";
  return absl::StrCat(srcdir, "/pushgate/", workspace_relative);
}

std::string ScratchDir(const std::string& name) {
  // Several Pushgates in one test must not share a data dir (the spool is locked).
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/", name, "-", getpid(), "-", counter++);
  mkdir(dir.c_str(), 0755);
  return dir;
}

Process::Process(std::vector<std::string> argv, std::string log_path)
    : log_path_(std::move(log_path)) {
  const pid_t parent = getpid();
  pid_ = fork();
  CHECK_GE(pid_, 0);
  if (pid_ == 0) {
    // The child must not outlive a test that crashes (a failed CHECK skips the destructors):
    // the kernel kills it when the test process exits. Process is created on the test's
    // main thread, whose exit is what PR_SET_PDEATHSIG watches.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    // Sockets of the test process (e.g. an UploadReceiver's listener) must not leak into the
    // child, or they outlive the test's own Stop().
    for (int other = 3; other < 4096; ++other) close(other);
    // The child must die with the test even if the test crashes.
    setpgid(0, 0);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (pid_ > 0 && Running()) Stop(SIGKILL);
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int Process::Stop(int signal) {
  if (pid_ <= 0) return 0;
  kill(pid_, signal);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {  // Up to 10 s, then SIGKILL.
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

namespace {

size_t AppendTo(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

HttpResult HttpRequestTo(const std::string& method, const std::string& url, const std::string& body,
                         const std::vector<std::string>& headers) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (!body.empty() || method == "PUT" || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
  CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  } else {
    result.error = curl_easy_strerror(code);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
}

absl::Status WaitForHttp200(const std::string& url, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  HttpResult last;
  while (absl::Now() < deadline) {
    last = HttpRequestTo("GET", url);
    if (last.status == 200) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(url, " not ready: status ", last.status, " ", last.error, " ", last.body));
}

UploadReceiver::UploadReceiver() { Listen(0); }

void UploadReceiver::Listen(int port) {
  HttpServerOptions options;
  options.listen = absl::StrCat("127.0.0.1:", port);
  options.max_body_bytes = 256 << 20;
  server_ =
      std::make_unique<HttpServer>(options, [this](HttpRequest request, HttpResponder respond) {
        std::string body = std::move(request.body);
        if (absl::EqualsIgnoreCase(request.Header("Content-Encoding"), "gzip")) {
          std::string plain;
          CheckOk(Decompress(ContentEncoding::kGzip, body, 1 << 30, &plain));
          body = std::move(plain);
        }
        HttpResponse response;
        {
          absl::MutexLock lock(&mu_);
          response.status = status_;
          if (status_ < 300) {
            received_ += body;
          }
          ++requests_;
        }
        respond(std::move(response));
      });
  CheckOk(server_->Start());
  port_ = server_->port();
}

void UploadReceiver::Pause() {
  server_->Stop();
  server_.reset();  // Also closes the connections the uploader kept alive.
}

void UploadReceiver::Resume() { Listen(port_); }

UploadReceiver::~UploadReceiver() {
  if (server_) server_->Stop();
}

std::string UploadReceiver::url(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", port_, path);
}

std::string UploadReceiver::Received() {
  absl::MutexLock lock(&mu_);
  return received_;
}

size_t UploadReceiver::requests() {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void UploadReceiver::set_status(int status) {
  absl::MutexLock lock(&mu_);
  status_ = status;
}

bool UploadReceiver::WaitForLines(size_t lines, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<size_t>(std::count(received_.begin(), received_.end(), '\n')) >= lines;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

Pushgate::Pushgate(PushgateOptions options)
    : options_(std::move(options)),
      data_dir_(ScratchDir("pushgate")),
      front_port_(FreePort()),
      grpc_port_(FreePort()),
      aggregator_http_port_(FreePort()) {
  StartAggregator();
  CheckOk(WaitForHttp200(absl::StrCat("http://127.0.0.1:", aggregator_http_port_, "/-/healthy"),
                         absl::Seconds(20)));
  std::vector<std::string> argv = {RunfilePath("services/front/pushgate-front"),
                                   absl::StrCat("--listen=127.0.0.1:", front_port_),
                                   absl::StrCat("--aggregator=127.0.0.1:", grpc_port_)};
  argv.insert(argv.end(), options_.front_flags.begin(), options_.front_flags.end());
  front_ = std::make_unique<Process>(argv, absl::StrCat(data_dir_, "/front.log"));
  // The front's route prefix, as it resolves it: flag, else environment variable.
  const char* env_prefix = std::getenv("ENV_INPUT_PUSHGATEWAY_ROUTE_PREFIX");
  std::string prefix = env_prefix ? env_prefix : "";
  for (const auto& flag : options_.front_flags) {
    if (absl::StartsWith(flag, "--route_prefix=")) prefix = flag.substr(15);
  }
  CheckOk(WaitForHttp200(absl::StrCat(front_url(), NormalizeRoutePrefix(prefix), "/-/ready"),
                         absl::Seconds(20)));
  // A server that answered but exited since (it could not bind, say) was not ours.
  CHECK(aggregator_->Running()) << "the aggregator exited; see " << aggregator_->log_path();
  CHECK(front_->Running()) << "the front exited; see " << front_->log_path();
}

Pushgate::~Pushgate() {
  if (front_) front_->Stop();
  if (aggregator_) aggregator_->Stop();
  if (::testing::Test::HasFailure()) {
    if (front_) PrintLogTail("front", front_->log_path());
    if (aggregator_) PrintLogTail("aggregator", aggregator_->log_path());
  }
}

void Pushgate::StartAggregator() {
  std::vector<std::string> argv = {
      RunfilePath("services/aggregator/pushgate-aggregator"),
      absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port_),
      absl::StrCat("--http_listen=127.0.0.1:", aggregator_http_port_),
      absl::StrCat("--data_dir=", data_dir_),
      "--flush_interval=50ms",
  };
  if (!options_.upload_url.empty()) argv.push_back("--upload_url=" + options_.upload_url);
  argv.insert(argv.end(), options_.aggregator_flags.begin(), options_.aggregator_flags.end());
  aggregator_ = std::make_unique<Process>(argv, absl::StrCat(data_dir_, "/aggregator.log"));
}

void Pushgate::RestartAggregator() {
  aggregator_->Stop(SIGKILL);
  StartAggregator();
  CheckOk(WaitForHttp200(absl::StrCat("http://127.0.0.1:", aggregator_http_port_, "/-/healthy"),
                         absl::Seconds(20)));
}

void Pushgate::RestartAggregator(std::vector<std::string> aggregator_flags) {
  options_.aggregator_flags = std::move(aggregator_flags);
  RestartAggregator();
}

std::string Pushgate::front_url() const { return absl::StrCat("http://127.0.0.1:", front_port_); }

std::string Pushgate::aggregator_metrics_url() const {
  return absl::StrCat("http://127.0.0.1:", aggregator_http_port_, "/metrics");
}

}  // namespace pushgate::testing
