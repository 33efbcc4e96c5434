#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "libs/uploader/internal/sinks.h"
#include "libs/uploader/uploader.h"

namespace pushgate {
namespace uploader_internal {
namespace {

int OpenForAppending(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

// Makes a file's directory entry durable (a new file, or a rename): fdatasync on the file
// alone does not, and a crash could otherwise lose a file whose batches were called delivered.
void SyncDirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  if (fsync(fd) != 0) {
    // The data itself is synced; at worst a crash leaves it under the file's earlier name.
  }
  close(fd);
}

class FileSink : public Sink {
 public:
  FileSink(std::string path, int fd, FileSinkOptions options)
      : path_(std::move(path)), fd_(fd), options_(options) {}
  ~FileSink() override { close(fd_); }

  absl::Status Send(absl::string_view body) override {
    absl::MutexLock lock(&mu_);
    FollowPath();
    if (options_.rotate_bytes != 0) RotateIfFull(body.size());
    struct stat st;
    if (fstat(fd_, &st) != 0) return Failure("stat");
    if (st.st_nlink == 0) return Deleted();
    const char* p = body.data();
    size_t left = body.size();
    while (left > 0) {
      const ssize_t n = write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return RollBack("write", st.st_size);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    // "Delivered" must mean durable: a write-ahead log may discard its copy next.
    if (fdatasync(fd_) != 0) return RollBack("fdatasync", st.st_size);
    // Deleted while it was written: the batch is in no file anyone can read.
    if (fstat(fd_, &st) != 0) return Failure("stat");
    if (st.st_nlink == 0) return Deleted();
    return absl::OkStatus();
  }

  std::string Describe() const override { return "file://" + path_; }

 private:
  // Batches go to the file at the path: when it was moved away or deleted (logrotate's usual
  // way: rename, then the writer opens the path again), a new one is made there. Returns
  // false if that fails; batches then go on into the file already open, if it still has a
  // name (a deleted one makes Send fail, so that the batch stays in the spool), and the next
  // batch tries again.
  bool FollowPath() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    struct stat at_path, open_file;
    if (stat(path_.c_str(), &at_path) == 0 && fstat(fd_, &open_file) == 0 &&
        at_path.st_ino == open_file.st_ino && at_path.st_dev == open_file.st_dev) {
      return true;
    }
    const int fd = OpenForAppending(path_);
    if (fd < 0) {
      LOG_EVERY_T(WARNING, 60) << "file sink: " << path_ << " was moved or deleted, and "
                               << "cannot be made again: " << std::strerror(errno);
      return false;
    }
    SyncDirectoryOf(path_);
    close(fd_);
    fd_ = fd;
    return true;
  }

  // Before a batch that would take the file past options_.rotate_bytes: the file becomes
  // `<path>.1` (replacing the one before) and the batch starts a new one. A batch larger than
  // the limit still goes whole into a file of its own.
  void RotateIfFull(size_t incoming) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    struct stat st;
    if (fstat(fd_, &st) != 0 || st.st_size == 0 ||
        static_cast<size_t>(st.st_size) + incoming <= options_.rotate_bytes) {
      return;
    }
    const std::string previous = path_ + ".1";
    if (rename(path_.c_str(), previous.c_str()) != 0) {
      LOG_EVERY_T(WARNING, 60) << "file sink: cannot rename " << path_ << " to " << previous << " ("
                               << std::strerror(errno) << "): appending beyond "
                               << options_.rotate_bytes << " bytes";
      return;
    }
    if (FollowPath()) return;  // the path was free: a new file
    // Batches would go on into `<path>.1`, which the next rotation deletes: put it back,
    // unless another program has made a file at the path meanwhile (then batches go there).
    if (renameat2(AT_FDCWD, previous.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) == 0 ||
        (errno == EEXIST && FollowPath())) {
      return;
    }
    LOG_EVERY_T(WARNING, 60) << "file sink: cannot rename " << previous << " back to " << path_
                             << " (" << std::strerror(errno) << "): batches go into " << previous
                             << " until " << path_ << " can be made";
  }

  // Cuts off a partly written batch so the retry does not leave a torn line behind.
  absl::Status RollBack(const char* op, off_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int err = errno;
    if (ftruncate(fd_, size) != 0) {
      // Nothing more can be done; the retry appends after the torn bytes.
    }
    errno = err;
    return Failure(op);
  }

  absl::Status Deleted() const {
    return absl::UnavailableError(absl::StrCat(
        Describe(), " was deleted and cannot be made again: the batch waits to be retried"));
  }

  absl::Status Failure(const char* op) const {
    // Retryable: a full disk or an I/O error may clear up, and dropping data is worse.
    return absl::UnavailableError(absl::StrCat(op, " ", Describe(), ": ", std::strerror(errno)));
  }

  const std::string path_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  const FileSinkOptions options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sink>> MakeFileSink(const std::string& path,
                                                   const FileSinkOptions& options) {
  const int fd = OpenForAppending(path);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(
        err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kFailedPrecondition,
        absl::StrCat("cannot open ", path, " for appending: ", std::strerror(err)));
  }
  SyncDirectoryOf(path);
  return std::unique_ptr<Sink>(new FileSink(path, fd, options));
}

}  // namespace uploader_internal
}  // namespace pushgate
