#include "libs/pipeline/pipeline.h"

#include <string>

#include "libs/line_protocol/line_protocol.h"

namespace pushgate {

using pushgate::v1::PushAck;
using pushgate::v1::PushRequest;

PushPipeline::PushPipeline(ConversionOptions options, std::vector<Uploader*> uploaders,
                           MetricsRegistry* registry)
    : options_(std::move(options)),
      uploaders_(std::move(uploaders)),
      pushes_(registry->Counter("pushgate_aggregator_pushes_total",
                                "Pushes received over the ingest API, by method.", {"method"})),
      points_(registry->Counter("pushgate_aggregator_points_total",
                                "Points produced from accepted pushes.")),
      dropped_non_finite_(
          registry->Counter("pushgate_aggregator_dropped_non_finite_total",
                            "NaN or infinite sample values and fields left out of points.")) {}

void PushPipeline::Process(PushRequest request, Done done) {
  pushes_.Add({pushgate::v1::Method_Name(request.method())});
  if (request.method() != pushgate::v1::DELETE) {
    // Reused per thread: one allocation pattern per stream, not per push.
    thread_local std::vector<Point> points;
    thread_local std::string lines;
    points.clear();
    lines.clear();
    ConversionStats stats;
    ConvertPush(request, options_, &points, &stats);
    LineProtocolEncoder encoder;
    for (const Point& point : points) encoder.Append(point, &lines);
    if (!points.empty()) {
      for (Uploader* uploader : uploaders_) uploader->Add(lines, points.size());
    }
    points_.Add(points.size());
    if (stats.dropped_non_finite > 0) dropped_non_finite_.Add(stats.dropped_non_finite);
  }
  PushAck ack;
  ack.set_code(PushAck::OK);
  done(std::move(ack));
}

}  // namespace pushgate
