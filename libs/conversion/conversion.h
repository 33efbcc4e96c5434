// Turns one push of the normalized model (proto/ingest.proto) into DataKit/InfluxDB points,
// following every rule of docs/reference/conversion.md, including the places marked
// "pushgate differs". This is what a DataKit user sees after switching to pushgate.
#ifndef PUSHGATE_LIBS_CONVERSION_CONVERSION_H_
#define PUSHGATE_LIBS_CONVERSION_CONVERSION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "libs/line_protocol/line_protocol.h"
#include "libs/naming/naming.h"
#include "libs/push_view/push_view.h"
#include "proto/ingest.pb.h"

namespace pushgate {

struct ConversionOptions {
  NamingOptions naming;
  // Use a sample's own timestamp (when > 0) instead of the push's receive time.
  bool honor_timestamps = true;
};

struct ConversionStats {
  // Sample values and fields left out because they were NaN or ±Inf.
  int64_t dropped_non_finite = 0;
};

// Appends the points of one push to `out` (existing points are kept) and adds to `stats`
// (may be null).
//
// - Names come from NameMetric on the family name and the push's job.
// - COUNTER, GAUGE, UNTYPED: a point per series, field `<field>`.
// - SUMMARY: per series a point with `<field>_count` and `<field>_sum`, and a point per
//   quantile with tag `quantile` (FormatBound) and field `<field>`.
// - HISTOGRAM: per series a point with `<field>_count` and `<field>_sum`, and a point per
//   classic bucket with tag `le` (FormatBound, +Inf included) and field `<field>_bucket`.
//   Native histogram data adds nothing beyond count and sum.
// - GAUGE_HISTOGRAM: no points.
// - INFO: no points; the labels of all info series of the push, later ones overwriting
//   earlier ones, become tags of every other point of the push except bucket points.
// - Tags: the first source that has a key wins, in this order: info labels, the grouping key
//   (job first, then its labels), the series' labels, then `quantile`/`le`. A winning empty
//   value (also one that sanitizing empties) means no tag for that key, as an empty label
//   means "no label" in Prometheus. Values have newlines turned into spaces and trailing
//   backslashes removed. Nothing else (no host tag) is added.
// - Timestamps: with honor_timestamps, a series timestamp_ms > 0 gives ms * 1e6 for all its
//   points (count/sum points included); otherwise, and when ms * 1e6 would not fit in
//   int64, push.receive_time_ns.
// - Non-finite values: a COUNTER/GAUGE/UNTYPED series is skipped, a non-finite quantile,
//   bucket count, `_count` or `_sum` is left out of its point, and a point left without
//   fields is not emitted. Each value left out counts once in stats->dropped_non_finite.
// - Duplicate series all produce points.
void ConvertPush(const pushgate::v1::PushRequest& push, const ConversionOptions& options,
                 std::vector<Point>* out, ConversionStats* stats);

// The same points as ConvertPush, in the same order, appended to `out` as line protocol by
// `encoder` without building a Point for each: what the aggregator writes for every push,
// decoded once into a PushView (libs/push_view), so it copies no string but into `out`.
// Returns the number of lines appended.
size_t ConvertPushToLineProtocol(const PushView& push, const ConversionOptions& options,
                                 LineProtocolEncoder* encoder, std::string* out,
                                 ConversionStats* stats);

// The same for a message, through a PushView of it.
size_t ConvertPushToLineProtocol(const pushgate::v1::PushRequest& push,
                                 const ConversionOptions& options, LineProtocolEncoder* encoder,
                                 std::string* out, ConversionStats* stats);

// An upper bound on the bytes one push converts to, cheap enough to check before the push is
// accepted (one pass over its series and labels, nothing built). A label is written once in a
// push but copied onto every point the push makes from it: a series' labels onto each of its
// buckets or quantiles, the grouping key and every info label onto each point of the push.
// So a push of a few kilobytes (a histogram of many buckets under long labels, an info series
// with long labels next to many small series) can expand to gigabytes, which converting would
// hold in memory.
//
// The bound is the sum over the push's points (a series' buckets or quantiles plus two, else
// one) of the text the point carries (its family's name thrice, the job, the measurement
// option, the grouping labels, the info labels, its series' labels and a `le`/`quantile`)
// plus a fixed allowance per point and per label for separators and timestamps, and of the
// characters its values take (line protocol writes no exponent: 1e308 is 309 digits). It is
// at least the size of both ConvertPushToLineProtocol's output and AppendRemoteWrite's
// (libs/remote_write) for the push, except where line protocol escapes characters of the
// names and tags (at most doubling them). Saturates at UINT64_MAX.
uint64_t ConvertedBytesBound(const PushView& push, const ConversionOptions& options);

// ConvertPushToLineProtocol for a producer that sees the same pushes again and again: a
// Pushgateway group is usually pushed every few seconds with the same series and new values.
// The lines of a push are remembered by its shape (job, grouping labels, and per family its
// name, type and series with their labels, quantiles and bucket bounds), as templates that
// hold each line's measurement, sorted and escaped tags and field keys
// (LineProtocolEncoder::MakeTemplate). A push of a known shape then costs a walk over its
// values; the tags are not merged, sorted or escaped again.
//
// Convert is not thread-safe (one cache per converting thread); stats() may be called from
// any thread.
class ConversionCache {
 public:
  // Keeps at most about `max_bytes` of shapes and templates; 0 keeps nothing (every push
  // converted as ConvertPushToLineProtocol does). A shape is kept the second time it comes.
  // Once the cache is full, one new shape in 16 gets in, pushing out the least recently used:
  // when more groups recur than fit, the shapes kept then live long enough to be used. Which
  // shapes came once is recorded apart, in at most about 1 MiB.
  explicit ConversionCache(size_t max_bytes);
  ~ConversionCache();
  ConversionCache(const ConversionCache&) = delete;
  ConversionCache& operator=(const ConversionCache&) = delete;

  // Appends exactly what ConvertPushToLineProtocol(push, options, encoder, out, stats) would,
  // and returns the number of lines appended. `options` must be the same on every call (the
  // templates are made with them).
  size_t Convert(const PushView& push, const ConversionOptions& options,
                 LineProtocolEncoder* encoder, std::string* out, ConversionStats* stats);

  struct Stats {
    uint64_t hits = 0;       // pushes written from templates
    uint64_t misses = 0;     // pushes converted point by point
    uint64_t evictions = 0;  // shapes dropped to stay within max_bytes
    // Misses whose shape was not kept because it might not fit (ConvertedBytesBound over
    // max_bytes, or over 2 GiB).
    uint64_t too_large = 0;
    size_t shapes = 0;
    size_t bytes = 0;
  };
  Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_CONVERSION_CONVERSION_H_
