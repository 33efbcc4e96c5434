// The aggregator's on-disk write-ahead log ("spool") of accepted pushes, so that a push
// acknowledged to a client survives aggregator crashes (kill -9) and backend outages.
//
// Flow: Append() each accepted push (opaque bytes) and acknowledge the client only once its
// `done` reports a position; one dispatcher reads committed records in order with
// ReadCommitted() and hands them to every backend; once all backends delivered up to position
// P it calls Release(P), which deletes the segment files holding only released records. After a
// restart every record not yet released is read again, so a record can be delivered twice after
// a crash, but an acknowledged record is never lost.
//
// On disk: `dir` holds segment files named by the log position of their first byte
// (`00000000000000000000.wal`, 20 digits), a `released` file with the last persisted release
// position, and a `LOCK` file that keeps a second process from opening the same directory.
// With prefill (see SpoolOptions::prefill_bytes) it also holds `next.spare`, the next segment
// made ahead of time (segment_bytes long, synced), which a roll renames into place, and at
// times `recycled.spare`, a released segment kept to become the next spare rather than
// deleted: deleting a whole segment frees its blocks in one file-system transaction, and
// commits waited tens of milliseconds behind it. A spare is a released segment with its old
// bytes, or else zeros; Open deletes both files.
// Positions are byte offsets in the log's global address space; a record's position is the
// offset just past its end, so positions increase with every record and the position of the
// last record handled is the natural "after" of the next read. Each record carries its own
// position and a CRC-32C; see internal/record_format.h.
//
// Recovery (Open): every record is checked. Damaged bytes (a torn write at the end, a flipped
// bit) are skipped up to the next valid record, so one bad record hides no later ones; unusable
// bytes at the end of the last segment are cut off. Both are logged and counted in Stats, and
// so are unreleased positions no file holds any more (a segment cut short or deleted by
// another program, or lost to an OS crash with fsync=never), counted with the skipped bytes.
// Zeros after a segment's last record are prefilled space (SpoolOptions::prefill_bytes), or
// the end mark that each commit into a reused segment writes after its records; what follows
// them is space not written yet (zeros, or a released segment's old records, which carry
// other positions) and not damage either.
#ifndef PUSHGATE_LIBS_SPOOL_SPOOL_H_
#define PUSHGATE_LIBS_SPOOL_SPOOL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pushgate {

// When an append counts as durable, i.e. when its `done` is called.
enum class FsyncMode {
  // Group commit: a commit writes every queued append with one write and one fdatasync,
  // so appends arriving during an fdatasync share the next one. Survives power loss.
  kBatch,
  // One write and one fdatasync per append, none shared. Survives power loss; slowest.
  kAlways,
  // Written to the OS but never synced: survives an aggregator crash, not an OS crash or power
  // loss.
  kNever,
};

// Parses "batch", "always" or "never"; InvalidArgument otherwise.
absl::StatusOr<FsyncMode> ParseFsyncMode(absl::string_view text);
// The inverse of ParseFsyncMode.
absl::string_view FsyncModeName(FsyncMode mode);

struct SpoolOptions {
  // Created (with parents) if missing.
  std::string dir;
  FsyncMode fsync = FsyncMode::kBatch;
  // A new segment starts when the current one would grow beyond this (a single larger record
  // gets a segment of its own). Smaller segments free disk space sooner after Release().
  size_t segment_bytes = 64 << 20;
  // Limit on unreleased bytes (committed and queued records plus their 20-byte headers, not yet
  // released). An append beyond it is refused with ResourceExhausted; old data is never dropped
  // to make room. Disk use can exceed it by the released part of the oldest segment and, with
  // prefill, by two spare segments.
  size_t max_bytes = 1 << 30;
  // Zeros written ahead of the records, in steps of this many bytes (0: none). fdatasync must
  // also write a file's metadata when its size changed, which takes a second disk write and
  // about doubles the time of every group commit; writing into zeros already on disk keeps the
  // size unchanged, as databases do with their write-ahead logs. The cost is that such a byte
  // reaches the disk twice (as a zero, then as data), and that a commit that needs the next
  // step writes it. Used only when fsync is batch or always. Segments after the first come
  // whole (`next.spare` above), so steps matter for the first segment only; once segments are
  // released, a spare is a released segment whose old bytes take the zeros' place, and each
  // byte is written once.
  size_t prefill_bytes = 1 << 20;
  // A delivered segment that is not kept as the next spare (after a backend outage, the
  // surplus ones) is shortened by this many bytes at a time, 2 ms apart, before it is
  // unlinked; 0 unlinks it at once. Freeing a whole segment's blocks is one large file-system
  // transaction, and commits syncing meanwhile waited for it: 35-55 ms per 64 MiB segment on
  // ext4 here, against at most 10 ms in 4 MiB steps. Deletion then takes the thread that
  // released the segments (an uploader) about 100 ms per 64 MiB. Used only when fsync is
  // batch or always.
  size_t delete_step_bytes = 4 << 20;
  // How a commit's data is synced (fdatasync when null): tests replace it to make it fail.
  std::function<int(int fd)> sync_data;
  // Bytes free for the spool on its file system (statvfs' f_bavail when null): tests replace
  // it to make the disk look short. A spare segment is made only while at least two segments'
  // worth is free, so that the spare never takes the space commits need.
  std::function<uint64_t()> free_bytes;
};

class Spool {
 public:
  using AppendDone = std::function<void(absl::StatusOr<uint64_t> position)>;

  struct Record {
    uint64_t position;  // log position just past the record
    std::string data;
  };

  // Upper bounds, in seconds, of the buckets that Stats::commit_buckets counts commits in.
  static constexpr std::array<double, 12> kCommitBucketSeconds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

  struct Stats {
    uint64_t bytes = 0;             // size of all segment files
    uint64_t segments = 0;          // segment files
    uint64_t unreleased_bytes = 0;  // what max_bytes bounds
    uint64_t max_bytes = 0;         // SpoolOptions::max_bytes
    // Free on the spool's file system for an unprivileged writer (UINT64_MAX when unknown).
    uint64_t disk_free_bytes = 0;
    uint64_t committed_end = 0;  // position of the last durable record
    uint64_t first_unreleased = 0;
    uint64_t records_appended = 0;   // committed by this instance
    uint64_t records_recovered = 0;  // unreleased records found by Open
    uint64_t fsyncs = 0;             // fdatasync/fsync calls, directories included
    // Commits (one write, and the sync the fsync mode asks for) by the time they took:
    // commit_buckets[i] counts those that took at most kCommitBucketSeconds[i] and more than
    // the bound before it; the last entry those slower than every bound. Every record in a
    // commit is acknowledged only once it ends.
    std::array<uint64_t, kCommitBucketSeconds.size() + 1> commit_buckets{};
    double commit_seconds = 0;                // total time of the commits counted above
    uint64_t appends_refused = 0;             // ResourceExhausted
    uint64_t append_errors = 0;               // appends failed by an I/O error
    uint64_t corrupt_tail_bytes_dropped = 0;  // cut from the end of the last segment by Open
    uint64_t corrupt_bytes_skipped = 0;       // other damaged or missing bytes passed over
    // Commit time of the oldest unreleased record, to within about a second (recovered records
    // count as committed at Open); absl::InfiniteFuture() when everything is released.
    absl::Time oldest_unreleased = absl::InfiniteFuture();
  };

  // Opens or creates the spool in options.dir and recovers its records (see the top of this
  // file). Fails on invalid options, I/O errors, or when another process has the directory
  // open (FailedPrecondition).
  static absl::StatusOr<std::unique_ptr<Spool>> Open(SpoolOptions options);

  ~Spool();  // Close()
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Queues `record`. `done` receives the record's position once it is durable per the fsync
  // mode, or an error: ResourceExhausted beyond max_bytes, InvalidArgument for a record that
  // could never fit (over max_bytes or 1 GiB), FailedPrecondition after Close(), or the I/O
  // error that failed the write (ResourceExhausted for a full disk). After a failed fdatasync
  // the spool refuses every later append with that error, because the OS may have dropped the
  // unsynced data; restart to recover. Refusals call `done` before Append returns. When no
  // commit is under way, the calling thread writes and syncs the queued records itself, and
  // so calls their `done` before returning (Append then blocks for a disk sync); otherwise
  // the record waits for the next commit, made by another thread. Either way `done`s are
  // called in append order. `done` may call any method but Close() and should be quick: it
  // delays the next commit.
  void Append(std::string record, AppendDone done);

  // Appends several records, each exactly as Append would, in order, but queued at once, so
  // that they share one commit. With `commit_here` false the calling thread never commits:
  // the committer thread does, while the caller goes on (for a caller with other work that
  // could join the next commit).
  struct AppendRequest {
    std::string record;
    AppendDone done;
  };
  void AppendAll(std::vector<AppendRequest> records, bool commit_here = true);

  // For the (single) dispatcher: waits up to `timeout` for committed records with positions
  // greater than `after` and returns the first of them, in order: at most `max_records`, and
  // no more once their data reaches `max_bytes` (at least one is returned when any is
  // available). Released records may or may not be returned. Returns an empty vector on
  // timeout or once Close() began. Reading on from the last returned position is sequential;
  // any other `after` (e.g. first_unreleased() at start) costs a scan of one segment.
  // Concurrent calls are serialized.
  std::vector<Record> ReadCommitted(uint64_t after, size_t max_records, size_t max_bytes,
                                    absl::Duration timeout);

  // The position after which unreleased records start: replay begins with
  // ReadCommitted(first_unreleased(), ...).
  uint64_t first_unreleased() const;
  // The position of the last durable record (equal to first_unreleased() when empty).
  uint64_t committed_end() const;

  // Declares every record with position <= `position` delivered everywhere (values beyond
  // committed_end() are clamped to it; lower values than before are ignored). Deletes segment
  // files holding only such records and saves the position, so that a restart replays none of
  // them. The saved position is rewritten at most every 200 ms (and on deletions and Close),
  // and a position left unsaved is saved by the spool's thread once that interval is over, so
  // a crash normally replays only the records released in its last 200 ms or so. On a full
  // disk the position is written over the saved one in place; when it cannot be written at
  // all, the stale saved position is removed before the segments past it are deleted, so a
  // restart replays from the oldest segment rather than count the gap as lost records.
  void Release(uint64_t position);

  Stats stats() const;

  // For a consumer that has every record with position <= `position`: when the oldest record
  // it does not have was appended, to the granularity of Stats::oldest_unreleased (which is
  // this for the release position); InfiniteFuture when it has every durable record.
  absl::Time OldestAppendedAfter(uint64_t position) const;

  // Records recovered at Open count as appended at Open: the spool does not know their times.
  // A reader that does (a push carries its receive time) tells it, in position order, that the
  // record after `position` was appended at `time`, so that their age, and the alerts on it,
  // do not start over at every restart. Ignored for positions at or past committed_end() as it
  // was at Open or not after the last one told, and for times less than a second after the
  // last one told.
  void NoteRecoveredAppendTime(uint64_t position, absl::Time time);

  // OK, or why the spool refuses every append until the process restarts: a failed sync (the
  // kernel may have dropped what it had not written) or a failed cut-back after a failed
  // write. A supervisor should restart the process then (the aggregator's /-/healthy fails).
  absl::Status health() const;

  // Refuses further appends, commits the queued ones (their `done` is called), stops the
  // committer thread, wakes ReadCommitted() and saves the release position. Idempotent.
  void Close();

 private:
  class Impl;
  explicit Spool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_SPOOL_SPOOL_H_
