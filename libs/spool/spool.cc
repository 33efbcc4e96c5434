#include "libs/spool/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/crc32c/crc32c.h"
#include "libs/spool/internal/record_format.h"
#include "libs/thread_name/thread_name.h"

namespace pushgate {
namespace {

using spool_internal::EncodeHeader;
using spool_internal::kHeaderSize;
using spool_internal::kMaxPayloadSize;
using spool_internal::SegmentReader;

constexpr absl::string_view kSegmentSuffix = ".wal";
constexpr size_t kSegmentNameDigits = 20;
constexpr char kReleasedFile[] = "released";
constexpr char kReleasedTempFile[] = "released.tmp";
// Zeros made ahead of time for the next segment (see PrepareSpare), and a released segment
// kept to be made into the next of them.
constexpr char kSpareFile[] = "next.spare";
constexpr char kRecycledFile[] = "recycled.spare";
constexpr char kLockFile[] = "LOCK";
constexpr uint32_t kReleasedMagic = 0x52504750;  // "PGPR"
constexpr absl::Duration kReleasePersistInterval = absl::Milliseconds(200);
// Granularity and memory bound of Stats::oldest_unreleased.
constexpr absl::Duration kAgeMarkInterval = absl::Seconds(1);
constexpr size_t kMaxAgeMarks = 1 << 17;
// Bounds the work of one ReadCommitted call under the lock when segments are many and small.
constexpr size_t kMaxSegmentsPerRead = 64;

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  const int error = errno;
  std::string message = absl::StrCat(what, " ", path, ": ", strerror(error));
  if (error == ENOSPC || error == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

std::string SegmentName(uint64_t base) { return absl::StrFormat("%020d%s", base, kSegmentSuffix); }

std::optional<uint64_t> ParseSegmentName(absl::string_view name) {
  if (name.size() != kSegmentNameDigits + kSegmentSuffix.size()) return std::nullopt;
  if (name.substr(kSegmentNameDigits) != kSegmentSuffix) return std::nullopt;
  const absl::string_view digits = name.substr(0, kSegmentNameDigits);
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  uint64_t base;
  if (!absl::SimpleAtoi(digits, &base)) return std::nullopt;
  return base;
}

// Retries short writes; `iov` is consumed.
bool WriteFully(int fd, std::vector<iovec>& iov, uint64_t offset) {
  size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    const ssize_t n = pwritev(fd, &iov[first], count, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    offset += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

// Writes zeros to file bytes [begin, end).
bool WriteZeros(int fd, uint64_t begin, uint64_t end) {
  static const std::vector<char>* const zeros = new std::vector<char>(64 << 10);
  std::vector<iovec> iov;
  for (uint64_t at = begin; at < end; at += zeros->size()) {
    iov.push_back({const_cast<char*>(zeros->data()),
                   static_cast<size_t>(std::min<uint64_t>(zeros->size(), end - at))});
  }
  return WriteFully(fd, iov, begin);
}

// Where the damage after a segment's last valid record, at `begin`, ends (`begin` if there is
// none): at the first kHeaderSize zero bytes, or past the last non-zero byte before `end`.
// What follows a segment's records is zeros (prefilled, or the kHeaderSize of them that a
// commit writes after its records in a recycled segment) and then possibly a released
// segment's old bytes, which are no damage: a record holds its own position, so none of them
// passes for a record here. A torn write leaves non-zero bytes right after the last record.
// `begin` on a read error, which the caller's reads report.
uint64_t DamagedEnd(int fd, uint64_t begin, uint64_t end) {
  std::vector<char> block(64 << 10);
  uint64_t nonzero_end = begin;  // just past the last non-zero byte seen
  for (uint64_t from = begin; from < end;) {
    const size_t size = static_cast<size_t>(std::min<uint64_t>(block.size(), end - from));
    ssize_t n;
    do {
      n = pread(fd, block.data(), size, static_cast<off_t>(from));
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(size)) return begin;
    for (size_t i = 0; i < size; ++i) {
      if (block[i] != 0) {
        nonzero_end = from + i + 1;
      } else if (from + i + 1 - nonzero_end >= kHeaderSize) {
        return nonzero_end;
      }
    }
    from += size;
  }
  return nonzero_end;
}

// One segment file. Readers open their own descriptor, so only the active segment keeps one
// open and the number of open files does not grow with the number of segments.
struct Segment {
  Segment(uint64_t base, std::string path) : base(base), path(std::move(path)) {}
  ~Segment() {
    if (fd >= 0) close(fd);
  }

  const uint64_t base;
  const std::string path;
  // Read-write descriptor while the segment is active, else -1. Used by the committing thread
  // only.
  int fd = -1;
  // The rest is guarded by Impl::mu_.
  // Bytes of records in the file. Changed only by the committing thread (and Open).
  uint64_t file_size = 0;
  // The file's actual size: file_size plus the zeros prefilled after it. Used by the
  // committing thread only.
  uint64_t prefilled = 0;
  // A released segment reused as this one without being zeroed: its old records follow the
  // new ones, so each commit writes kHeaderSize zeros after its records, which tell recovery
  // where they end (see DamagedEnd). Used by the committing thread only.
  bool old_bytes_follow = false;
  // Bytes readers may read: the committed size of the active segment, the valid prefix of a
  // sealed one.
  uint64_t readable = 0;
  // Damage found by Open, skipped by readers without reporting it again. Fixed after Open.
  std::vector<spool_internal::Gap> gaps;
};

}  // namespace

absl::StatusOr<FsyncMode> ParseFsyncMode(absl::string_view text) {
  if (text == "batch") return FsyncMode::kBatch;
  if (text == "always") return FsyncMode::kAlways;
  if (text == "never") return FsyncMode::kNever;
  return absl::InvalidArgumentError(
      absl::StrCat("fsync mode must be batch, always or never, not \"", text, "\""));
}

absl::string_view FsyncModeName(FsyncMode mode) {
  switch (mode) {
    case FsyncMode::kBatch:
      return "batch";
    case FsyncMode::kAlways:
      return "always";
    case FsyncMode::kNever:
      return "never";
  }
  return "unknown";
}

class Spool::Impl {
 public:
  explicit Impl(SpoolOptions options) : options_(std::move(options)) {}

  ~Impl() {
    Close();
    cursor_reader_.reset();
    if (cursor_fd_ >= 0) close(cursor_fd_);
    if (dir_fd_ >= 0) close(dir_fd_);
    if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
  }

  absl::Status Recover();
  void Start() {
    committer_ = std::thread([this] {
      SetCurrentThreadName("spool-commit");
      CommitterLoop();
    });
    if (UsesSpare()) {
      preparer_ = std::thread([this] {
        SetCurrentThreadName("spool-spare");
        PreparerLoop();
      });
    }
  }

  void Append(std::string record, AppendDone done);
  void AppendAll(std::vector<AppendRequest> records, bool commit_here);
  // Queues one record or says why not; the caller holds mu_ and notifies the committer.
  absl::Status QueueLocked(AppendRequest& request);
  std::vector<Record> ReadCommitted(uint64_t after, size_t max_records, size_t max_bytes,
                                    absl::Duration timeout);
  uint64_t first_unreleased() const {
    std::lock_guard<std::mutex> lock(mu_);
    return FirstUnreleasedLocked();
  }
  uint64_t committed_end() const {
    std::lock_guard<std::mutex> lock(mu_);
    return committed_end_;
  }
  void Release(uint64_t position);
  Stats stats() const;
  absl::Time OldestAppendedAfter(uint64_t position) const;
  void NoteRecoveredAppendTime(uint64_t position, absl::Time time);
  absl::Status health() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }
  void Close();

 private:
  struct Pending {
    std::string data;
    AppendDone done;
  };

  std::string PathOf(absl::string_view name) const { return absl::StrCat(options_.dir, "/", name); }
  uint64_t FirstUnreleasedLocked() const { return std::max(released_, segments_.front()->base); }
  absl::Time OldestAppendedAfterLocked(uint64_t position) const;
  absl::Status SyncDir();
  // Deletes a released segment file. If nobody reads it any more (`unread`), its blocks are
  // freed in delete_step_bytes steps first (see SpoolOptions); a reader still holding it reads
  // on from its descriptor after the unlink, but would find the file cut short.
  void DeleteSegmentFile(const std::string& path, bool unread) const;
  absl::StatusOr<std::shared_ptr<Segment>> CreateSegment(uint64_t base);
  // The segment a roll moves to: the prepared spare renamed, or a new empty file.
  absl::StatusOr<std::shared_ptr<Segment>> NextSegment(uint64_t base);
  // Whether segments are prefilled, and so made ahead of time by the preparer thread.
  bool UsesSpare() const {
    return options_.prefill_bytes > 0 && options_.fsync != FsyncMode::kNever;
  }
  // The preparer thread: keeps one spare ready.
  void PreparerLoop();
  // Saves the release position if the last Release left it unsaved.
  void SaveUnsavedRelease();
  // Makes kSpareFile, segment_bytes long and synced: a released segment renamed (its old
  // bytes kept, `*old_bytes` set) or else a new file of zeros. False if that failed or the
  // spool is closing.
  bool PrepareSpare(bool* old_bytes);
  // Bytes free on the spool's file system (SpoolOptions::free_bytes).
  uint64_t FreeBytes() const;
  std::optional<uint64_t> LoadReleased();
  // Saves the release position (without fsync); false if it could not.
  bool PersistReleased(uint64_t position);
  // WriteReleased, or when no new file can be made (a full disk), the position written over
  // the saved one in place (synced whatever `durable` says).
  absl::Status SaveReleased(uint64_t position, bool durable);
  absl::Status OverwriteReleased(uint64_t position);
  // Marks the release position unsaved, to be saved by the committer at `due` (an earlier
  // due time already set stands). Takes mu_.
  void ScheduleReleaseSave(absl::Time due);
  // Removes the saved position (it could not be updated and segments past it are about to be
  // deleted), so that a restart replays from the oldest segment.
  void RemoveStaleReleased();
  // Writes the release position file, with fsync of the file and the directory when
  // `durable`.
  absl::Status WriteReleased(uint64_t position, bool durable);
  void AddAgeMarkLocked(uint64_t position, absl::Time now);

  // Points the cursor at the start of `segment`. NotFound if its file was deleted.
  absl::Status OpenCursor(std::shared_ptr<Segment> segment);

  void CommitterLoop();
  // Commits `batch` (taken from queue_ by the thread that set committing_), rolling to new
  // segments as needed.
  void CommitBatch(std::vector<Pending>& batch);
  // Writes batch[begin, end) (which all fit the active segment), syncs per the fsync mode,
  // publishes and acknowledges them.
  void CommitRun(std::vector<Pending>& batch, size_t begin, size_t end);
  void FailRecords(std::vector<Pending>& batch, size_t begin, size_t end,
                   const absl::Status& status);
  void CountCommitLocked(absl::Duration took);
  // Logs a commit that took long enough for clients to notice (rate-limited).
  void WarnIfSlow(absl::Duration took, size_t records, uint64_t bytes);
  // Writes zeros after the active segment's records, a prefill step ahead, once the records
  // reached the zeros written before; the caller's coming sync makes them durable.
  void Prefill(Segment& segment);

  const SpoolOptions options_;
  int dir_fd_ = -1;
  int lock_fd_ = -1;

  // std::mutex rather than absl::Mutex so ThreadSanitizer understands the locking (the system
  // Abseil is not instrumented). Guards the members up to age_marks_.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;    // the committer thread waits for appends to take over
  std::condition_variable commit_cv_;  // readers wait for commits
  std::deque<std::shared_ptr<Segment>> segments_;  // back() is active
  std::vector<Pending> queue_;
  uint64_t queued_bytes_ = 0;  // framed size of queue_ and the batch
  uint64_t committed_end_ = 0;
  uint64_t released_ = 0;
  bool closing_ = false;
  // Whether the last append was refused for max_bytes (to log the change, not each refusal).
  bool refusing_full_ = false;
  // Some thread is writing and syncing a batch: an appending thread that found the spool idle,
  // or the committer thread. Only that thread touches active_ and the segment's file.
  bool committing_ = false;
  absl::Status failed_;
  Stats counters_;
  // (start position, commit time) samples, at most one per kAgeMarkInterval, oldest first.
  std::deque<std::pair<uint64_t, absl::Time>> age_marks_;
  // The same for records recovered at Open (positions below recovered_end_), as a reader
  // tells them (NoteRecoveredAppendTime); ahead of age_marks_, whose first mark says Open.
  std::deque<std::pair<uint64_t, absl::Time>> recovered_age_marks_;
  uint64_t recovered_end_ = 0;

  // Owned by the committing thread (the same object as segments_.back()).
  std::shared_ptr<Segment> active_;
  // A roll to the next segment failed, and may have left that segment's file behind (a spare
  // renamed into place, then not opened; a file created, then its name not synced). Recovery
  // ends the active segment where such a file begins, so no record may be written past that
  // point: the next commit rolls first, whatever its size. The committing thread's.
  bool roll_pending_ = false;
  absl::Time last_slow_warning_ = absl::InfinitePast();  // also the committing thread's
  std::thread committer_;
  std::thread preparer_;
  std::condition_variable spare_cv_;  // the preparer waits for the spare to be taken
  bool spare_ready_ = false;          // guarded by mu_
  bool spare_old_bytes_ = false;      // guarded by mu_: the ready spare is a recycled segment
  // Taken alone: guards that kRecycledFile exists, and moving it in or out.
  std::mutex recycle_mu_;
  bool recycled_parked_ = false;

  // Reader cursor, guarded by read_mu_ (taken before mu_): `cursor_reader_` reads
  // `cursor_segment_` through `cursor_fd_` and is positioned at the first record after
  // `cursor_after_`.
  std::mutex read_mu_;
  std::shared_ptr<Segment> cursor_segment_;
  int cursor_fd_ = -1;
  std::unique_ptr<SegmentReader> cursor_reader_;
  uint64_t cursor_after_ = 0;

  // Taken before mu_; guards the members below.
  std::mutex release_mu_;
  uint64_t persisted_released_ = 0;
  absl::Time last_persist_ = absl::InfinitePast();
  // Whether a valid `released` file may be on disk (false once RemoveStaleReleased took it).
  bool released_file_present_ = true;
  // A release that Release did not save (it saves at most every kReleasePersistInterval) and
  // when the committer thread saves it, unless another release does first; guarded by mu_.
  bool release_unsaved_ = false;
  absl::Time release_save_due_ = absl::InfiniteFuture();

  std::mutex close_mu_;
};

// ---------------------------------------------------------------------------------------
// Opening and recovery.

absl::Status Spool::Impl::SyncDir() {
  if (options_.fsync == FsyncMode::kNever) return absl::OkStatus();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.fsyncs;
  }
  if (fsync(dir_fd_) != 0) return ErrnoStatus("fsync", options_.dir);
  return absl::OkStatus();
}

void Spool::Impl::DeleteSegmentFile(const std::string& path, bool unread) const {
  constexpr absl::Duration kPause = absl::Milliseconds(2);
  // Without syncs no commit waits for the file system's transactions.
  const uint64_t step =
      !unread || options_.fsync == FsyncMode::kNever ? 0 : options_.delete_step_bytes;
  const int fd = step > 0 ? open(path.c_str(), O_WRONLY | O_CLOEXEC) : -1;
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0) {
    // No sync between steps: the point is small transactions, not durable ones; a crash
    // midway leaves a shorter released segment, which Open deletes.
    for (uint64_t size = st.st_size; size > step;) {
      size -= step;
      if (ftruncate(fd, static_cast<off_t>(size)) != 0) break;
      absl::SleepFor(kPause);
    }
  }
  if (fd >= 0) close(fd);
  if (unlink(path.c_str()) != 0) {
    LOG(ERROR) << "spool: deleting released segment " << path << ": " << strerror(errno);
  }
}

absl::StatusOr<std::shared_ptr<Segment>> Spool::Impl::NextSegment(uint64_t base) {
  bool have_spare, old_bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    have_spare = spare_ready_;
    old_bytes = spare_old_bytes_;
  }
  std::shared_ptr<Segment> segment;
  absl::Status failed;
  if (have_spare) {
    // The preparer leaves the spare alone until spare_ready_ is cleared below.
    const std::string path = PathOf(SegmentName(base));
    const int fd = rename(PathOf(kSpareFile).c_str(), path.c_str()) == 0
                       ? open(path.c_str(), O_RDWR | O_CLOEXEC)
                       : -1;
    if (fd >= 0) {
      segment = std::make_shared<Segment>(base, path);
      segment->fd = fd;
      segment->prefilled = options_.segment_bytes;
      segment->old_bytes_follow = old_bytes;
      // The new name must be durable before records in it are acknowledged; its size already
      // is.
      failed = SyncDir();
    } else {
      LOG(WARNING) << "spool: " << ErrnoStatus("taking the prepared segment", path)
                   << "; creating an empty one";
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      spare_ready_ = false;
    }
    spare_cv_.notify_one();  // the preparer starts on the next spare
  }
  if (!failed.ok()) return failed;
  if (segment != nullptr) return segment;
  return CreateSegment(base);
}

void Spool::Impl::PreparerLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      spare_cv_.wait(lock, [this] { return closing_ || !spare_ready_; });
      if (closing_) return;
    }
    bool old_bytes = false;
    const bool prepared = PrepareSpare(&old_bytes);
    std::unique_lock<std::mutex> lock(mu_);
    if (prepared) {
      spare_ready_ = true;
      spare_old_bytes_ = old_bytes;
    } else if (!closing_) {
      // A disk short of space, say: rolls create empty segments meanwhile. Try again later.
      spare_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return closing_; });
    }
  }
}

uint64_t Spool::Impl::FreeBytes() const {
  if (options_.free_bytes) return options_.free_bytes();
  struct statvfs fs;
  if (fstatvfs(dir_fd_, &fs) != 0) return UINT64_MAX;  // unknown: let the writes tell
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

bool Spool::Impl::PrepareSpare(bool* old_bytes) {
  const std::string path = PathOf(kSpareFile);
  // A released segment, when there is one, is reused instead of a new file being allocated:
  // deleting a whole segment frees thousands of blocks in one journal transaction, and
  // commits waited tens of milliseconds behind it. Its old bytes stay (only a part past its
  // end, if it is short, is zeroed): commits write into its blocks as they would into zeros,
  // without changing the file's size, and each spool byte reaches the disk once instead of
  // twice.
  bool recycled;
  {
    std::lock_guard<std::mutex> lock(recycle_mu_);
    recycled = recycled_parked_ && rename(PathOf(kRecycledFile).c_str(), path.c_str()) == 0;
    recycled_parked_ = false;
  }
  // A spare holds a whole segment of the disk. With less than two segments free it would
  // take the space the active segment's commits need (a full disk while nothing is
  // undelivered, and no roll to free it, as the active segment cannot fill); without it a
  // roll creates the next segment, which grows as it is written. A released segment parked
  // for reuse is deleted then rather than kept, giving its space back.
  const uint64_t free = FreeBytes();
  if (free / 2 < options_.segment_bytes) {
    if (recycled) unlink(path.c_str());
    LOG_EVERY_T(WARNING, 600) << "spool: " << free << " bytes free on the disk of " << options_.dir
                              << ", under two segments (" << options_.segment_bytes
                              << " bytes each): no segment is prepared ahead, commits keep the "
                                 "space";
    return false;
  }
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (recycled ? 0 : O_TRUNC), 0644);
  if (fd < 0) {
    LOG_EVERY_N(WARNING, 100) << "spool: " << ErrnoStatus("creating", path);
    return false;
  }
  // False with a warning on an I/O error, silently when the spool is closing.
  auto prepare = [&]() -> bool {
    struct stat st;
    if (fstat(fd, &st) != 0) {
      LOG_EVERY_N(WARNING, 100) << "spool: " << ErrnoStatus("preparing", path);
      return false;
    }
    // A recycled segment may have been larger (a record of its own).
    if (static_cast<uint64_t>(st.st_size) > options_.segment_bytes &&
        (ftruncate(fd, static_cast<off_t>(options_.segment_bytes)) != 0 || fdatasync(fd) != 0)) {
      LOG_EVERY_N(WARNING, 100) << "spool: " << ErrnoStatus("preparing", path);
      return false;
    }
    // A step at a time, each synced, so that the disk is never handed a large burst that the
    // commits' syncs would queue behind.
    const uint64_t step = std::max<uint64_t>(options_.prefill_bytes, 64 << 10);
    const uint64_t zeros_from =
        recycled ? std::min<uint64_t>(st.st_size, options_.segment_bytes) : 0;
    for (uint64_t at = zeros_from; at < options_.segment_bytes; at += step) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (closing_) return false;
      }
      if (!WriteZeros(fd, at, std::min<uint64_t>(at + step, options_.segment_bytes)) ||
          fdatasync(fd) != 0) {
        LOG_EVERY_N(WARNING, 100) << "spool: " << ErrnoStatus("preparing", path);
        return false;
      }
    }
    *old_bytes = recycled && zeros_from > 0;
    return true;
  };
  const bool prepared = prepare();
  close(fd);
  // A partial spare (the disk filled up while it was written) gives its blocks back to the
  // commits; the next attempt starts over.
  if (!prepared) unlink(path.c_str());
  return prepared;
}

absl::StatusOr<std::shared_ptr<Segment>> Spool::Impl::CreateSegment(uint64_t base) {
  // No file at or past the end of the log belongs to it (Open loads every segment file), so
  // truncating a leftover from a failed earlier attempt is safe.
  const std::string path = PathOf(SegmentName(base));
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("creating", path);
  auto segment = std::make_shared<Segment>(base, path);
  segment->fd = fd;
  // The new name must be durable before records in it are acknowledged.
  absl::Status synced = SyncDir();
  if (!synced.ok()) return synced;
  return segment;
}

std::optional<uint64_t> Spool::Impl::LoadReleased() {
  const std::string path = PathOf(kReleasedFile);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buffer[17];
  ssize_t n;
  do {
    n = pread(fd, buffer, sizeof(buffer), 0);
  } while (n < 0 && errno == EINTR);
  close(fd);
  uint32_t magic, crc;
  uint64_t position;
  if (n == 16) {
    std::memcpy(&magic, buffer, 4);
    std::memcpy(&crc, buffer + 4, 4);
    std::memcpy(&position, buffer + 8, 8);
    if (magic == kReleasedMagic && crc == Crc32c(absl::string_view(buffer + 8, 8))) {
      return position;
    }
  }
  // It is written without fsync (see PersistReleased), so a crash can leave it damaged.
  LOG(WARNING) << "spool: ignoring damaged " << path << "; replaying from the oldest segment";
  return std::nullopt;
}

namespace {
// The `released` file's 16 bytes: magic, CRC-32C of the position, the position.
void EncodeReleased(uint64_t position, char (&buffer)[16]) {
  std::memcpy(buffer, &kReleasedMagic, 4);
  std::memcpy(buffer + 8, &position, 8);
  const uint32_t crc = Crc32c(absl::string_view(buffer + 8, 8));
  std::memcpy(buffer + 4, &crc, 4);
}
}  // namespace

void Spool::Impl::RemoveStaleReleased() {
  if (!released_file_present_) return;
  const std::string path = PathOf(kReleasedFile);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    LOG(ERROR) << "spool: " << ErrnoStatus("removing the stale", path);
    return;
  }
  released_file_present_ = false;
  LOG(WARNING) << "spool: removed the saved release position, which could not be updated; a "
                  "restart replays from the oldest segment";
  // Before the segments' deletions reach the disk, or an OS crash could keep the stale file
  // without them.
  const absl::Status synced = SyncDir();
  if (!synced.ok()) LOG(ERROR) << "spool: " << synced;
}

absl::Status Spool::Impl::OverwriteReleased(uint64_t position) {
  char buffer[16];
  EncodeReleased(position, buffer);
  const std::string path = PathOf(kReleasedFile);
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("opening", path);
  ssize_t n;
  do {
    n = pwrite(fd, buffer, sizeof(buffer), 0);
  } while (n < 0 && errno == EINTR);
  absl::Status status;
  if (n != static_cast<ssize_t>(sizeof(buffer))) {
    if (n >= 0) errno = EIO;
    status = ErrnoStatus("writing", path);
  } else if (fdatasync(fd) != 0) {
    // Synced, unlike a new file's rename (which ext4 orders before the unlinks of the
    // segments past it): an overwrite in place is not, and an OS crash could otherwise keep
    // the old position without those segments, a gap that Open counts as lost records.
    status = ErrnoStatus("syncing", path);
  }
  if (close(fd) != 0 && status.ok()) status = ErrnoStatus("closing", path);
  return status;
}

absl::Status Spool::Impl::WriteReleased(uint64_t position, bool durable) {
  char buffer[16];
  EncodeReleased(position, buffer);
  const std::string temp = PathOf(kReleasedTempFile);
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("creating", temp);
  ssize_t n;
  do {
    n = write(fd, buffer, sizeof(buffer));
  } while (n < 0 && errno == EINTR);
  absl::Status status;
  if (n != static_cast<ssize_t>(sizeof(buffer))) {
    if (n >= 0) errno = EIO;
    status = ErrnoStatus("writing", temp);
  } else if (durable && fdatasync(fd) != 0) {
    status = ErrnoStatus("syncing", temp);
  }
  if (close(fd) != 0 && status.ok()) status = ErrnoStatus("closing", temp);
  if (!status.ok()) return status;
  if (rename(temp.c_str(), PathOf(kReleasedFile).c_str()) != 0) {
    return ErrnoStatus("renaming", temp);
  }
  return durable ? SyncDir() : absl::OkStatus();
}

// Saved without fsync: losing it only replays already delivered records, which the design
// allows, and the rename never exposes a half-written file under the real name.
absl::Status Spool::Impl::SaveReleased(uint64_t position, bool durable) {
  const absl::Status written = WriteReleased(position, durable);
  if (written.ok()) return written;
  // A full disk has no block for a new file, but the saved one has its block: it is
  // overwritten in place. A torn write fails the CRC, and Open then replays from the oldest
  // segment, which only repeats deliveries.
  const absl::Status in_place = OverwriteReleased(position);
  if (in_place.ok()) return in_place;
  return absl::Status(written.code(),
                      absl::StrCat(written.message(), "; in place: ", in_place.message()));
}

bool Spool::Impl::PersistReleased(uint64_t position) {
  const absl::Status written = SaveReleased(position, /*durable=*/false);
  last_persist_ = absl::Now();
  if (!written.ok()) {
    LOG_EVERY_T(WARNING, 10) << "spool: could not save the release position: " << written;
    return false;
  }
  persisted_released_ = position;
  released_file_present_ = true;
  return true;
}

void Spool::Impl::SaveUnsavedRelease() {
  // Not waited for: the committer must not stall behind a Release deleting segments. The
  // Release under way may save the position itself; if not, the next turn does.
  std::unique_lock<std::mutex> release_lock(release_mu_, std::try_to_lock);
  if (!release_lock.owns_lock()) return ScheduleReleaseSave(absl::Now() + kReleasePersistInterval);
  uint64_t released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    released = released_;
  }
  if (released == persisted_released_ || PersistReleased(released)) return;
  ScheduleReleaseSave(last_persist_ + kReleasePersistInterval);  // failed: tried again later
}

void Spool::Impl::ScheduleReleaseSave(absl::Time due) {
  std::lock_guard<std::mutex> lock(mu_);
  if (release_unsaved_) return;
  release_unsaved_ = true;
  release_save_due_ = due;
  work_cv_.notify_one();
}

absl::Status Spool::Impl::Recover() {
  const std::string& dir = options_.dir;
  // mkdir -p. A directory made here exists after a power loss only once its parent is synced:
  // records acknowledged in the first seconds of a new install must not vanish with it.
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (mkdir(prefix.c_str(), 0755) == 0) {
      const size_t parent_end = prefix.find_last_of('/');
      const std::string parent = parent_end == 0 || parent_end == std::string::npos
                                     ? (parent_end == 0 ? "/" : ".")
                                     : prefix.substr(0, parent_end);
      const int parent_fd = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      const bool synced = parent_fd >= 0 && fsync(parent_fd) == 0;
      if (parent_fd >= 0) close(parent_fd);
      if (!synced) return ErrnoStatus("syncing", parent);
    } else if (errno != EEXIST) {
      return ErrnoStatus("creating", prefix);
    }
    if (slash == std::string::npos) break;
  }
  dir_fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) return ErrnoStatus("opening", dir);
  const std::string lock_path = PathOf(kLockFile);
  lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return ErrnoStatus("opening", lock_path);
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("spool directory ", dir, " is in use by another process"));
    }
    return ErrnoStatus("locking", lock_path);
  }

  std::vector<uint64_t> bases;
  DIR* listing = opendir(dir.c_str());
  if (listing == nullptr) return ErrnoStatus("listing", dir);
  while (const dirent* entry = readdir(listing)) {
    if (std::optional<uint64_t> base = ParseSegmentName(entry->d_name)) bases.push_back(*base);
  }
  closedir(listing);
  std::sort(bases.begin(), bases.end());
  unlink(PathOf(kReleasedTempFile).c_str());
  unlink(PathOf(kSpareFile).c_str());  // made again by the preparer
  unlink(PathOf(kRecycledFile).c_str());

  const std::optional<uint64_t> released = LoadReleased();
  const uint64_t released_floor = released.value_or(0);
  uint64_t recovered = 0;
  uint64_t skipped = 0;
  uint64_t tail_dropped = 0;

  // Segments below the saved release position whose deletion did not reach the disk, or was
  // cut short (Release shortens them step by step): they hold only delivered records, so
  // they are deleted unread, and a shortened one is not taken for damage.
  size_t released_files = 0;
  while (released_files + 1 < bases.size() && bases[released_files + 1] <= released_floor) {
    const std::string path = PathOf(SegmentName(bases[released_files]));
    if (unlink(path.c_str()) != 0) {
      LOG(ERROR) << "spool: " << ErrnoStatus("deleting released", path);
      break;
    }
    ++released_files;
  }
  if (released_files > 0) {
    bases.erase(bases.begin(), bases.begin() + released_files);
    absl::Status synced = SyncDir();
    if (!synced.ok()) return synced;
  }

  // Unreleased records no file holds any more (a segment deleted or cut short by another
  // program, or lost to an OS crash with fsync=never): a sealed segment ends where the next one
  // begins, and the first one at or before the saved release position. They are lost, and
  // counted as damage so that an operator hears of it.
  const auto count_missing = [&](uint64_t from, uint64_t to, const std::string& where) {
    from = std::max(from, released_floor);
    if (to <= from) return;
    LOG(ERROR) << "spool: positions " << from << " to " << to << " (" << to - from
               << " bytes) are missing " << where << ": their records are lost";
    skipped += to - from;
  };
  if (released.has_value() && !bases.empty()) {
    count_missing(released_floor, bases.front(), "before the first segment");
  }

  std::deque<std::shared_ptr<Segment>> segments;
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool last = i + 1 == bases.size();
    const std::string path = PathOf(SegmentName(bases[i]));
    const int fd = open(path.c_str(), (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("opening", path);
    auto segment = std::make_shared<Segment>(bases[i], path);
    segment->fd = fd;  // closed below unless the segment stays active
    struct stat st;
    if (fstat(fd, &st) != 0) return ErrnoStatus("stat", path);
    segment->file_size = static_cast<uint64_t>(st.st_size);
    // Records of one segment must end before the next one starts, or positions would repeat.
    uint64_t limit = segment->file_size;
    if (!last) limit = std::min(limit, bases[i + 1] - bases[i]);

    SegmentReader reader(fd, segment->base);
    absl::string_view payload;
    uint64_t records = 0;
    while (reader.Next(limit, &payload)) {
      ++records;
      if (segment->base + reader.offset() > released_floor) ++recovered;
    }
    if (!reader.status().ok()) return reader.status();
    const uint64_t valid_end = reader.offset();
    // Zeros after the records were prefilled or written after them; only bytes before them
    // are damage.
    const uint64_t damaged_end = DamagedEnd(fd, valid_end, segment->file_size);
    segment->readable = valid_end;
    segment->gaps = reader.new_gaps();
    if (reader.skipped_bytes() > 0) {
      LOG(ERROR) << "spool: skipped " << reader.skipped_bytes() << " damaged bytes inside " << path
                 << " (kept the valid records around them)";
      skipped += reader.skipped_bytes();
    }
    if (last && valid_end < segment->file_size) {
      // A torn final write or damage at the end: cut it (and any prefilled zeros) so appends
      // continue after the last valid record.
      const uint64_t cut = damaged_end - valid_end;
      if (cut > 0) {
        LOG(WARNING) << "spool: dropping the last " << cut << " bytes of " << path
                     << " (incomplete or damaged record after " << records
                     << " valid records, at position " << segment->base + valid_end << ")";
      }
      if (ftruncate(fd, static_cast<off_t>(valid_end)) != 0) return ErrnoStatus("truncating", path);
      if (fdatasync(fd) != 0) return ErrnoStatus("syncing", path);
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.fsyncs;
      segment->file_size = valid_end;
      tail_dropped += cut;
    } else if (!last && damaged_end > valid_end) {
      const uint64_t bad = damaged_end - valid_end;
      LOG(ERROR) << "spool: the last " << bad << " bytes of " << path
                 << " are not valid records; skipping to the next segment";
      skipped += bad;
    }
    if (!last) count_missing(segment->base + segment->file_size, bases[i + 1], "after " + path);
    segment->prefilled = segment->file_size;
    if (!last) {
      close(segment->fd);
      segment->fd = -1;
    }
    segments.push_back(std::move(segment));
  }
  if (segments.empty()) {
    absl::StatusOr<std::shared_ptr<Segment>> first = CreateSegment(released_floor);
    if (!first.ok()) return first.status();
    segments.push_back(*std::move(first));
  }

  // The saved release position lies past the end of the log when its end was lost or cut:
  // records lost by an OS crash with fsync=never, a damaged tail dropped above, a file cut by
  // hand. New appends take the positions from the end on, so the old value must never be read
  // again: at the next start it would mark them delivered, and the segments holding them
  // would be deleted unread. It is replaced, durably, before anything is appended.
  const uint64_t log_end = segments.back()->base + segments.back()->file_size;
  uint64_t release_start = released_floor;
  if (released_floor > log_end) {
    LOG(WARNING) << "spool: saved release position " << released_floor
                 << " is past the end of the log (" << log_end
                 << "): records after it were lost (an OS crash with fsync=never, or a damaged "
                    "or cut last segment); continuing from the end";
    const absl::Status saved = SaveReleased(log_end, /*durable=*/true);
    if (!saved.ok()) {
      return absl::Status(saved.code(),
                          absl::StrCat("saving the corrected release position: ", saved.message()));
    }
    release_start = log_end;
  }
  // Without a saved position (a new spool, or a damaged file) everything on disk is replayed,
  // as from a position at the first segment, which is saved now: a later save must always
  // find a file it can overwrite in place when the disk is too full for a new one (see
  // PersistReleased), or released segments would never be deleted.
  if (!released.has_value()) {
    release_start = std::max(release_start, segments.front()->base);
    const absl::Status saved = SaveReleased(release_start, /*durable=*/true);
    if (!saved.ok()) LOG(WARNING) << "spool: could not save the release position: " << saved;
    released_file_present_ = saved.ok();
  }
  {
    std::lock_guard<std::mutex> release_lock(release_mu_);
    persisted_released_ = release_start;
  }
  const absl::Time now = absl::Now();
  std::lock_guard<std::mutex> lock(mu_);
  segments_ = std::move(segments);
  active_ = segments_.back();
  committed_end_ = active_->base + active_->file_size;
  released_ = release_start;
  counters_.records_recovered = recovered;
  counters_.corrupt_bytes_skipped = skipped;
  counters_.corrupt_tail_bytes_dropped = tail_dropped;
  recovered_end_ = committed_end_;
  if (committed_end_ > FirstUnreleasedLocked()) AddAgeMarkLocked(FirstUnreleasedLocked(), now);
  LOG(INFO) << "spool: opened " << options_.dir << " (" << segments_.size() << " segments, "
            << recovered << " unreleased records, fsync=" << FsyncModeName(options_.fsync) << ")";
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Appending.

void Spool::Impl::Append(std::string record, AppendDone done) {
  std::vector<AppendRequest> one;
  one.push_back({std::move(record), std::move(done)});
  AppendAll(std::move(one), /*commit_here=*/true);
}

void Spool::Impl::AppendAll(std::vector<AppendRequest> records, bool commit_here) {
  std::vector<std::pair<AppendDone, absl::Status>> refusals;
  std::vector<Pending> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (AppendRequest& request : records) {
      absl::Status refused = QueueLocked(request);
      if (!refused.ok()) refusals.emplace_back(std::move(request.done), std::move(refused));
    }
    // With no commit under way this thread commits the queue itself: handing it to the
    // committer thread would cost a wake-up and a scheduling delay on every commit, which is
    // most of a commit's latency on a busy machine. Appends arriving meanwhile wait for the
    // next commit, as they would for the committer's.
    if (!queue_.empty() && !committing_) {
      if (commit_here) {
        committing_ = true;
        batch.swap(queue_);
      } else {
        work_cv_.notify_one();
      }
    }
  }
  for (auto& [done, status] : refusals) done(std::move(status));
  if (batch.empty()) return;
  CommitBatch(batch);
  std::lock_guard<std::mutex> lock(mu_);
  committing_ = false;
  // One round only, so that a caller is not kept committing other callers' appends for long:
  // what queued up during this commit is the committer thread's.
  if (!queue_.empty() || closing_) work_cv_.notify_one();
}

absl::Status Spool::Impl::QueueLocked(AppendRequest& request) {
  const uint64_t framed = kHeaderSize + request.record.size();
  if (closing_) return absl::FailedPreconditionError("spool is closed");
  if (!failed_.ok()) return failed_;
  if (request.record.size() > kMaxPayloadSize || framed > options_.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("spool record of ", request.record.size(),
                                                   " bytes is larger than the spool can hold"));
  }
  const uint64_t unreleased = committed_end_ + queued_bytes_ - FirstUnreleasedLocked();
  if (unreleased + framed > options_.max_bytes) {
    ++counters_.appends_refused;
    absl::Status full = absl::ResourceExhaustedError(
        absl::StrCat("spool is full: ", unreleased, " unreleased bytes, limit ", options_.max_bytes,
                     " (--spool_max_bytes)"));
    // Pushes are refused (503) until deliveries free space: an operator must hear of it where
    // they look first, not only in a counter. Once per filling: deliveries end it (Release).
    if (!refusing_full_) {
      LOG(WARNING) << "spool: " << full.message()
                   << "; pushes are refused (503) until the backends take what it holds";
      refusing_full_ = true;
    }
    return full;
  }
  queued_bytes_ += framed;
  queue_.push_back(Pending{std::move(request.record), std::move(request.done)});
  return absl::OkStatus();
}

void Spool::Impl::CommitterLoop() {
  std::vector<Pending> batch;
  for (;;) {
    bool save_release = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const auto commit_ready = [this] { return !committing_ && (!queue_.empty() || closing_); };
      // The last release of a burst of deliveries is saved even when none follows (the
      // deliveries stop, or the backend goes down): a crash long after would replay the
      // whole burst otherwise.
      const auto save_due = [this] { return release_unsaved_ && absl::Now() >= release_save_due_; };
      if (release_unsaved_) {
        work_cv_.wait_until(lock, absl::ToChronoTime(release_save_due_),
                            [&] { return commit_ready() || save_due(); });
      } else {
        work_cv_.wait(lock, [&] { return commit_ready() || release_unsaved_; });
      }
      if (save_due()) {
        release_unsaved_ = false;
        save_release = true;
      } else if (!commit_ready()) {
        continue;  // a save was scheduled: wait for it
      } else {
        if (queue_.empty()) return;  // closing, and everything queued is committed
        committing_ = true;
        batch.swap(queue_);
      }
    }
    if (save_release) {
      SaveUnsavedRelease();
      continue;
    }
    CommitBatch(batch);
    batch.clear();
    std::lock_guard<std::mutex> lock(mu_);
    committing_ = false;
  }
}

void Spool::Impl::CommitBatch(std::vector<Pending>& batch) {
  // Split the batch into runs that each fit the active segment, rolling to a new segment
  // between runs.
  size_t begin = 0;
  while (begin < batch.size()) {
    absl::Status failed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      failed = failed_;
    }
    if (!failed.ok()) {
      FailRecords(batch, begin, batch.size(), failed);
      break;
    }
    const uint64_t first_size = kHeaderSize + batch[begin].data.size();
    if (active_->file_size > 0 &&
        (roll_pending_ || active_->file_size + first_size > options_.segment_bytes)) {
      absl::StatusOr<std::shared_ptr<Segment>> next =
          NextSegment(active_->base + active_->file_size);
      if (!next.ok()) {
        // Every commit retries the roll (and clients retry their 503s): one line in 10 s.
        LOG_EVERY_T(ERROR, 10) << "spool: " << next.status();
        roll_pending_ = true;
        FailRecords(batch, begin, batch.size(), next.status());
        break;
      }
      roll_pending_ = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        segments_.push_back(*next);
      }
      // The sealed segment's prefilled zeros are of no more use. Not synced: recovery takes
      // zeros after the last record for what they are.
      if (active_->prefilled > active_->file_size &&
          ftruncate(active_->fd, static_cast<off_t>(active_->file_size)) != 0) {
        LOG(WARNING) << "spool: " << ErrnoStatus("truncating sealed", active_->path);
      }
      close(active_->fd);
      active_->fd = -1;
      active_ = *std::move(next);
    }
    size_t end = begin + 1;
    if (options_.fsync != FsyncMode::kAlways) {
      uint64_t size = active_->file_size + first_size;
      while (end < batch.size() &&
             size + kHeaderSize + batch[end].data.size() <= options_.segment_bytes) {
        size += kHeaderSize + batch[end].data.size();
        ++end;
      }
    }
    CommitRun(batch, begin, end);
    begin = end;
  }
}

void Spool::Impl::CommitRun(std::vector<Pending>& batch, size_t begin, size_t end) {
  Segment& segment = *active_;
  const uint64_t old_size = segment.file_size;
  std::vector<char> headers((end - begin) * kHeaderSize);
  std::vector<iovec> iov;
  iov.reserve(2 * (end - begin));
  std::vector<uint64_t> positions;
  positions.reserve(end - begin);
  uint64_t position = segment.base + old_size;
  for (size_t i = begin; i < end; ++i) {
    char* header = headers.data() + (i - begin) * kHeaderSize;
    EncodeHeader(position, batch[i].data, header);
    iov.push_back({header, kHeaderSize});
    if (!batch[i].data.empty()) iov.push_back({batch[i].data.data(), batch[i].data.size()});
    position += kHeaderSize + batch[i].data.size();
    positions.push_back(position);
  }
  const uint64_t run_bytes = position - (segment.base + old_size);
  // In a recycled segment the run's end is marked with zeros (up to the file's end), written
  // over by the next run: else recovery would take the old bytes after a run for a torn
  // write. Within the file, so its size does not change.
  static const char kEndMark[kHeaderSize] = {};
  if (segment.old_bytes_follow && segment.prefilled > old_size + run_bytes) {
    iov.push_back({const_cast<char*>(kEndMark),
                   static_cast<size_t>(std::min<uint64_t>(
                       kHeaderSize, segment.prefilled - (old_size + run_bytes)))});
  }

  absl::Status status;
  const absl::Time now = absl::Now();
  if (!WriteFully(segment.fd, iov, old_size)) {
    status = ErrnoStatus("writing", segment.path);
    // Take the partial write back so the segment ends with a whole record again.
    segment.prefilled = old_size;
    if (ftruncate(segment.fd, static_cast<off_t>(old_size)) != 0) {
      std::lock_guard<std::mutex> lock(mu_);
      failed_ = absl::InternalError(absl::StrCat(status.message(), "; truncating it back failed: ",
                                                 strerror(errno), "; restart to recover"));
    }
  } else {
    {
      std::lock_guard<std::mutex> lock(mu_);
      segment.file_size = old_size + run_bytes;
    }
    segment.prefilled = std::max(segment.prefilled, segment.file_size);
    Prefill(segment);
    if (options_.fsync != FsyncMode::kNever) {
      const bool synced =
          (options_.sync_data ? options_.sync_data(segment.fd) : fdatasync(segment.fd)) == 0;
      if (!synced) status = ErrnoStatus("syncing", segment.path);
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.fsyncs;
      if (!synced) {
        // After a failed fdatasync the kernel may have dropped the dirty pages while the file
        // still looks complete, so nothing written since the last good sync can be trusted.
        failed_ = absl::InternalError(absl::StrCat(status.message(), "; restart to recover"));
      }
    }
  }

  if (!status.ok()) {
    // A full disk fails every commit until space is freed, at the rate pushes come in:
    // one line in 10 s (pushgate_aggregator_pushes_refused_total counts them all).
    LOG_EVERY_T(ERROR, 10) << "spool: " << status;
    FailRecords(batch, begin, end, status);
    return;
  }
  const absl::Duration took = absl::Now() - now;
  WarnIfSlow(took, end - begin, run_bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    CountCommitLocked(took);
    segment.readable = segment.file_size;
    committed_end_ = position;
    queued_bytes_ -= run_bytes;
    counters_.records_appended += end - begin;
    AddAgeMarkLocked(segment.base + old_size, now);
    commit_cv_.notify_all();
  }
  for (size_t i = begin; i < end; ++i) {
    AppendDone done = std::move(batch[i].done);
    done(positions[i - begin]);
  }
}

void Spool::Impl::CountCommitLocked(absl::Duration took) {
  const double seconds = absl::ToDoubleSeconds(took);
  const auto& bounds = kCommitBucketSeconds;
  // The first bucket whose bound is at least `seconds`; past the last bound, the overflow one.
  const size_t bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
  ++counters_.commit_buckets[bucket];
  counters_.commit_seconds += seconds;
}

void Spool::Impl::WarnIfSlow(absl::Duration took, size_t records, uint64_t bytes) {
  // Every push in the commit waited this long for its acknowledgement; a disk this slow shows
  // as latency spikes at the clients, and this line says where they came from.
  constexpr absl::Duration kSlow = absl::Milliseconds(100);
  constexpr absl::Duration kQuiet = absl::Seconds(10);  // at most one line per this
  if (took < kSlow) return;
  const absl::Time now = absl::Now();
  if (now - last_slow_warning_ < kQuiet) return;
  last_slow_warning_ = now;
  LOG(WARNING) << "spool: committing " << records << " records (" << bytes << " bytes) took "
               << absl::FormatDuration(took) << " (write and "
               << (options_.fsync == FsyncMode::kNever ? "no sync" : "fdatasync")
               << "); their pushes waited that long to be acknowledged";
}

void Spool::Impl::Prefill(Segment& segment) {
  const uint64_t step = options_.prefill_bytes;
  if (step == 0 || options_.fsync == FsyncMode::kNever || segment.prefilled > segment.file_size) {
    return;
  }
  // Up to the next multiple of the step, within the segment's size.
  const uint64_t end =
      std::min<uint64_t>((segment.file_size / step + 1) * step, options_.segment_bytes);
  if (end <= segment.prefilled) return;
  // Best effort: without the zeros (a full disk, say) commits only sync more slowly.
  if (WriteZeros(segment.fd, segment.prefilled, end)) {
    segment.prefilled = end;
  } else {
    LOG_EVERY_N(WARNING, 1000) << "spool: " << ErrnoStatus("prefilling", segment.path);
  }
}

void Spool::Impl::FailRecords(std::vector<Pending>& batch, size_t begin, size_t end,
                              const absl::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = begin; i < end; ++i) queued_bytes_ -= kHeaderSize + batch[i].data.size();
    counters_.append_errors += end - begin;
  }
  for (size_t i = begin; i < end; ++i) {
    AppendDone done = std::move(batch[i].done);
    done(status);
  }
}

void Spool::Impl::AddAgeMarkLocked(uint64_t position, absl::Time now) {
  if (!age_marks_.empty() &&
      (now - age_marks_.back().second < kAgeMarkInterval || age_marks_.size() >= kMaxAgeMarks)) {
    return;
  }
  age_marks_.emplace_back(position, now);
}

// ---------------------------------------------------------------------------------------
// Reading.

absl::Status Spool::Impl::OpenCursor(std::shared_ptr<Segment> segment) {
  cursor_reader_.reset();
  cursor_segment_.reset();
  if (cursor_fd_ >= 0) close(cursor_fd_);
  // Without O_NOATIME every read after a commit would update the file's access time (relatime
  // updates it whenever it is older than the modification time, which each commit moves), and
  // the next commit's fdatasync would then also write the inode, and wait for it, on file
  // systems without a journal. It needs the file's owner (or CAP_FOWNER), which the spool
  // normally is.
  cursor_fd_ = open(segment->path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (cursor_fd_ < 0 && errno == EPERM) {
    cursor_fd_ = open(segment->path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (cursor_fd_ < 0) {
    // ENOENT: released and deleted since the caller looked, so there is nothing to read.
    if (errno == ENOENT) return absl::NotFoundError(segment->path);
    return ErrnoStatus("opening", segment->path);
  }
  cursor_reader_ = std::make_unique<SegmentReader>(cursor_fd_, segment->base, &segment->gaps);
  cursor_segment_ = std::move(segment);
  return absl::OkStatus();
}

std::vector<Spool::Record> Spool::Impl::ReadCommitted(uint64_t after, size_t max_records,
                                                      size_t max_bytes, absl::Duration timeout) {
  std::vector<Record> out;
  if (max_records == 0) return out;
  std::lock_guard<std::mutex> read_lock(read_mu_);
  const absl::Time deadline = absl::Now() + timeout;
  // Everything before `scanned` has been looked at without finding a record past `after`.
  uint64_t scanned = after;
  size_t bytes = 0;
  for (;;) {
    // The segments to read, from the cursor's on, with how far each may be read.
    std::vector<std::pair<std::shared_ptr<Segment>, uint64_t>> view;
    uint64_t view_end;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const auto ready = [&] { return committed_end_ > scanned || closing_; };
      if (deadline == absl::InfiniteFuture()) {
        commit_cv_.wait(lock, ready);
      } else {
        commit_cv_.wait_until(lock, absl::ToChronoTime(deadline), ready);
      }
      if (committed_end_ <= scanned || closing_) break;
      view_end = committed_end_;
      if (cursor_reader_ == nullptr || cursor_after_ != after) {
        // Start over from the segment holding `after`; records up to it are skipped below.
        size_t index = 0;
        while (index + 1 < segments_.size() && segments_[index + 1]->base <= after) ++index;
        cursor_reader_.reset();
        cursor_segment_ = nullptr;
        cursor_after_ = after;
        view.emplace_back(segments_[index], segments_[index]->readable);
      } else {
        // The cursor's segment may have been released and removed meanwhile; it still reads.
        view.emplace_back(cursor_segment_, cursor_segment_->readable);
      }
      const uint64_t first_base = view.front().first->base;
      for (const auto& segment : segments_) {
        if (segment->base <= first_base) continue;
        if (view.size() == kMaxSegmentsPerRead) {
          view_end = segment->base;  // the rest on the next round
          break;
        }
        view.emplace_back(segment, segment->readable);
      }
    }

    for (size_t index = 0; index < view.size(); ++index) {
      const auto& [segment, limit] = view[index];
      if (cursor_segment_ != segment) {
        const absl::Status opened = OpenCursor(segment);
        if (absl::IsNotFound(opened)) continue;
        if (!opened.ok()) {
          LOG(ERROR) << "spool: " << opened;  // retried by the next call
          break;
        }
      }
      const uint64_t skipped_before = cursor_reader_->skipped_bytes();
      absl::string_view payload;
      while (out.size() < max_records && (bytes < max_bytes || out.empty()) &&
             cursor_reader_->Next(limit, &payload)) {
        const uint64_t position = cursor_reader_->base() + cursor_reader_->offset();
        if (position <= after) continue;
        out.push_back(Record{position, std::string(payload)});
        bytes += payload.size();
      }
      if (const uint64_t skipped = cursor_reader_->skipped_bytes() - skipped_before) {
        LOG(ERROR) << "spool: skipped " << skipped << " damaged bytes in " << segment->path
                   << " while reading";
        std::lock_guard<std::mutex> lock(mu_);
        counters_.corrupt_bytes_skipped += skipped;
      }
      if (!cursor_reader_->status().ok()) {
        LOG(ERROR) << "spool: " << cursor_reader_->status();  // retried by the next call
        break;
      }
      if (out.size() >= max_records || (bytes >= max_bytes && !out.empty())) break;
      // Not full, so this segment is read up to `limit`; a later one in the view means this
      // one is sealed and done.
    }
    if (!out.empty()) {
      cursor_after_ = out.back().position;
      break;
    }
    scanned = view_end;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Releasing, stats, closing.

void Spool::Impl::Release(uint64_t position) {
  std::lock_guard<std::mutex> release_lock(release_mu_);
  std::vector<std::shared_ptr<Segment>> doomed;
  uint64_t released;
  bool was_full;
  uint64_t unreleased;
  {
    std::lock_guard<std::mutex> lock(mu_);
    position = std::min(position, committed_end_);
    if (position <= released_) return;
    released_ = position;
    was_full = refusing_full_;
    refusing_full_ = false;
    unreleased = committed_end_ + queued_bytes_ - FirstUnreleasedLocked();
    // A segment holds only released records once the next one starts at or before the
    // release position; the active segment always stays.
    while (segments_.size() > 1 && segments_[1]->base <= released_) {
      doomed.push_back(std::move(segments_.front()));
      segments_.pop_front();
    }
    while (age_marks_.size() > 1 && age_marks_[1].first <= released_) age_marks_.pop_front();
    while (!recovered_age_marks_.empty() &&
           (released_ >= recovered_end_ ||
            (recovered_age_marks_.size() > 1 && recovered_age_marks_[1].first <= released_))) {
      recovered_age_marks_.pop_front();
    }
    if (committed_end_ <= released_) age_marks_.clear();
    released = released_;
  }
  if (was_full) {
    LOG(INFO) << "spool: deliveries made room (" << unreleased << " of " << options_.max_bytes
              << " bytes unreleased); pushes are taken again";
  }
  // Saved before the deletions, which take a while: after a crash midway, Open then finds
  // the half-deleted segments released and finishes deleting them.
  if (!doomed.empty() || absl::Now() - last_persist_ >= kReleasePersistInterval) {
    PersistReleased(released);
  }
  const bool saved = persisted_released_ == released;
  if (saved) {
    std::lock_guard<std::mutex> lock(mu_);
    release_unsaved_ = false;
  } else {
    // Skipped or failed, the save falls due an interval after the last one.
    ScheduleReleaseSave(last_persist_ + kReleasePersistInterval);
  }
  // Open takes a gap between the saved position and the first segment for records lost: when
  // the position past the segments about to go could not be saved, the stale one goes first
  // (an unlink needs no free space), and Open then replays from the oldest segment instead.
  // Keeping the segments instead could keep a full disk full for good.
  if (!doomed.empty() && !saved) RemoveStaleReleased();
  for (const auto& segment : doomed) {
    const bool unread = segment.use_count() == 1;
    // One released segment at a time is kept for the preparer to make the next spare of.
    // Only if no reader still has it open: the spare's zeros would replace what it reads.
    if (UsesSpare() && unread) {
      std::lock_guard<std::mutex> lock(recycle_mu_);
      if (!recycled_parked_ && rename(segment->path.c_str(), PathOf(kRecycledFile).c_str()) == 0) {
        recycled_parked_ = true;
        continue;
      }
    }
    // Shortened step by step, a segment reads after a crash midway as a damaged one cut
    // short, which only a saved position past it marks as delivered: without one it is
    // unlinked at once.
    DeleteSegmentFile(segment->path, unread && saved);
  }
  if (!doomed.empty()) {
    // Unsynced deletions could reappear after an OS crash; that would only replay released
    // records, but the disk space would also come back.
    absl::Status synced = SyncDir();
    if (!synced.ok()) LOG(ERROR) << "spool: " << synced;
  }
}

Spool::Stats Spool::Impl::stats() const {
  const uint64_t disk_free = FreeBytes();  // a system call: not under the lock
  std::lock_guard<std::mutex> lock(mu_);
  Stats stats = counters_;
  for (const auto& segment : segments_) stats.bytes += segment->file_size;
  stats.segments = segments_.size();
  stats.committed_end = committed_end_;
  stats.first_unreleased = FirstUnreleasedLocked();
  stats.unreleased_bytes = committed_end_ + queued_bytes_ - stats.first_unreleased;
  stats.max_bytes = options_.max_bytes;
  stats.disk_free_bytes = disk_free;
  stats.oldest_unreleased = OldestAppendedAfterLocked(stats.first_unreleased);
  return stats;
}

absl::Time Spool::Impl::OldestAppendedAfter(uint64_t position) const {
  std::lock_guard<std::mutex> lock(mu_);
  return OldestAppendedAfterLocked(position);
}

absl::Time Spool::Impl::OldestAppendedAfterLocked(uint64_t position) const {
  if (committed_end_ <= std::max(position, FirstUnreleasedLocked()) || age_marks_.empty()) {
    return absl::InfiniteFuture();
  }
  // The last mark at or before `position` covers the first record after it; marks before the
  // release position are gone, and the first one left covers it.
  const auto& marks = position < recovered_end_ && !recovered_age_marks_.empty()
                          ? recovered_age_marks_
                          : age_marks_;
  auto after = std::upper_bound(
      marks.begin(), marks.end(), position,
      [](uint64_t p, const std::pair<uint64_t, absl::Time>& mark) { return p < mark.first; });
  if (after != marks.begin()) --after;
  return after->second;
}

void Spool::Impl::NoteRecoveredAppendTime(uint64_t position, absl::Time time) {
  std::lock_guard<std::mutex> lock(mu_);
  if (position >= recovered_end_ || position < released_) return;
  if (!recovered_age_marks_.empty() &&
      (position <= recovered_age_marks_.back().first ||
       time < recovered_age_marks_.back().second + kAgeMarkInterval ||
       recovered_age_marks_.size() >= kMaxAgeMarks)) {
    return;
  }
  recovered_age_marks_.emplace_back(position, time);
}

void Spool::Impl::Close() {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    work_cv_.notify_one();
    commit_cv_.notify_all();
    spare_cv_.notify_all();
  }
  if (committer_.joinable()) committer_.join();
  if (preparer_.joinable()) preparer_.join();
  std::lock_guard<std::mutex> release_lock(release_mu_);
  uint64_t released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (segments_.empty()) return;  // Open failed
    released = released_;
  }
  if (released != persisted_released_) PersistReleased(released);
}

// ---------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(SpoolOptions options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("spool directory is empty");
  if (options.segment_bytes <= kHeaderSize) {
    return absl::InvalidArgumentError("spool segment_bytes is too small");
  }
  if (options.max_bytes <= kHeaderSize) {
    return absl::InvalidArgumentError("spool max_bytes is too small");
  }
  while (options.dir.size() > 1 && options.dir.back() == '/') options.dir.pop_back();
  auto impl = std::make_unique<Impl>(std::move(options));
  absl::Status recovered = impl->Recover();
  if (!recovered.ok()) return recovered;
  impl->Start();
  return std::unique_ptr<Spool>(new Spool(std::move(impl)));
}

Spool::Spool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Spool::~Spool() = default;

void Spool::Append(std::string record, AppendDone done) {
  impl_->Append(std::move(record), std::move(done));
}
void Spool::AppendAll(std::vector<AppendRequest> records, bool commit_here) {
  impl_->AppendAll(std::move(records), commit_here);
}
std::vector<Spool::Record> Spool::ReadCommitted(uint64_t after, size_t max_records,
                                                size_t max_bytes, absl::Duration timeout) {
  return impl_->ReadCommitted(after, max_records, max_bytes, timeout);
}
uint64_t Spool::first_unreleased() const { return impl_->first_unreleased(); }
uint64_t Spool::committed_end() const { return impl_->committed_end(); }
void Spool::Release(uint64_t position) { impl_->Release(position); }
Spool::Stats Spool::stats() const { return impl_->stats(); }
void Spool::NoteRecoveredAppendTime(uint64_t position, absl::Time time) {
  impl_->NoteRecoveredAppendTime(position, time);
}

absl::Time Spool::OldestAppendedAfter(uint64_t position) const {
  return impl_->OldestAppendedAfter(position);
}
absl::Status Spool::health() const { return impl_->health(); }
void Spool::Close() { impl_->Close(); }

}  // namespace pushgate
