#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/uploader/internal/sinks.h"
#include "libs/uploader/uploader.h"

namespace pushgate {
namespace uploader_internal {
namespace {

class FileSink : public Sink {
 public:
  FileSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~FileSink() override { close(fd_); }

  absl::Status Send(absl::string_view body) override {
    absl::MutexLock lock(&mu_);
    struct stat st;
    if (fstat(fd_, &st) != 0) return Failure("stat");
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
    return absl::OkStatus();
  }

  std::string Describe() const override { return "file://" + path_; }

 private:
  // Cuts off a partly written batch so the retry does not leave a torn line behind.
  absl::Status RollBack(const char* op, off_t size) {
    const int err = errno;
    if (ftruncate(fd_, size) != 0) {
      // Nothing more can be done; the retry appends after the torn bytes.
    }
    errno = err;
    return Failure(op);
  }

  absl::Status Failure(const char* op) const {
    // Retryable: a full disk or an I/O error may clear up, and dropping data is worse.
    return absl::UnavailableError(absl::StrCat(op, " ", Describe(), ": ", std::strerror(errno)));
  }

  const std::string path_;
  const int fd_;
  absl::Mutex mu_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sink>> MakeFileSink(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(
        err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kFailedPrecondition,
        absl::StrCat("cannot open ", path, " for appending: ", std::strerror(err)));
  }
  return std::unique_ptr<Sink>(new FileSink(path, fd));
}

}  // namespace uploader_internal
}  // namespace pushgate
