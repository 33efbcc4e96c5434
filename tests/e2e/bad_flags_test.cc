// The real binaries refuse a command line they would otherwise misread, before they start:
// exit status 2 and a line naming the flag. Each of these used to start, quietly: with no
// limit (-1 as a size), with the flag's default (a boolean given as `--flag false`), or with
// the flags of a --flagfile not counted as given (so the default file sink replaced the
// configured backends).
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

using testing::FreePort;
using testing::RunfilePath;
using testing::ScratchDir;

struct Outcome {
  int status = -1;
  std::string output;
};

// Runs `binary` with `args` (and free loopback ports, so that a binary that does start
// cannot disturb anything), for at most 10 s.
Outcome RunBinary(const std::string& binary, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"timeout", "10", RunfilePath(binary)};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string dir = ScratchDir("bad_flags");
  if (absl::StrContains(binary, "aggregator")) {
    argv.push_back(absl::StrCat("--grpc_listen=127.0.0.1:", FreePort()));
    argv.push_back(absl::StrCat("--http_listen=127.0.0.1:", FreePort()));
    argv.push_back("--data_dir=" + dir + "/data");
  } else {
    argv.push_back(absl::StrCat("--listen=127.0.0.1:", FreePort()));
  }
  Outcome outcome;
  FILE* pipe = popen((absl::StrJoin(argv, " ") + " 2>&1").c_str(), "r");
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;)
    outcome.output.append(buffer, n);
  const int status = pclose(pipe);
  outcome.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

constexpr char kAggregator[] = "services/aggregator/pushgate-aggregator";
constexpr char kFront[] = "services/front/pushgate-front";

TEST(BadFlagsTest, TheServicesExitWithStatus2AndSayWhich) {
  const struct {
    const char* binary;
    std::vector<std::string> args;
    const char* says;
  } cases[] = {
      {kAggregator, {"--spool_max_bytes=-1"}, "--spool_max_bytes must be at least 1, not -1"},
      {kAggregator, {"--spool_segment_bytes=0"}, "--spool_segment_bytes must be at least 1"},
      {kAggregator, {"--flush_interval=0s"}, "--flush_interval must be more than 0"},
      {kAggregator, {"--upload_gzip", "false"}, "unexpected argument \"false\""},
      {kAggregator, {"--flagfile=/dev/null"}, "--flagfile is not supported"},
      {kAggregator, {"--background_nice=20"}, "between 0 and 19, not 20"},
      {kAggregator,
       {"--upload_queue_max_bytes=0"},
       "--upload_queue_max_bytes must be at least 1, not 0"},
      {kFront, {"--max_body_bytes=-1"}, "--max_body_bytes must be at least 1, not -1"},
      {kFront, {"--max_inflight_pushes=0"}, "--max_inflight_pushes must be at least 1, not 0"},
      {kFront, {"--ack_timeout=0s"}, "--ack_timeout must be more than 0"},
      {kFront, {"--threads=0"}, "--threads must be between 1 and 256, not 0"},
      {kFront, {"--threads=100000"}, "--threads must be between 1 and 256, not 100000"},
      // `inf` once overflowed the deadline: every push slower than 10 ms got 503.
      {kFront, {"--ack_timeout=inf"}, "--ack_timeout must be at most 1h, not inf"},
      {kFront, {"--aggregator="}, "--aggregator is empty"},
      {kFront, {"--aggregator=127.0.0.1"}, "--aggregator=127.0.0.1 is not host:port"},
      {kFront, {"'--route_prefix=/a?b'"}, "holds a byte no request path can"},
      {kFront, {"--route_prefix=/a%zz"}, "route prefix \"/a%zz\""},
      {kAggregator, {"--ingest_threads=1000"}, "--ingest_threads must be between 1 and 256"},
      {kAggregator, {"--upload_backoff_max=0s"}, "--upload_backoff_max must be more than 0"},
      {kFront, {"--max_receiving_bytes=-1"}, "--max_receiving_bytes must be at least 0, not -1"},
      {kFront, {"--max_connections=-1"}, "--max_connections must be at least 0, not -1"},
      {kFront, {"--idle_timeout=0s"}, "--idle_timeout must be more than 0"},
      {kAggregator,
       {"--file_sink_max_bytes=-1"},
       "--file_sink_max_bytes must be at least 0, not -1"},
  };
  for (const auto& c : cases) {
    const Outcome outcome = RunBinary(c.binary, c.args);
    EXPECT_EQ(outcome.status, 2) << c.binary << " " << absl::StrJoin(c.args, " ") << ":\n"
                                 << outcome.output;
    EXPECT_THAT(outcome.output, ::testing::HasSubstr(c.says)) << c.binary;
  }
}

// `--version` says what each binary was built from and exits at once, as every Prometheus
// component's does.
TEST(CommandLineTest, VersionPrintsTheBuildAndExits) {
  for (const std::string binary : {kFront, kAggregator}) {
    const Outcome outcome = RunBinary(binary, {"--version"});
    EXPECT_EQ(outcome.status, 0) << binary << ":\n" << outcome.output;
    const std::string program = binary.substr(binary.rfind('/') + 1);
    EXPECT_THAT(
        outcome.output,
        ::testing::MatchesRegex(program + " [^ ]+ \\(revision "
                                          "([0-9a-f]{12}(\\+dirty)?|unknown), (gcc|clang) .+\\)\n"))
        << binary;
  }
}

}  // namespace
}  // namespace pushgate
