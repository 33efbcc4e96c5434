// Encodes pushes as Prometheus remote write 1.0 (`prometheus.WriteRequest`) for
// `--upload_format=remote_write`. Unlike the line-protocol path, metric names stay the
// Prometheus names: a summary becomes `x{quantile}`, `x_sum`, `x_count`; a histogram
// `x_bucket{le}`, `x_sum`, `x_count`; NaN and ±Inf are sent as they are.
//
// Serialized WriteRequests concatenate into one valid WriteRequest (repeated fields merge),
// so a batch is simply the concatenation of the encodings of its pushes; the sink then
// snappy-block-compresses the whole batch.
#ifndef PUSHGATE_LIBS_REMOTE_WRITE_REMOTE_WRITE_H_
#define PUSHGATE_LIBS_REMOTE_WRITE_REMOTE_WRITE_H_

#include <string>

#include "libs/push_view/push_view.h"
#include "proto/ingest.pb.h"

namespace pushgate {

struct RemoteWriteOptions {
  // Use a sample's own timestamp (when > 0) instead of the push's receive time.
  bool honor_timestamps = true;
};

// Appends the serialized WriteRequest for one push to `out` and returns its number of
// samples. Labels: `__name__`, then the series' labels overridden by the grouping labels
// (job included), sorted by name; empty label values are dropped. Info families are sent as
// the series pushed; gauge histograms like histograms.
size_t AppendRemoteWrite(const PushView& push, const RemoteWriteOptions& options, std::string* out);
// The same for a message, through a PushView of it.
size_t AppendRemoteWrite(const pushgate::v1::PushRequest& push, const RemoteWriteOptions& options,
                         std::string* out);

// Headers a remote-write receiver requires, as "Name: value" lines.
inline constexpr const char* kRemoteWriteHeaders[] = {
    "Content-Encoding: snappy",
    "X-Prometheus-Remote-Write-Version: 0.1.0",
};
inline constexpr char kRemoteWriteContentType[] = "application/x-protobuf";

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_REMOTE_WRITE_REMOTE_WRITE_H_
