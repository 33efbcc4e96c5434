// The concrete sinks behind MakeHttpSink and MakeSinkForUrl. Private to //libs/uploader.
#ifndef PUSHGATE_LIBS_UPLOADER_INTERNAL_SINKS_H_
#define PUSHGATE_LIBS_UPLOADER_INTERNAL_SINKS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/uploader/uploader.h"

namespace pushgate {
namespace uploader_internal {

// `url` without user info, query or fragment: safe to log.
std::string RedactUrl(absl::string_view url);

std::unique_ptr<Sink> MakeCurlSink(const HttpSinkOptions& options);

// Appends to `path` (absolute), creating it if missing (see MakeSinkForUrl).
absl::StatusOr<std::unique_ptr<Sink>> MakeFileSink(const std::string& path,
                                                   const FileSinkOptions& options);

}  // namespace uploader_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_UPLOADER_INTERNAL_SINKS_H_
