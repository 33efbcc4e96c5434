// How long commits wait while the spool deletes delivered segments: the moment a backend comes
// back after an outage and the spool releases many 64 MiB segments at once.
//
// One thread commits 55 KB records (a batch of about eight default-workload pushes) back to
// back with group-commit fdatasync, as the aggregator's ingest thread does under load. After
// a second, the main thread releases every segment but the active one; the commits made while
// Release ran are compared with those before it. Runs alternate between deleting in steps
// (SpoolOptions::delete_step_bytes, the default) and unlinking at once (0), `--rounds` times
// each, in a spool directory under `--dir` (default: $TMPDIR or /tmp; use a directory on the
// disk the aggregator's spool will be on).
//
//   bazel run -c opt //tools/microbench:spool_release_benchmark -- --segments=8 --rounds=3
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "libs/spool/spool.h"

namespace pushgate {
namespace {

using Clock = std::chrono::steady_clock;

struct Commit {
  Clock::time_point start;
  double seconds;
};

struct RoundResult {
  double release_ms = 0;
  std::vector<double> before_ms, during_ms;
};

// Appends and waits, one record at a time, until `stop`; every commit's time is recorded.
void CommitLoop(Spool& spool, const std::atomic<bool>& stop, std::vector<Commit>* commits) {
  const std::string record(55000, 'x');
  while (!stop.load()) {
    std::promise<absl::StatusOr<uint64_t>> done;
    const Clock::time_point start = Clock::now();
    spool.Append(record, [&done](absl::StatusOr<uint64_t> position) { done.set_value(position); });
    if (!done.get_future().get().ok()) std::abort();
    commits->push_back({start, std::chrono::duration<double>(Clock::now() - start).count()});
  }
}

RoundResult RunRound(const std::string& dir, size_t segments, size_t delete_step_bytes) {
  std::filesystem::remove_all(dir);
  SpoolOptions options;
  options.dir = dir;
  options.delete_step_bytes = delete_step_bytes;
  absl::StatusOr<std::unique_ptr<Spool>> opened = Spool::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "cannot open a spool in %s: %s\n", dir.c_str(),
                 std::string(opened.status().message()).c_str());
    std::exit(1);
  }
  Spool& spool = **opened;
  // Fill the segments to release (appended together, so quickly).
  const std::string filler(1 << 20, 'f');
  while (spool.stats().segments <= segments) {
    std::vector<Spool::AppendRequest> batch;
    for (int i = 0; i < 16; ++i) batch.push_back({filler, [](absl::StatusOr<uint64_t>) {}});
    spool.AppendAll(std::move(batch));
  }

  std::atomic<bool> stop{false};
  std::vector<Commit> commits;
  commits.reserve(1 << 16);
  std::thread committer([&] { CommitLoop(spool, stop, &commits); });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const Clock::time_point release_start = Clock::now();
  spool.Release(spool.committed_end());
  const Clock::time_point release_end = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  committer.join();

  RoundResult result;
  result.release_ms =
      std::chrono::duration<double, std::milli>(release_end - release_start).count();
  for (const Commit& commit : commits) {
    const Clock::time_point end = commit.start + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(commit.seconds));
    if (end < release_start) {
      result.before_ms.push_back(commit.seconds * 1000);
    } else if (commit.start <= release_end) {
      result.during_ms.push_back(commit.seconds * 1000);
    }
  }
  opened->reset();
  std::filesystem::remove_all(dir);
  return result;
}

std::string Summary(std::vector<double> ms) {
  if (ms.empty()) return "no commits";
  std::sort(ms.begin(), ms.end());
  return absl::StrFormat("%d commits, p50 %.2f ms, p99 %.2f ms, max %.1f ms", ms.size(),
                         ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back());
}

int Main(int argc, char** argv) {
  const char* tmp = getenv("TMPDIR");
  std::string base = tmp != nullptr ? tmp : "/tmp";
  size_t segments = 8;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--dir=")) {
      base = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--segments=")) {
      if (!absl::SimpleAtoi(arg, &segments) || segments == 0) return 2;
    } else if (absl::ConsumePrefix(&arg, "--rounds=")) {
      if (!absl::SimpleAtoi(arg, &rounds) || rounds <= 0) return 2;
    } else {
      std::fprintf(stderr, "usage: %s [--dir=DIR] [--segments=N] [--rounds=N]\n", argv[0]);
      return 2;
    }
  }
  const std::string dir = base + "/pushgate-spool-release-benchmark";
  const size_t steps = SpoolOptions().delete_step_bytes;
  std::printf("releasing %zu segments of 64 MiB while committing 55 KB records (fsync batch)\n",
              segments);
  for (int round = 0; round < rounds; ++round) {
    for (const size_t step : {steps, size_t{0}}) {
      const RoundResult r = RunRound(dir, segments, step);
      std::printf("%-24s Release took %6.0f ms | before: %s | during: %s\n",
                  step == 0 ? "unlink at once:"
                            : absl::StrCat("deleted in ", step >> 20, " MiB steps:").c_str(),
                  r.release_ms, Summary(r.before_ms).c_str(), Summary(r.during_ms).c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace pushgate

int main(int argc, char** argv) { return pushgate::Main(argc, argv); }
