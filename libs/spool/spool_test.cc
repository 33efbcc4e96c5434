#include "libs/spool/spool.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/spool/internal/record_format.h"
#include "tests/harness/no_free_descriptors.h"

namespace pushgate {
namespace {

namespace fs = std::filesystem;
using spool_internal::kHeaderSize;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// A fresh directory per test.
std::string TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = absl::StrCat(::testing::TempDir(), "/spool_", info->test_suite_name(), "_",
                                 info->name(), "_", getpid());
  fs::remove_all(dir);
  return dir;
}

SpoolOptions Options(const std::string& dir, size_t segment_bytes = 64 << 20,
                     size_t max_bytes = 1 << 30, FsyncMode fsync = FsyncMode::kBatch) {
  SpoolOptions options;
  options.dir = dir;
  options.segment_bytes = segment_bytes;
  options.max_bytes = max_bytes;
  options.fsync = fsync;
  return options;
}

std::unique_ptr<Spool> MustOpen(const SpoolOptions& options) {
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(options);
  EXPECT_TRUE(spool.ok()) << spool.status();
  return spool.ok() ? *std::move(spool) : nullptr;
}

// Standard-library synchronisation throughout, so ThreadSanitizer runs are meaningful (the
// system Abseil is not instrumented).
absl::StatusOr<uint64_t> AppendAndWait(Spool& spool, std::string data) {
  std::promise<absl::StatusOr<uint64_t>> result;
  std::future<absl::StatusOr<uint64_t>> future = result.get_future();
  spool.Append(std::move(data),
               [&](absl::StatusOr<uint64_t> position) { result.set_value(std::move(position)); });
  return future.get();
}

class Countdown {
 public:
  explicit Countdown(int count) : count_(count) {}
  void Decrement() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--count_ == 0) zero_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    zero_.wait(lock, [this] { return count_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable zero_;
  int count_;
};

// Distinct, varied-length payloads, so a misplaced or merged record cannot pass for another.
std::string Payload(int i) {
  return absl::StrCat("push-", i, "-", std::string(10 + (i * 7) % 40, 'a' + i % 26));
}

// Appends Payload(first) .. Payload(first + count - 1) and returns their positions.
std::vector<uint64_t> AppendPayloads(Spool& spool, int first, int count) {
  std::vector<uint64_t> positions;
  for (int i = first; i < first + count; ++i) {
    absl::StatusOr<uint64_t> position = AppendAndWait(spool, Payload(i));
    EXPECT_TRUE(position.ok()) << position.status();
    positions.push_back(position.value_or(0));
  }
  return positions;
}

// Every committed record after `after`, in order.
std::vector<Spool::Record> ReadAll(Spool& spool, uint64_t after) {
  std::vector<Spool::Record> all;
  for (;;) {
    std::vector<Spool::Record> some = spool.ReadCommitted(after, 7, 1 << 20, absl::ZeroDuration());
    if (some.empty()) return all;
    after = some.back().position;
    for (auto& record : some) all.push_back(std::move(record));
  }
}

std::vector<std::string> DataOf(const std::vector<Spool::Record>& records) {
  std::vector<std::string> data;
  for (const auto& record : records) data.push_back(record.data);
  return data;
}

std::vector<std::string> Payloads(int first, int count) {
  std::vector<std::string> data;
  for (int i = first; i < first + count; ++i) data.push_back(Payload(i));
  return data;
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".wal") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Opens a spool in `dir`, appends payloads 0 to count - 1, releases them through payload
// `released_through` (-1: none) and closes it; returns their positions.
std::vector<uint64_t> AppendAndClose(const std::string& dir, int count, int released_through = -1) {
  auto spool = MustOpen(Options(dir));
  EXPECT_NE(spool, nullptr);
  if (spool == nullptr) return {};
  std::vector<uint64_t> positions = AppendPayloads(*spool, 0, count);
  if (released_through >= 0) spool->Release(positions[released_through]);
  return positions;
}

// A closed spool in `dir` whose 20 records were all delivered (Close saved the position),
// then the last ten cut off its only segment (an OS crash with fsync=never): its saved
// position lies past the end. Returns the 20 records' positions.
std::vector<uint64_t> SpoolWithPositionPastTheEnd(const std::string& dir) {
  const std::vector<uint64_t> positions = AppendAndClose(dir, 20, /*released_through=*/19);
  const std::vector<std::string> files = SegmentFiles(dir);
  EXPECT_EQ(files.size(), 1u);
  if (positions.size() != 20 || files.size() != 1) return {};
  std::string content = ReadFile(files[0]);
  content.resize(positions[9]);
  WriteFile(files[0], content);
  return positions;
}

// Sets or clears the immutable attribute of `path` (chattr +i), which even root cannot write
// through; false if the file system refuses.
bool SetImmutable(const std::string& path, bool immutable) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  flags = immutable ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
  ok = ok && ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  close(fd);
  return ok;
}

// A copy of the spool directory `dir` as a kill -9 of the spool's process now would leave it
// (every committed byte, no Close), without the lock; returns the copy's path.
std::string CopyAsAKillLeavesIt(const std::string& dir) {
  const std::string crashed = dir + "_crashed";
  fs::remove_all(crashed);
  fs::copy(dir, crashed);
  fs::remove(crashed + "/LOCK");
  return crashed;
}

TEST(SpoolTest, AppendAllCommitsItsRecordsTogetherAndRefusesOnlyTheOnesThatCannotFit) {
  const std::string dir = TestDir();
  // Room for the small records but never for the 4000-byte one.
  std::unique_ptr<Spool> spool = MustOpen(Options(dir, 64 << 20, /*max_bytes=*/2000));
  ASSERT_TRUE(AppendAndWait(*spool, Payload(0)).ok());
  const uint64_t fsyncs_before = spool->stats().fsyncs;

  std::vector<absl::StatusOr<uint64_t>> results(4, absl::UnknownError("not called"));
  Countdown done(4);
  std::vector<Spool::AppendRequest> requests;
  const std::vector<std::string> data = {Payload(1), Payload(2), std::string(4000, 'x'),
                                         Payload(3)};
  for (size_t i = 0; i < data.size(); ++i) {
    requests.push_back({data[i], [&, i](absl::StatusOr<uint64_t> position) {
                          results[i] = std::move(position);
                          done.Decrement();
                        }});
  }
  spool->AppendAll(std::move(requests));
  done.Wait();

  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_TRUE(absl::IsInvalidArgument(results[2].status())) << results[2].status();
  ASSERT_TRUE(results[3].ok()) << results[3].status();
  EXPECT_LT(*results[0], *results[1]);
  EXPECT_LT(*results[1], *results[3]);
  // The committer was idle, so the three accepted records took one write and one sync.
  EXPECT_EQ(spool->stats().fsyncs, fsyncs_before + 1);
  EXPECT_EQ(DataOf(ReadAll(*spool, spool->first_unreleased())), Payloads(0, 4));
}

// A caller with other work (the ingest thread with several producers) hands the commit to the
// spool's own thread: it returns before the records are durable, and each record's `done` comes
// from that thread once they are, in order.
TEST(SpoolTest, AppendAllWithoutCommittingHereLeavesTheCommitToTheSpoolsThread) {
  const std::string dir = TestDir();
  std::unique_ptr<Spool> spool = MustOpen(Options(dir, 64 << 20));
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::thread::id> threads(3);
  std::vector<uint64_t> positions(3, 0);
  Countdown done(3);
  std::vector<Spool::AppendRequest> requests;
  for (int i = 0; i < 3; ++i) {
    requests.push_back({Payload(i), [&, i](absl::StatusOr<uint64_t> position) {
                          ASSERT_TRUE(position.ok()) << position.status();
                          positions[i] = *position;
                          threads[i] = std::this_thread::get_id();
                          done.Decrement();
                        }});
  }
  spool->AppendAll(std::move(requests), /*commit_here=*/false);
  done.Wait();
  for (int i = 0; i < 3; ++i) EXPECT_NE(threads[i], caller) << i;
  EXPECT_LT(positions[0], positions[1]);
  EXPECT_LT(positions[1], positions[2]);
  EXPECT_EQ(spool->committed_end(), positions[2]);
  EXPECT_EQ(DataOf(ReadAll(*spool, spool->first_unreleased())), Payloads(0, 3));

  // Handed over just before Close, they are committed by it, not lost.
  Countdown closing(1);
  uint64_t last = 0;
  std::vector<Spool::AppendRequest> more;
  more.push_back({Payload(3), [&](absl::StatusOr<uint64_t> position) {
                    ASSERT_TRUE(position.ok()) << position.status();
                    last = *position;
                    closing.Decrement();
                  }});
  spool->AppendAll(std::move(more), /*commit_here=*/false);
  spool->Close();
  closing.Wait();
  EXPECT_GT(last, positions[2]);
  spool.reset();
  std::unique_ptr<Spool> reopened = MustOpen(Options(dir, 64 << 20));
  EXPECT_EQ(DataOf(ReadAll(*reopened, reopened->first_unreleased())), Payloads(0, 4));
}

// After a failed sync nothing written since the last good one can be trusted: the append
// fails, every later one is refused, and health() says so (the aggregator's /-/healthy fails on
// it, so a supervisor restarts the process, which recovers what is on disk).
TEST(SpoolTest, AFailedSyncMakesTheSpoolUnhealthyUntilARestart) {
  const std::string dir = TestDir();
  SpoolOptions options = Options(dir);
  std::atomic<bool> fail{false};
  options.sync_data = [&fail](int fd) {
    if (fail.load()) {
      errno = EIO;
      return -1;
    }
    return fdatasync(fd);
  };
  {
    std::unique_ptr<Spool> spool = MustOpen(options);
    ASSERT_TRUE(AppendAndWait(*spool, "before").ok());
    EXPECT_TRUE(spool->health().ok());
    fail = true;
    const absl::StatusOr<uint64_t> failed = AppendAndWait(*spool, "lost");
    EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
    fail = false;
    EXPECT_EQ(AppendAndWait(*spool, "after").status().code(), absl::StatusCode::kInternal);
    EXPECT_EQ(spool->health().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(spool->health().message()), ::testing::HasSubstr("restart to recover"));
  }
  std::unique_ptr<Spool> reopened = MustOpen(options);
  EXPECT_TRUE(reopened->health().ok());
  EXPECT_THAT(DataOf(ReadAll(*reopened, 0)), ::testing::Contains("before"));
  EXPECT_TRUE(AppendAndWait(*reopened, "after the restart").ok());
}

TEST(FsyncModeTest, ParsesTheThreeNames) {
  for (FsyncMode mode : {FsyncMode::kBatch, FsyncMode::kAlways, FsyncMode::kNever}) {
    absl::StatusOr<FsyncMode> parsed = ParseFsyncMode(FsyncModeName(mode));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, mode);
  }
  EXPECT_EQ(ParseFsyncMode("batch").value(), FsyncMode::kBatch);
  EXPECT_EQ(ParseFsyncMode("Always").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseFsyncMode("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpoolTest, RejectsInvalidOptions) {
  EXPECT_EQ(Spool::Open(Options("")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Spool::Open(Options(TestDir(), /*segment_bytes=*/10)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SpoolTest, AppendsAreReadBackInOrderWithTheirPositions) {
  const std::string dir = TestDir();
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->first_unreleased(), 0u);
  EXPECT_TRUE(spool->ReadCommitted(0, 10, 1 << 20, absl::ZeroDuration()).empty());

  const std::vector<uint64_t> positions = AppendPayloads(*spool, 0, 100);
  EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end()));
  EXPECT_EQ(std::adjacent_find(positions.begin(), positions.end()), positions.end());
  EXPECT_EQ(spool->committed_end(), positions.back());

  const std::vector<Spool::Record> all = ReadAll(*spool, spool->first_unreleased());
  EXPECT_THAT(DataOf(all), ElementsAreArray(Payloads(0, 100)));
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].position, positions[i]);

  // Reading after any record's position starts with the next one.
  std::vector<Spool::Record> tail =
      spool->ReadCommitted(positions[49], 3, 1 << 20, absl::ZeroDuration());
  EXPECT_THAT(DataOf(tail), ElementsAre(Payload(50), Payload(51), Payload(52)));
  // max_bytes stops the batch, but one record is always returned.
  tail = spool->ReadCommitted(positions[9], 100, 1, absl::ZeroDuration());
  EXPECT_THAT(DataOf(tail), ElementsAre(Payload(10)));
  tail = spool->ReadCommitted(positions[9], 100, Payload(10).size() + 1, absl::ZeroDuration());
  EXPECT_THAT(DataOf(tail), ElementsAre(Payload(10), Payload(11)));

  const Spool::Stats stats = spool->stats();
  EXPECT_EQ(stats.records_appended, 100u);
  EXPECT_EQ(stats.segments, 1u);
  EXPECT_EQ(stats.bytes, positions.back());
  EXPECT_EQ(stats.unreleased_bytes, positions.back());
}

// An access time older than the modification time is one that relatime would update on the
// next read, making the next commit's fdatasync also write the inode (on ext4 without a
// journal, and wait for it). The dispatcher's reads must leave it alone.
TEST(SpoolTest, ReadingCommittedRecordsLeavesTheAccessTimeAlone) {
  const std::string dir = TestDir();
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  AppendPayloads(*spool, 0, 3);
  const std::string segment = dir + "/00000000000000000000.wal";
  const timespec times[2] = {{1000000000, 0}, {0, UTIME_OMIT}};  // atime in 2001, mtime kept
  ASSERT_EQ(utimensat(AT_FDCWD, segment.c_str(), times, 0), 0);

  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(Payloads(0, 3)));
  AppendPayloads(*spool, 3, 1);
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(Payloads(0, 4)));
  struct stat st;
  ASSERT_EQ(stat(segment.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
}

TEST(SpoolTest, ReadCommittedWaitsForAnAppendOrTheTimeout) {
  auto spool = MustOpen(Options(TestDir()));
  ASSERT_NE(spool, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(spool->ReadCommitted(0, 10, 1 << 20, absl::Milliseconds(50)).empty());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));

  std::vector<Spool::Record> got;
  std::thread reader([&] { got = spool->ReadCommitted(0, 10, 1 << 20, absl::Seconds(5)); });
  absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(AppendAndWait(*spool, "hello").ok());
  reader.join();
  EXPECT_THAT(DataOf(got), ElementsAre("hello"));

  // Close wakes a waiting reader.
  const uint64_t end = spool->committed_end();
  std::thread waiter([&] { got = spool->ReadCommitted(end, 10, 1 << 20, absl::Seconds(30)); });
  absl::SleepFor(absl::Milliseconds(20));
  spool->Close();
  waiter.join();
  EXPECT_TRUE(got.empty());
}

TEST(SpoolTest, ConcurrentAppendsShareFsyncsInBatchMode) {
  auto spool = MustOpen(Options(TestDir(), /*segment_bytes=*/1 << 20));
  ASSERT_NE(spool, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  Countdown pending(kThreads * kPerThread);
  std::mutex mu;
  std::vector<uint64_t> positions;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        spool->Append(Payload(t * kPerThread + i), [&](absl::StatusOr<uint64_t> position) {
          if (position.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            positions.push_back(*position);
          } else {
            ++failures;
          }
          pending.Decrement();
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  pending.Wait();
  EXPECT_EQ(failures.load(), 0);
  std::sort(positions.begin(), positions.end());
  EXPECT_EQ(std::unique(positions.begin(), positions.end()), positions.end());
  const Spool::Stats stats = spool->stats();
  EXPECT_EQ(stats.records_appended, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_GE(stats.fsyncs, 1u);
  EXPECT_LT(stats.fsyncs, static_cast<uint64_t>(kThreads * kPerThread / 4));
  EXPECT_EQ(ReadAll(*spool, 0).size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(SpoolTest, AnAppendToAnIdleSpoolIsCommittedByTheAppendingThread) {
  // Saves the aggregator a thread hand-off per commit: the push is durable, and its ack
  // handed on, by the time Append returns.
  auto spool = MustOpen(Options(TestDir()));
  ASSERT_NE(spool, nullptr);
  const uint64_t fsyncs_before = spool->stats().fsyncs;
  std::optional<absl::StatusOr<uint64_t>> result;
  std::thread::id done_thread;
  spool->Append("record", [&](absl::StatusOr<uint64_t> position) {
    result = std::move(position);
    done_thread = std::this_thread::get_id();
  });
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ(done_thread, std::this_thread::get_id());
  EXPECT_EQ(spool->committed_end(), **result);
  EXPECT_EQ(spool->stats().fsyncs, fsyncs_before + 1);
}

TEST(SpoolTest, EveryCommitIsCountedInTheBucketOfTheTimeItTook) {
  auto spool = MustOpen(Options(TestDir()));
  ASSERT_NE(spool, nullptr);
  const auto& bounds = Spool::kCommitBucketSeconds;
  double total_at_most = 0;
  Spool::Stats before = spool->stats();
  // Each append to an idle spool is a commit of its own, made before Append returns, so the
  // time around the call bounds the commit's.
  for (int i = 0; i < 5; ++i) {
    const absl::Time start = absl::Now();
    spool->Append("record", [](absl::StatusOr<uint64_t> position) { ASSERT_TRUE(position.ok()); });
    const double at_most = absl::ToDoubleSeconds(absl::Now() - start);
    total_at_most += at_most;
    const Spool::Stats after = spool->stats();
    std::vector<size_t> counted_in;
    for (size_t k = 0; k < after.commit_buckets.size(); ++k) {
      for (uint64_t n = before.commit_buckets[k]; n < after.commit_buckets[k]; ++n) {
        counted_in.push_back(k);
      }
    }
    ASSERT_EQ(counted_in.size(), 1u) << "one commit per append";
    const size_t k = counted_in[0];
    // The bucket's lower edge is below the time the whole call took.
    if (k > 0) {
      EXPECT_LT(bounds[k - 1], at_most) << "bucket " << k;
    }
    before = after;
  }
  EXPECT_GT(before.commit_seconds, 0);
  EXPECT_LE(before.commit_seconds, total_at_most);
}

TEST(SpoolTest, AppendsDuringACommitAreCommittedByAnotherThreadWithoutWaiting) {
  auto spool = MustOpen(Options(TestDir()));
  ASSERT_NE(spool, nullptr);
  std::promise<void> second_returned;
  std::promise<uint64_t> second_done;
  std::thread first([&] {
    spool->Append("first", [&](absl::StatusOr<uint64_t>) {
      // Still committing: the second append must neither wait for us nor be dropped.
      std::thread second([&] {
        spool->Append("second", [&](absl::StatusOr<uint64_t> position) {
          second_done.set_value(position.ok() ? *position : 0);
        });
        second_returned.set_value();
      });
      second.join();
    });
  });
  second_returned.get_future().get();
  first.join();
  const uint64_t second_position = second_done.get_future().get();
  EXPECT_GT(second_position, 0u);
  EXPECT_EQ(spool->committed_end(), second_position);
  const std::vector<Spool::Record> records = ReadAll(*spool, 0);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].data, "first");
  EXPECT_EQ(records[1].data, "second");
}

TEST(SpoolTest, AlwaysSyncsEveryAppendAndNeverSyncsNone) {
  const std::string dir = TestDir();
  {
    auto spool = MustOpen(Options(dir + "/always", 64 << 20, 1 << 30, FsyncMode::kAlways));
    ASSERT_NE(spool, nullptr);
    Countdown pending(40);
    for (int i = 0; i < 40; ++i) {
      spool->Append(Payload(i), [&](absl::StatusOr<uint64_t>) { pending.Decrement(); });
    }
    pending.Wait();
    EXPECT_GE(spool->stats().fsyncs, 40u);
  }
  {
    auto spool = MustOpen(Options(dir + "/never", 256, 1 << 30, FsyncMode::kNever));
    ASSERT_NE(spool, nullptr);
    AppendPayloads(*spool, 0, 40);
    EXPECT_GT(spool->stats().segments, 1u);
    EXPECT_EQ(spool->stats().fsyncs, 0u);
    EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(Payloads(0, 40)));
  }
}

TEST(SpoolTest, ReopenReplaysUnreleasedRecords) {
  const std::string dir = TestDir();
  std::vector<uint64_t> positions;
  {
    auto spool = MustOpen(Options(dir, /*segment_bytes=*/512));
    ASSERT_NE(spool, nullptr);
    positions = AppendPayloads(*spool, 0, 30);
    spool->Release(positions[9]);
  }
  auto spool = MustOpen(Options(dir, 512));
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->first_unreleased(), positions[9]);
  EXPECT_EQ(spool->committed_end(), positions.back());
  EXPECT_EQ(spool->stats().records_recovered, 20u);
  const std::vector<Spool::Record> replay = ReadAll(*spool, spool->first_unreleased());
  EXPECT_THAT(DataOf(replay), ElementsAreArray(Payloads(10, 20)));
  EXPECT_EQ(replay.front().position, positions[10]);
  EXPECT_LE(spool->stats().oldest_unreleased, absl::Now());

  // Appending continues after the recovered records.
  const std::vector<uint64_t> more = AppendPayloads(*spool, 30, 3);
  EXPECT_GT(more.front(), positions.back());
  EXPECT_THAT(DataOf(ReadAll(*spool, positions.back())), ElementsAreArray(Payloads(30, 3)));
}

// Each consumer's lag, from what it has: a consumer behind by the pushes of a second ago reads
// their age, one that has everything reads none, and the release position's answer is
// Stats::oldest_unreleased.
TEST(SpoolTest, OldestAppendedAfterIsEachConsumersOldestMissingRecord) {
  const std::string dir = TestDir();
  auto spool = MustOpen(Options(dir, 1 << 20));
  ASSERT_NE(spool, nullptr);
  const absl::Time before_first = absl::Now();
  const std::vector<uint64_t> first = AppendPayloads(*spool, 0, 5);
  absl::SleepFor(absl::Milliseconds(1100));  // past the marks' one-second granularity
  const absl::Time before_second = absl::Now();
  const std::vector<uint64_t> second = AppendPayloads(*spool, 5, 5);

  const absl::Time behind_all = spool->OldestAppendedAfter(spool->first_unreleased());
  EXPECT_GE(behind_all, before_first);
  EXPECT_LT(behind_all, before_second);
  EXPECT_EQ(behind_all, spool->stats().oldest_unreleased);
  const absl::Time behind_second = spool->OldestAppendedAfter(first.back());
  EXPECT_GE(behind_second, before_second);
  EXPECT_LE(behind_second, absl::Now());
  EXPECT_EQ(spool->OldestAppendedAfter(second.back()), absl::InfiniteFuture());

  // Released records are gone for every consumer.
  spool->Release(first.back());
  EXPECT_EQ(spool->OldestAppendedAfter(first[2]), behind_second);
  EXPECT_EQ(spool->stats().oldest_unreleased, behind_second);
}

// Recovered records count as appended at Open until their reader says when they were.
TEST(SpoolTest, RecoveredRecordsTakeTheAppendTimesTheirReaderNotes) {
  const std::string dir = TestDir();
  const std::vector<uint64_t> positions = AppendAndClose(dir, 6);
  ASSERT_EQ(positions.size(), 6u);
  const absl::Time opened = absl::Now();
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  EXPECT_GE(spool->stats().oldest_unreleased, opened);

  const absl::Time hour_ago = opened - absl::Hours(1);
  spool->NoteRecoveredAppendTime(spool->first_unreleased(), hour_ago);
  spool->NoteRecoveredAppendTime(positions[1], hour_ago + absl::Milliseconds(500));  // too close
  spool->NoteRecoveredAppendTime(positions[2], hour_ago + absl::Minutes(1));
  spool->NoteRecoveredAppendTime(positions[0], hour_ago + absl::Minutes(2));  // out of order
  spool->NoteRecoveredAppendTime(positions[5], hour_ago);  // past the recovered records
  EXPECT_EQ(spool->stats().oldest_unreleased, hour_ago);
  EXPECT_EQ(spool->OldestAppendedAfter(positions[1]), hour_ago);
  EXPECT_EQ(spool->OldestAppendedAfter(positions[3]), hour_ago + absl::Minutes(1));
  // Records appended since Open are as old as they are.
  const std::vector<uint64_t> more = AppendPayloads(*spool, 6, 1);
  EXPECT_GE(spool->OldestAppendedAfter(positions[5]), opened);

  spool->Release(positions[3]);
  EXPECT_EQ(spool->stats().oldest_unreleased, hour_ago + absl::Minutes(1));
  spool->Release(positions[5]);
  EXPECT_GE(spool->stats().oldest_unreleased, opened);
  spool->Release(more.back());
  EXPECT_EQ(spool->stats().oldest_unreleased, absl::InfiniteFuture());
}

TEST(SpoolTest, ReleaseDeletesWholeSegmentsAndReopenDoesNotReplayThem) {
  const std::string dir = TestDir();
  std::vector<uint64_t> positions;
  {
    auto spool = MustOpen(Options(dir, /*segment_bytes=*/300));
    ASSERT_NE(spool, nullptr);
    positions = AppendPayloads(*spool, 0, 60);
    const size_t before = SegmentFiles(dir).size();
    ASSERT_GT(before, 5u);
    EXPECT_EQ(spool->stats().segments, before);
    EXPECT_LT(spool->stats().oldest_unreleased, absl::InfiniteFuture());

    spool->Release(positions[39]);
    const std::vector<std::string> after = SegmentFiles(dir);
    EXPECT_LT(after.size(), before);
    EXPECT_EQ(spool->stats().segments, after.size());
    // The oldest remaining file holds record 40 (the first unreleased one), or starts with it.
    const uint64_t first_base = std::stoull(fs::path(after.front()).stem().string());
    EXPECT_LE(first_base, positions[39]);
    EXPECT_GT(first_base, positions[0]);
    EXPECT_EQ(spool->first_unreleased(), positions[39]);
    EXPECT_THAT(DataOf(ReadAll(*spool, spool->first_unreleased())),
                ElementsAreArray(Payloads(40, 20)));

    // Releasing less than before changes nothing.
    spool->Release(positions[5]);
    EXPECT_EQ(spool->first_unreleased(), positions[39]);
    EXPECT_EQ(SegmentFiles(dir), after);
  }
  {
    auto spool = MustOpen(Options(dir, 300));
    ASSERT_NE(spool, nullptr);
    EXPECT_EQ(spool->first_unreleased(), positions[39]);
    EXPECT_THAT(DataOf(ReadAll(*spool, spool->first_unreleased())),
                ElementsAreArray(Payloads(40, 20)));
    // Releasing everything deletes all but the active segment and clears the age.
    spool->Release(spool->committed_end());
    EXPECT_EQ(SegmentFiles(dir).size(), 1u);
    EXPECT_EQ(spool->stats().unreleased_bytes, 0u);
    EXPECT_EQ(spool->stats().oldest_unreleased, absl::InfiniteFuture());
    EXPECT_TRUE(ReadAll(*spool, spool->first_unreleased()).empty());
  }
  // Without the saved position, only what is left on disk is replayed: from the start of the
  // remaining segment, never records from deleted ones.
  fs::remove(dir + "/released");
  auto spool = MustOpen(Options(dir, 300));
  ASSERT_NE(spool, nullptr);
  const std::vector<Spool::Record> replay = ReadAll(*spool, spool->first_unreleased());
  ASSERT_FALSE(replay.empty());
  EXPECT_LT(replay.size(), 10u);
  EXPECT_EQ(replay.back().data, Payload(59));
}

TEST(SpoolTest, ReopenDeletesReleasedSegmentsWhoseDeletionWasLost) {
  const std::string dir = TestDir();
  std::vector<uint64_t> positions;
  std::string first_name, first_content;
  {
    auto spool = MustOpen(Options(dir, /*segment_bytes=*/300));
    ASSERT_NE(spool, nullptr);
    positions = AppendPayloads(*spool, 0, 30);
    first_name = SegmentFiles(dir).front();
    first_content = ReadFile(first_name);
    spool->Release(positions[20]);
    ASSERT_FALSE(fs::exists(first_name));
  }
  // As if the deletion had not reached the disk before a crash.
  WriteFile(first_name, first_content);
  auto spool = MustOpen(Options(dir, 300));
  ASSERT_NE(spool, nullptr);
  EXPECT_FALSE(fs::exists(first_name));
  EXPECT_EQ(spool->first_unreleased(), positions[20]);
  EXPECT_THAT(DataOf(ReadAll(*spool, spool->first_unreleased())),
              ElementsAreArray(Payloads(21, 9)));
  const std::vector<Spool::Record> everything = ReadAll(*spool, 0);
  ASSERT_FALSE(everything.empty());
  EXPECT_GT(everything.front().position, static_cast<uint64_t>(first_content.size()));
}

TEST(SpoolTest, RefusesAppendsBeyondMaxBytesUntilReleased) {
  const std::string dir = TestDir();
  const std::string record(80, 'r');
  const size_t framed = kHeaderSize + record.size();
  auto spool = MustOpen(Options(dir, /*segment_bytes=*/3 * framed, /*max_bytes=*/10 * framed));
  ASSERT_NE(spool, nullptr);
  std::vector<uint64_t> positions;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<uint64_t> position = AppendAndWait(*spool, record);
    ASSERT_TRUE(position.ok()) << position.status();
    positions.push_back(*position);
  }
  absl::StatusOr<uint64_t> refused = AppendAndWait(*spool, record);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_EQ(spool->stats().appends_refused, 1u);
  EXPECT_EQ(spool->stats().unreleased_bytes, 10 * framed);
  // A smaller record does not fit either; nothing old was dropped to make room.
  EXPECT_EQ(AppendAndWait(*spool, "x").status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReadAll(*spool, 0).size(), 10u);

  spool->Release(positions[1]);
  EXPECT_TRUE(AppendAndWait(*spool, record).ok());
  EXPECT_TRUE(AppendAndWait(*spool, record).ok());
  EXPECT_EQ(AppendAndWait(*spool, record).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReadAll(*spool, spool->first_unreleased()).size(), 10u);

  // A record that could never fit is a different error.
  EXPECT_EQ(AppendAndWait(*spool, std::string(11 * framed, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SpoolTest, RecordsLargerThanASegmentGetTheirOwn) {
  const std::string dir = TestDir();
  const std::string big(5000, 'B');
  {
    auto spool = MustOpen(Options(dir, /*segment_bytes=*/1024));
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(AppendAndWait(*spool, "small").ok());
    ASSERT_TRUE(AppendAndWait(*spool, big).ok());
    ASSERT_TRUE(AppendAndWait(*spool, "after").ok());
    EXPECT_EQ(SegmentFiles(dir).size(), 3u);
  }
  auto spool = MustOpen(Options(dir, 1024));
  ASSERT_NE(spool, nullptr);
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAre("small", big, "after"));
}

TEST(SpoolTest, TornTailIsCutAndAppendingContinues) {
  const std::string dir = TestDir();
  std::vector<uint64_t> positions;
  {
    auto spool = MustOpen(Options(dir));
    ASSERT_NE(spool, nullptr);
    positions = AppendPayloads(*spool, 0, 20);
  }
  const std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  // The last record loses its final 7 bytes, then garbage follows, as after a torn write; the
  // prefilled zeros after the records stay. Only the damaged bytes count as dropped.
  std::string content = ReadFile(files[0]);
  const size_t file_size = content.size();
  ASSERT_GE(file_size, positions.back());
  EXPECT_EQ(content.find_first_not_of('\0', positions.back()), std::string::npos);
  content.resize(positions.back() - 7);
  const std::string garbage = "\xa7PGW garbage that is not a record, followed by more junk......";
  content += garbage;
  content.resize(std::max(file_size, content.size()), '\0');
  WriteFile(files[0], content);

  {
    auto spool = MustOpen(Options(dir));
    ASSERT_NE(spool, nullptr);
    const Spool::Stats stats = spool->stats();
    EXPECT_EQ(stats.corrupt_tail_bytes_dropped, positions[19] - positions[18] - 7 + garbage.size());
    EXPECT_EQ(stats.corrupt_bytes_skipped, 0u);
    EXPECT_EQ(stats.records_recovered, 19u);
    EXPECT_EQ(spool->committed_end(), positions[18]);
    EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(Payloads(0, 19)));
    const std::vector<uint64_t> more = AppendPayloads(*spool, 100, 5);
    EXPECT_GT(more.front(), positions[18]);
    EXPECT_GE(fs::file_size(files[0]), more.back());
  }
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().corrupt_tail_bytes_dropped, 0u);
  std::vector<std::string> expected = Payloads(0, 19);
  for (const std::string& extra : Payloads(100, 5)) expected.push_back(extra);
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(expected));
}

// The saved release position can lie past the end of the log: records after it were lost
// (an OS crash with fsync=never) or cut (a damaged tail). Appends then reuse those positions,
// so the old position must not come back after a crash, or it would mark them delivered.
TEST(SpoolTest, AReleasePositionPastTheEndIsCorrectedBeforeAnythingIsAppended) {
  const std::string dir = TestDir();
  const std::vector<uint64_t> positions = SpoolWithPositionPastTheEnd(dir);
  ASSERT_EQ(positions.size(), 20u);

  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->first_unreleased(), positions[9]);
  const std::vector<uint64_t> acknowledged = AppendPayloads(*spool, 100, 5);
  ASSERT_LT(acknowledged.back(), positions[19]);  // positions the old value covers
  const std::string crashed = CopyAsAKillLeavesIt(dir);

  auto recovered = MustOpen(Options(crashed));
  ASSERT_NE(recovered, nullptr);
  EXPECT_THAT(DataOf(ReadAll(*recovered, recovered->first_unreleased())),
              ElementsAreArray(Payloads(100, 5)));
}

// Release saves the position at most every 200 ms; the last release of a burst is saved all
// the same once no other follows, so a crash long after replays none of the burst.
TEST(SpoolTest, TheLastReleaseOfABurstIsSavedWithoutAnotherRelease) {
  const std::string dir = TestDir();
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  const std::vector<uint64_t> positions = AppendPayloads(*spool, 0, 10);
  for (uint64_t position : positions) spool->Release(position);  // the first one is saved
  absl::SleepFor(absl::Milliseconds(500));
  const std::string crashed = CopyAsAKillLeavesIt(dir);  // no Close saves the position
  auto recovered = MustOpen(Options(crashed));
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(recovered->first_unreleased(), positions.back());
  EXPECT_TRUE(ReadAll(*recovered, recovered->first_unreleased()).empty());
}

// On a full disk the release position cannot go into a new file; it is written over the saved
// one. When it cannot be saved at all, the stale saved position is removed before released
// segments are deleted: a crash then replays from the oldest segment, where the stale
// position would have stood before a gap that Open counts as lost records.
TEST(SpoolTest, ReleasedSegmentsGoOnlyWithTheirPositionSavedOrTheStaleOneRemoved) {
  const std::string dir = TestDir();
  auto spool = MustOpen(Options(dir, /*segment_bytes=*/300));
  ASSERT_NE(spool, nullptr);
  const std::vector<uint64_t> positions = AppendPayloads(*spool, 0, 60);
  const size_t all = SegmentFiles(dir).size();
  ASSERT_GT(all, 5u);
  // No new file can be made: the position is written in place, and the segments go.
  fs::create_directory(dir + "/released.tmp");
  spool->Release(positions[19]);
  const size_t after_in_place = SegmentFiles(dir).size();
  EXPECT_LT(after_in_place, all);
  {
    auto crashed = MustOpen(Options(CopyAsAKillLeavesIt(dir), 300));
    ASSERT_NE(crashed, nullptr);
    EXPECT_EQ(crashed->first_unreleased(), positions[19]);
  }
  // Nothing can be written: the saved position (positions[19]) is now a link to an immutable
  // copy of itself, readable, not writable. The link is removed, and the segments go.
  const std::string stale = dir + "_stale_released";
  fs::remove(stale);
  fs::copy_file(dir + "/released", stale);
  ASSERT_TRUE(SetImmutable(stale, true)) << "the file system cannot make files immutable";
  fs::remove(dir + "/released");
  fs::create_symlink(stale, dir + "/released");
  spool->Release(positions[39]);
  EXPECT_TRUE(SetImmutable(stale, false));
  const std::vector<std::string> left = SegmentFiles(dir);
  EXPECT_LT(left.size(), after_in_place);
  {
    auto crashed = MustOpen(Options(CopyAsAKillLeavesIt(dir), 300));
    ASSERT_NE(crashed, nullptr);
    EXPECT_EQ(crashed->stats().corrupt_bytes_skipped, 0u);
    EXPECT_EQ(crashed->first_unreleased(), std::stoull(fs::path(left.front()).stem().string()));
  }
  // Once a new file can be made again, the position is saved.
  fs::remove(dir + "/released.tmp");
  spool->Release(positions[40]);
  spool.reset();
  auto reopened = MustOpen(Options(dir, 300));
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->first_unreleased(), positions[40]);
  EXPECT_EQ(reopened->stats().corrupt_bytes_skipped, 0u);
}

// Records that no file holds any more (a segment cut short or deleted by another program)
// are lost; Open counts them as damage instead of replaying the rest as if nothing happened.
TEST(SpoolTest, SegmentsCutShortOrDeletedAreCountedAsDamage) {
  const std::string dir = TestDir();
  std::vector<uint64_t> positions;
  {
    auto spool = MustOpen(Options(dir, /*segment_bytes=*/300));
    ASSERT_NE(spool, nullptr);
    positions = AppendPayloads(*spool, 0, 60);
    spool->Release(positions[4]);
  }
  const std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_GT(files.size(), 5u);
  const auto base = [&](size_t i) { return std::stoull(fs::path(files[i]).stem().string()); };
  ASSERT_LE(base(0), positions[4]);
  // The second segment loses its second half, the third is deleted.
  const uint64_t second_size = base(2) - base(1);
  fs::resize_file(files[1], second_size / 2);
  fs::remove(files[2]);
  // Lost: from the end of the last whole record left in the second segment (a record's
  // position is where it ends) to where the fourth segment begins.
  uint64_t kept_end = base(1);
  for (uint64_t position : positions) {
    if (position <= base(1) + second_size / 2) kept_end = std::max(kept_end, position);
  }
  const uint64_t lost = base(3) - kept_end;

  auto spool = MustOpen(Options(dir, 300));
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().corrupt_bytes_skipped, lost);
  // The rest is replayed as it was.
  EXPECT_EQ(DataOf(ReadAll(*spool, positions[4])).back(), Payload(59));

  // With the first unreleased segment gone as well, what lay between the release position
  // and the next file is counted too.
  spool.reset();
  fs::remove(files[0]);
  spool = MustOpen(Options(dir, 300));
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().corrupt_bytes_skipped, lost + (base(1) - positions[4]));
}

// The corrected position goes over the saved one in place when no new file can be made (a
// full disk): Open must not fail for want of a free block.
TEST(SpoolTest, APositionPastTheEndIsCorrectedInPlaceWhenNoNewFileCanBeMade) {
  const std::string dir = TestDir();
  const std::vector<uint64_t> positions = SpoolWithPositionPastTheEnd(dir);
  ASSERT_EQ(positions.size(), 20u);
  fs::create_directory(dir + "/released.tmp");
  {
    auto spool = MustOpen(Options(dir));
    ASSERT_NE(spool, nullptr);
    EXPECT_EQ(spool->first_unreleased(), positions[9]);
    AppendPayloads(*spool, 100, 2);
  }
  fs::remove(dir + "/released.tmp");
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  EXPECT_THAT(DataOf(ReadAll(*spool, spool->first_unreleased())),
              ElementsAreArray(Payloads(100, 2)));
}

TEST(SpoolTest, CommitsWriteIntoPrefilledZerosWhichRecoveryDoesNotTakeForDamage) {
  const std::string dir = TestDir();
  SpoolOptions options = Options(dir);
  options.prefill_bytes = 4096;
  std::vector<uint64_t> positions;
  {
    auto spool = MustOpen(options);
    ASSERT_NE(spool, nullptr);
    positions = AppendPayloads(*spool, 0, 5);
    ASSERT_LT(positions.back(), 4096u);
    // Commits inside the prefilled step leave the file's size alone: that is what spares
    // fdatasync its metadata write.
    const std::vector<std::string> files = SegmentFiles(dir);
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(fs::file_size(files[0]), 4096u);
    for (const uint64_t position : AppendPayloads(*spool, 5, 100)) positions.push_back(position);
    ASSERT_GT(positions.back(), 4096u);
    EXPECT_EQ(fs::file_size(files[0]), 8192u);
    EXPECT_EQ(spool->stats().bytes, positions.back());
    // A payload that ends in zero bytes must not be mistaken for prefilled space.
    absl::StatusOr<uint64_t> zero_ended =
        AppendAndWait(*spool, std::string("ends in zeros\0\0\0", 16));
    ASSERT_TRUE(zero_ended.ok());
    positions.push_back(*zero_ended);
  }
  auto spool = MustOpen(options);
  ASSERT_NE(spool, nullptr);
  const Spool::Stats stats = spool->stats();
  EXPECT_EQ(stats.corrupt_tail_bytes_dropped, 0u);
  EXPECT_EQ(stats.corrupt_bytes_skipped, 0u);
  EXPECT_EQ(stats.records_recovered, 106u);
  EXPECT_EQ(spool->committed_end(), positions.back());
  std::vector<std::string> expected = Payloads(0, 105);
  expected.push_back(std::string("ends in zeros\0\0\0", 16));
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(expected));
  const std::vector<uint64_t> more = AppendPayloads(*spool, 100, 1);
  EXPECT_GT(more[0], positions.back());
}

TEST(SpoolTest, ZerosLeftAfterTheRecordsOfASealedSegmentAreNotDamage) {
  // A crash between sealing a segment and cutting its prefilled zeros leaves them there.
  const std::string dir = TestDir();
  SpoolOptions options = Options(dir, /*segment_bytes=*/1024);
  options.prefill_bytes = 512;
  {
    auto spool = MustOpen(options);
    ASSERT_NE(spool, nullptr);
    AppendPayloads(*spool, 0, 40);
  }
  std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_GT(files.size(), 2u);
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i + 1 < files.size(); ++i) {
    std::string content = ReadFile(files[i]);
    content.resize(1024, '\0');
    WriteFile(files[i], content);
  }
  auto spool = MustOpen(options);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().corrupt_bytes_skipped, 0u);
  EXPECT_EQ(spool->stats().corrupt_tail_bytes_dropped, 0u);
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(Payloads(0, 40)));
}

// Waits up to 10 s for `done`.
template <typename Done>
bool WaitFor(Done done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

ino_t InodeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// A roll moves to a segment made ahead of time; a released segment is made into the next such
// spare instead of being deleted. Its old records are not read again.
TEST(SpoolTest, ReleasedSegmentsAreReusedAsNewSegmentsWithoutTheirOldRecords) {
  const std::string dir = TestDir();
  SpoolOptions options = Options(dir, /*segment_bytes=*/1024);
  options.prefill_bytes = 256;
  const std::string spare = dir + "/next.spare";
  const std::string recycled = dir + "/recycled.spare";
  auto spare_ready = [&] { return fs::exists(spare) && fs::file_size(spare) == 1024; };
  std::vector<std::string> expected;
  ino_t reused_inode = 0;
  {
    auto spool = MustOpen(options);
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(WaitFor(spare_ready));
    const std::vector<uint64_t> first = AppendPayloads(*spool, 0, 60);  // several segments
    ASSERT_GT(SegmentFiles(dir).size(), 2u);
    spool->Release(first.back());  // all but the active segment
    ASSERT_TRUE(fs::exists(recycled));
    reused_inode = InodeOf(recycled);
    ASSERT_NE(reused_inode, 0u);

    // Rolls now take spares, and the preparer makes the released segment the next one.
    ASSERT_TRUE(WaitFor(spare_ready));
    AppendPayloads(*spool, 60, 20);
    ASSERT_TRUE(WaitFor([&] { return !fs::exists(recycled) && spare_ready(); }));
    AppendPayloads(*spool, 80, 40);
    bool reused = false;
    for (const std::string& file : SegmentFiles(dir)) reused |= InodeOf(file) == reused_inode;
    EXPECT_TRUE(reused) << "no segment is the released file";
    // Only the segments and at most two spares take disk space.
    EXPECT_LE(static_cast<size_t>(std::distance(fs::directory_iterator(dir), {})),
              SegmentFiles(dir).size() + 4);  // + LOCK, released, two spares

    expected = Payloads(60, 60);
    EXPECT_THAT(DataOf(ReadAll(*spool, first.back())), ElementsAreArray(expected));
  }
  auto spool = MustOpen(options);
  ASSERT_NE(spool, nullptr);
  const Spool::Stats stats = spool->stats();
  EXPECT_EQ(stats.corrupt_bytes_skipped, 0u);
  EXPECT_EQ(stats.corrupt_tail_bytes_dropped, 0u);
  EXPECT_EQ(stats.records_recovered, 60u);
  EXPECT_THAT(DataOf(ReadAll(*spool, spool->first_unreleased())), ElementsAreArray(expected));
}

// A spool whose active segment is a released one reused, holding a few new records before
// its old ones; closed. What the two tests below open again.
struct ReusedSegmentSpool {
  SpoolOptions options;
  std::string reused_path;          // the active segment's file
  uint64_t reused_base = 0;         // its first position
  uint64_t released = 0;            // position released before the reuse
  std::vector<std::string> kept;    // the payloads after `released`, in order
  std::vector<uint64_t> positions;  // theirs
};

ReusedSegmentSpool MakeSpoolEndingInAReusedSegment() {
  ReusedSegmentSpool made;
  const std::string dir = TestDir();
  made.options = Options(dir, /*segment_bytes=*/1024);
  made.options.prefill_bytes = 256;
  const std::string spare = dir + "/next.spare";
  const std::string recycled = dir + "/recycled.spare";
  auto spare_ready = [&] { return fs::exists(spare) && fs::file_size(spare) == 1024; };
  auto spool = MustOpen(made.options);
  EXPECT_NE(spool, nullptr);
  if (spool == nullptr) return made;
  EXPECT_TRUE(WaitFor(spare_ready));
  const std::vector<uint64_t> first = AppendPayloads(*spool, 0, 60);
  made.released = first.back();
  spool->Release(made.released);
  EXPECT_TRUE(fs::exists(recycled));
  const ino_t reused_inode = InodeOf(recycled);
  // The next roll takes the spare made before; the preparer then makes the released segment
  // the next spare.
  int next = 60;
  const auto append = [&] {
    made.positions.push_back(AppendPayloads(*spool, next, 1).front());
    made.kept.push_back(Payload(next++));
  };
  while (fs::exists(recycled) && next < 200) append();
  EXPECT_TRUE(WaitFor(spare_ready));
  EXPECT_EQ(InodeOf(spare), reused_inode);
  // Not zeroed: the spare still holds released records.
  EXPECT_NE(ReadFile(spare).find("push-"), std::string::npos);

  // Appends until the roll takes that spare, then two more.
  int after_roll = -1;
  while (after_roll < 2 && next < 300) {
    append();
    for (const std::string& file : SegmentFiles(dir)) {
      if (InodeOf(file) == reused_inode) {
        made.reused_path = file;
        ++after_roll;
      }
    }
  }
  EXPECT_FALSE(made.reused_path.empty()) << "the reused segment never became active";
  made.reused_base = std::stoull(fs::path(made.reused_path).stem().string());
  EXPECT_LT(made.positions.back() - made.reused_base, 1024u - 100)
      << "the test needs old records after the new ones";
  return made;
}

// Commits into a reused segment end their records with zeros: after a restart its old
// records are neither read again nor taken for a damaged tail.
TEST(SpoolTest, AReusedSegmentsOldBytesAreNotReadAgainNorTakenForDamage) {
  const ReusedSegmentSpool made = MakeSpoolEndingInAReusedSegment();
  ASSERT_FALSE(made.reused_path.empty());
  ASSERT_NE(ReadFile(made.reused_path).find("push-", made.positions.back() - made.reused_base),
            std::string::npos)
      << "old records follow the new ones";
  auto spool = MustOpen(made.options);
  ASSERT_NE(spool, nullptr);
  const Spool::Stats stats = spool->stats();
  EXPECT_EQ(stats.corrupt_tail_bytes_dropped, 0u);
  EXPECT_EQ(stats.corrupt_bytes_skipped, 0u);
  EXPECT_EQ(spool->committed_end(), made.positions.back());
  EXPECT_THAT(DataOf(ReadAll(*spool, made.released)), ElementsAreArray(made.kept));
  const std::vector<uint64_t> more = AppendPayloads(*spool, 300, 1);
  EXPECT_GT(more.front(), made.positions.back());
}

// A torn last record in a reused segment is dropped and counted alone, not with the old bytes
// after it.
TEST(SpoolTest, ATornRecordInAReusedSegmentIsTheOnlyDamageCounted) {
  const ReusedSegmentSpool made = MakeSpoolEndingInAReusedSegment();
  ASSERT_FALSE(made.reused_path.empty());
  const size_t n = made.positions.size();
  ASSERT_GE(n, 2u);
  const uint64_t last_begin = made.positions[n - 2] - made.reused_base;
  const uint64_t last_end = made.positions[n - 1] - made.reused_base;
  ASSERT_GT(made.positions[n - 2], made.reused_base);  // both in the reused segment
  std::string content = ReadFile(made.reused_path);
  content.replace(last_end - 3, 3, "XYZ");
  WriteFile(made.reused_path, content);

  auto spool = MustOpen(made.options);
  ASSERT_NE(spool, nullptr);
  const Spool::Stats stats = spool->stats();
  EXPECT_EQ(stats.corrupt_tail_bytes_dropped, last_end - last_begin);
  EXPECT_EQ(stats.corrupt_bytes_skipped, 0u);
  EXPECT_EQ(spool->committed_end(), made.positions[n - 2]);
  const std::vector<std::string> expected(made.kept.begin(), made.kept.end() - 1);
  EXPECT_THAT(DataOf(ReadAll(*spool, made.released)), ElementsAreArray(expected));
}

// A spare takes a whole segment of disk at once: with less than two segments free it would
// take the space the commits need, so none is made, and rolls create segments that grow as
// they are written.
TEST(SpoolTest, ASpareIsMadeOnlyWhileTwoSegmentsOfDiskAreFree) {
  const std::string dir = TestDir();
  SpoolOptions options = Options(dir, /*segment_bytes=*/1024);
  options.prefill_bytes = 256;
  auto free_bytes = std::make_shared<std::atomic<uint64_t>>(uint64_t{1} << 30);
  options.free_bytes = [free_bytes] { return free_bytes->load(); };
  const std::string spare = dir + "/next.spare";
  auto spool = MustOpen(options);
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(spare) && fs::file_size(spare) == 1024; }));

  free_bytes->store(2047);
  const std::vector<uint64_t> positions = AppendPayloads(*spool, 0, 60);  // several rolls
  ASSERT_GT(SegmentFiles(dir).size(), 3u);
  absl::SleepFor(absl::Milliseconds(300));  // a preparer would have made one meanwhile
  EXPECT_FALSE(fs::exists(spare));
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(Payloads(0, 60)));
}

// A roll can fail after the next segment's file appeared: here the spare is renamed into place
// and then cannot be opened. Recovery ends the old segment where that file begins, so a
// smaller record must not go into the old segment past that point, acknowledged and then lost
// on the next Open; the next commit retries the roll instead.
TEST(SpoolTest, AfterAFailedRollNoRecordIsWrittenWhereTheNextSegmentBegins) {
  const std::string dir = TestDir();
  SpoolOptions options = Options(dir, /*segment_bytes=*/1024);
  options.prefill_bytes = 256;
  const std::string spare = dir + "/next.spare";
  const std::string first(1024 - 100 - kHeaderSize, 'f');  // leaves 100 bytes of the segment
  const std::string large(200, 'l'), small(20, 's');
  {
    auto spool = MustOpen(options);
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(AppendAndWait(*spool, first).ok());
    ASSERT_TRUE(WaitFor([&] { return fs::exists(spare) && fs::file_size(spare) == 1024; }));
    absl::SleepFor(absl::Milliseconds(100));  // the preparer marks it ready once it is closed
    {
      NoFreeDescriptors no_descriptors;
      EXPECT_FALSE(AppendAndWait(*spool, large).ok());
    }
    ASSERT_EQ(SegmentFiles(dir).size(), 2u) << "the failed roll was to leave a file behind";
    const absl::StatusOr<uint64_t> acknowledged = AppendAndWait(*spool, small);
    ASSERT_TRUE(acknowledged.ok()) << acknowledged.status();
  }
  auto spool = MustOpen(options);
  ASSERT_NE(spool, nullptr);
  EXPECT_THAT(DataOf(ReadAll(*spool, spool->first_unreleased())), ElementsAre(first, small));
  EXPECT_EQ(spool->stats().corrupt_bytes_skipped, 0u);
}

TEST(SpoolTest, SurplusReleasedSegmentsAreDeletedButOneAReaderHoldsIsReadToItsEnd) {
  const std::string dir = TestDir();
  SpoolOptions options = Options(dir, /*segment_bytes=*/1024);
  options.prefill_bytes = 256;
  options.delete_step_bytes = 100;  // several steps per segment
  auto spool = MustOpen(options);
  ASSERT_NE(spool, nullptr);
  const std::vector<uint64_t> positions = AppendPayloads(*spool, 0, 80);
  const std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_GT(files.size(), 4u);
  const auto base = [&](size_t i) { return std::stoull(fs::path(files[i]).stem().string()); };
  // The reader stops in the first segment, holding it.
  const std::vector<Spool::Record> first =
      spool->ReadCommitted(0, 3, 1 << 20, absl::ZeroDuration());
  ASSERT_EQ(first.size(), 3u);

  // Three segments: the first is held by the reader (unlinked), the second parked for reuse,
  // the third deleted in steps.
  spool->Release(base(3));
  const std::vector<std::string> left = SegmentFiles(dir);
  EXPECT_EQ(left.size(), files.size() - 3);
  EXPECT_EQ(left.front(), files[3]);
  EXPECT_TRUE(fs::exists(dir + "/recycled.spare"));

  // The reader reads its segment to the end, then goes on where the released ones end.
  std::vector<std::string> expected;
  for (size_t i = 3; i < positions.size(); ++i) {
    if (positions[i] <= base(1) || positions[i] > base(3)) expected.push_back(Payload(i));
  }
  EXPECT_THAT(DataOf(ReadAll(*spool, first.back().position)), ElementsAreArray(expected));
  EXPECT_EQ(spool->stats().corrupt_bytes_skipped, 0u);
}

TEST(SpoolTest, ASegmentLeftHalfDeletedByACrashIsDeletedByOpen) {
  const std::string dir = TestDir();
  SpoolOptions options = Options(dir, /*segment_bytes=*/1024);
  options.prefill_bytes = 0;  // no segment kept for reuse: released ones are all deleted
  std::string copy, original;
  uint64_t release = 0;
  {
    auto spool = MustOpen(options);
    ASSERT_NE(spool, nullptr);
    AppendPayloads(*spool, 0, 80);
    const std::vector<std::string> files = SegmentFiles(dir);
    ASSERT_GT(files.size(), 3u);
    original = files[1];
    copy = dir + "/copy";
    fs::copy_file(original, copy);
    release = std::stoull(fs::path(files[3]).stem().string());
    spool->Release(release);
    ASSERT_FALSE(fs::exists(original));
  }
  // As a crash between two steps leaves it: the release position saved, the file shortened.
  fs::rename(copy, original);
  fs::resize_file(original, fs::file_size(original) / 2);
  auto spool = MustOpen(options);
  ASSERT_NE(spool, nullptr);
  EXPECT_FALSE(fs::exists(original));
  EXPECT_EQ(spool->first_unreleased(), release);
  EXPECT_EQ(spool->stats().corrupt_bytes_skipped, 0u);
  EXPECT_EQ(spool->stats().corrupt_tail_bytes_dropped, 0u);
  const std::vector<Spool::Record> replay = ReadAll(*spool, spool->first_unreleased());
  ASSERT_FALSE(replay.empty());
  EXPECT_EQ(replay.back().data, Payload(79));
}

TEST(SpoolTest, LeftoverSparesAreNotTakenForSegments) {
  const std::string dir = TestDir();
  {
    auto spool = MustOpen(Options(dir));
    ASSERT_NE(spool, nullptr);
    AppendPayloads(*spool, 0, 3);
  }
  // As a crash could leave them: a released segment parked for reuse, a half-made spare.
  fs::copy_file(SegmentFiles(dir).front(), dir + "/recycled.spare");
  WriteFile(dir + "/next.spare", std::string(100, 'x'));
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  EXPECT_FALSE(fs::exists(dir + "/recycled.spare"));
  EXPECT_EQ(spool->stats().records_recovered, 3u);
  EXPECT_EQ(spool->stats().corrupt_bytes_skipped, 0u);
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(Payloads(0, 3)));
}

TEST(SpoolTest, WithoutPrefillTheFileEndsWithTheLastRecord) {
  const std::string dir = TestDir();
  SpoolOptions options = Options(dir);
  options.prefill_bytes = 0;
  auto spool = MustOpen(options);
  ASSERT_NE(spool, nullptr);
  const std::vector<uint64_t> positions = AppendPayloads(*spool, 0, 3);
  const std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::file_size(files[0]), positions.back());
}

// A flipped byte anywhere in one record (header or payload) loses that record only.
TEST(SpoolTest, DamagedRecordInTheLastSegmentLosesOnlyThatRecord) {
  for (size_t offset_in_record : {size_t{0}, size_t{5}, size_t{9}, size_t{17}, size_t{25}}) {
    SCOPED_TRACE(offset_in_record);
    const std::string dir = absl::StrCat(TestDir(), "_", offset_in_record);
    fs::remove_all(dir);
    std::vector<uint64_t> positions;
    {
      auto spool = MustOpen(Options(dir));
      ASSERT_NE(spool, nullptr);
      positions = AppendPayloads(*spool, 0, 20);
    }
    const std::string file = SegmentFiles(dir).front();
    std::string content = ReadFile(file);
    content[positions[9] + offset_in_record] ^= 0x10;  // inside record 10
    WriteFile(file, content);

    auto spool = MustOpen(Options(dir));
    ASSERT_NE(spool, nullptr);
    std::vector<std::string> expected = Payloads(0, 10);
    for (const std::string& later : Payloads(11, 9)) expected.push_back(later);
    EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(expected));
    EXPECT_EQ(spool->stats().corrupt_bytes_skipped, positions[10] - positions[9]);
    EXPECT_EQ(spool->stats().corrupt_tail_bytes_dropped, 0u);
    ASSERT_TRUE(AppendAndWait(*spool, "new").ok());
    EXPECT_EQ(ReadAll(*spool, positions[19]).size(), 1u);
  }
}

TEST(SpoolTest, DamageInAnOlderSegmentKeepsTheRecordsAroundIt) {
  const std::string dir = TestDir();
  std::vector<uint64_t> positions;
  {
    auto spool = MustOpen(Options(dir, /*segment_bytes=*/400));
    ASSERT_NE(spool, nullptr);
    positions = AppendPayloads(*spool, 0, 30);
  }
  const std::vector<std::string> files = SegmentFiles(dir);
  ASSERT_GT(files.size(), 2u);
  // Garble the last 5 bytes of the first segment: its last record is lost, nothing else.
  std::string first = ReadFile(files[0]);
  const uint64_t first_end = first.size();
  for (size_t i = first.size() - 5; i < first.size(); ++i) first[i] = '~';
  WriteFile(files[0], first);
  const auto lost = std::find(positions.begin(), positions.end(), first_end);
  ASSERT_NE(lost, positions.end());
  const int lost_index = static_cast<int>(lost - positions.begin());

  auto spool = MustOpen(Options(dir, 400));
  ASSERT_NE(spool, nullptr);
  std::vector<std::string> expected = Payloads(0, lost_index);
  for (const std::string& later : Payloads(lost_index + 1, 29 - lost_index)) {
    expected.push_back(later);
  }
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(expected));
  EXPECT_EQ(spool->stats().corrupt_bytes_skipped,
            positions[lost_index] - (lost_index > 0 ? positions[lost_index - 1] : 0));
  EXPECT_EQ(spool->stats().corrupt_tail_bytes_dropped, 0u);
  EXPECT_EQ(fs::file_size(files[0]), first_end);  // older segments are left as they are
}

TEST(SpoolTest, ReadingFromAnyPositionAcrossSegments) {
  auto spool = MustOpen(Options(TestDir(), /*segment_bytes=*/200));
  ASSERT_NE(spool, nullptr);
  const std::vector<uint64_t> positions = AppendPayloads(*spool, 0, 40);
  ASSERT_GT(spool->stats().segments, 5u);
  for (int start : {39, 0, 17, 3, 38, 25}) {
    std::vector<Spool::Record> got =
        spool->ReadCommitted(positions[start], 5, 1 << 20, absl::ZeroDuration());
    EXPECT_THAT(DataOf(got), ElementsAreArray(Payloads(start + 1, std::min(5, 39 - start))))
        << start;
  }
  // A position inside a record reads from that record on.
  std::vector<Spool::Record> got =
      spool->ReadCommitted(positions[20] - 1, 1, 1 << 20, absl::ZeroDuration());
  EXPECT_THAT(DataOf(got), ElementsAre(Payload(20)));
}

size_t OpenFileCount() {
  return static_cast<size_t>(std::distance(fs::directory_iterator("/proc/self/fd"), {}));
}

TEST(SpoolTest, ManySmallSegmentsAreReadInOrderWithoutHoldingThemOpen) {
  const std::string dir = TestDir();
  const size_t files_before = OpenFileCount();
  // Every record gets a segment of its own; more segments than one read visits at a time.
  auto spool = MustOpen(Options(dir, /*segment_bytes=*/40));
  ASSERT_NE(spool, nullptr);
  std::vector<uint64_t> positions = AppendPayloads(*spool, 0, 150);
  ASSERT_TRUE(AppendAndWait(*spool, "").ok());  // empty records are records too
  EXPECT_EQ(spool->stats().segments, 151u);
  EXPECT_LE(OpenFileCount(), files_before + 4);

  std::vector<std::string> expected = Payloads(0, 150);
  expected.push_back("");
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(expected));

  // Segments are deleted under the dispatcher: reading on returns at most released records it
  // had open, then everything unreleased; a read from before the deleted range starts with the
  // oldest remaining record.
  std::vector<Spool::Record> first = spool->ReadCommitted(0, 3, 1 << 20, absl::ZeroDuration());
  ASSERT_EQ(first.size(), 3u);
  spool->Release(positions[99]);
  EXPECT_EQ(spool->stats().segments, 51u);
  const std::vector<std::string> rest = DataOf(ReadAll(*spool, first.back().position));
  ASSERT_GE(rest.size(), 51u);
  EXPECT_THAT(std::vector<std::string>(rest.end() - 51, rest.end()),
              ElementsAreArray(expected.end() - 51, expected.end()));
  EXPECT_THAT(DataOf(spool->ReadCommitted(0, 2, 1 << 20, absl::ZeroDuration())),
              ElementsAre(Payload(100), Payload(101)));
  spool.reset();
  EXPECT_LE(OpenFileCount(), files_before);
}

TEST(SpoolTest, DamageAfterOpenIsSkippedWhileReading) {
  const std::string dir = TestDir();
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  const std::vector<uint64_t> positions = AppendPayloads(*spool, 0, 10);
  const std::string file = SegmentFiles(dir).front();
  std::string content = ReadFile(file);
  content[positions[4] + kHeaderSize + 3] ^= 0x01;  // a payload byte of record 5
  WriteFile(file, content);

  std::vector<std::string> expected = Payloads(0, 5);
  for (const std::string& later : Payloads(6, 4)) expected.push_back(later);
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(expected));
  EXPECT_EQ(spool->stats().corrupt_bytes_skipped, positions[5] - positions[4]);
}

TEST(SpoolTest, CloseCommitsQueuedAppendsAndThenRefuses) {
  const std::string dir = TestDir();
  std::atomic<int> ok{0};
  {
    auto spool = MustOpen(Options(dir));
    ASSERT_NE(spool, nullptr);
    for (int i = 0; i < 200; ++i) {
      spool->Append(Payload(i), [&](absl::StatusOr<uint64_t> position) {
        if (position.ok()) ++ok;
      });
    }
    spool->Close();
    EXPECT_EQ(ok.load(), 200);
    absl::StatusOr<uint64_t> late = AppendAndWait(*spool, "late");
    EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  EXPECT_THAT(DataOf(ReadAll(*spool, 0)), ElementsAreArray(Payloads(0, 200)));
}

TEST(SpoolTest, ASecondOpenOfTheSameDirectoryFails) {
  const std::string dir = TestDir();
  auto spool = MustOpen(Options(dir));
  ASSERT_NE(spool, nullptr);
  absl::StatusOr<std::unique_ptr<Spool>> second = Spool::Open(Options(dir));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  spool.reset();
  EXPECT_TRUE(Spool::Open(Options(dir)).ok());
}

// The child appends as fast as it can and reports each acknowledged (payload index, position)
// through a pipe until it is killed; every acknowledged record must survive.
TEST(SpoolTest, AcknowledgedRecordsSurviveSigkill) {
  const std::string dir = TestDir();
  const SpoolOptions options = Options(dir, /*segment_bytes=*/16 << 10);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(options);
    if (!spool.ok()) _exit(2);
    std::atomic<int> in_flight{0};
    for (uint64_t i = 0;; ++i) {
      while (in_flight.load() > 200) usleep(50);
      ++in_flight;
      (*spool)->Append(Payload(static_cast<int>(i)), [&, i](absl::StatusOr<uint64_t> position) {
        if (position.ok()) {
          const uint64_t message[2] = {i, *position};
          if (write(pipe_fds[1], message, sizeof(message)) != sizeof(message)) _exit(3);
        }
        --in_flight;
      });
    }
  }
  close(pipe_fds[1]);
  std::map<uint64_t, uint64_t> acked;  // position -> payload index
  uint64_t message[2];
  const absl::Time deadline = absl::Now() + absl::Seconds(4);
  while (acked.size() < 3000 && absl::Now() < deadline &&
         read(pipe_fds[0], message, sizeof(message)) == sizeof(message)) {
    acked[message[1]] = message[0];
  }
  kill(child, SIGKILL);
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  // Acks written before the kill are still in the pipe.
  while (read(pipe_fds[0], message, sizeof(message)) == sizeof(message))
    acked[message[1]] = message[0];
  close(pipe_fds[0]);
  ASSERT_GT(acked.size(), 100u);

  auto spool = MustOpen(options);
  ASSERT_NE(spool, nullptr);
  std::map<uint64_t, std::string> on_disk;
  for (auto& record : ReadAll(*spool, spool->first_unreleased())) {
    on_disk[record.position] = std::move(record.data);
  }
  size_t missing = 0;
  for (const auto& [position, index] : acked) {
    const auto found = on_disk.find(position);
    if (found == on_disk.end() || found->second != Payload(static_cast<int>(index))) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged records";
  EXPECT_GE(on_disk.size(), acked.size());
  // New appends work after the crash recovery.
  EXPECT_TRUE(AppendAndWait(*spool, "after crash").ok());
}

}  // namespace
}  // namespace pushgate
