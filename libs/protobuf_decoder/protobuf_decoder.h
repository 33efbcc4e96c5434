// Decoder for Pushgateway protobuf push bodies: a stream of varint-length-delimited
// `io.prometheus.client.MetricFamily` messages (proto/prometheus_client.proto), turned into
// pushgate's normalized model (proto/ingest.proto) with the same checks and limits as the text
// parser (libs/text_parser), so a push means the same whichever format carried it.
//
// How a MetricFamily becomes a pushgate.v1.MetricFamily:
//   - name must match `[a-zA-Z_:][a-zA-Z0-9_:]*` (so it is never empty); help that is
//     not UTF-8 has each bad run replaced by U+FFFD, as in the text parser.
//   - type: COUNTER, GAUGE, SUMMARY, UNTYPED, HISTOGRAM, GAUGE_HISTOGRAM map to the v1 type of
//     the same name; an absent type is COUNTER (the proto2 default, as in the Go client); a
//     type number outside that list is an error.
//   - Each Metric is one Series, in pushed order. Its labels keep their pushed order; names
//     must match `[a-zA-Z_][a-zA-Z0-9_]*` and not be `__name__`, a name given twice is an
//     error, values must be UTF-8, empty values are kept.
//   - A metric must carry the field of its family's type (`counter` of a COUNTER family,
//     `histogram` of a HISTOGRAM or GAUGE_HISTOGRAM family, ...); a missing one is an error,
//     as in the Pushgateway, which refuses such a push in its consistency check (the Go
//     client's expfmt cannot write it out either). DataKit would read a 0 instead. Fields of
//     other types are ignored.
//   - counter/gauge/untyped: Series.value. summary: Summary{count = sample_count, sum,
//     quantiles in pushed order}.
//   - histogram and gauge histogram: Histogram{count = sample_count_float when present, else
//     sample_count; sum; buckets}. Each classic bucket takes cumulative_count_float when
//     present, else cumulative_count. Buckets are sorted by upper bound (equal bounds keep
//     their pushed order); a bucket with a NaN bound is dropped. Protobuf leaves the `+Inf`
//     bucket implicit (the Go client never writes it) where the text format always carries
//     it, so a classic histogram without one gets a `+Inf` bucket holding its count, as
//     Prometheus' protobuf scrape and the Pushgateway's exposition show it; a native-only
//     histogram (native fields, no classic bucket) gets none.
//   - Histogram.native is set when the metric carries any native-histogram field (schema,
//     zero threshold, zero count, spans, deltas or counts), copied as pushed; zero_count is
//     zero_count_float when present, else zero_count.
//   - Series.timestamp_ms is set whenever the metric has timestamp_ms (zero and negative
//     included), as the text parser does; whether it is honoured is decided later.
//   - A family with no metrics is kept: for a POST it still names a family the push replaces,
//     as in the Pushgateway.
//   - Two messages naming the same family: the later one replaces the earlier one (in the
//     earlier one's place), as both the Pushgateway and DataKit keep only the last.
//   - Exemplars, created timestamps, units and unknown fields are ignored.
#ifndef PUSHGATE_LIBS_PROTOBUF_DECODER_PROTOBUF_DECODER_H_
#define PUSHGATE_LIBS_PROTOBUF_DECODER_PROTOBUF_DECODER_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "libs/text_parser/text_parser.h"
#include "proto/ingest.pb.h"

namespace pushgate {

// True when a Content-Type header value names the delimited protobuf format: media type
// `application/vnd.google.protobuf` with parameters `proto=io.prometheus.client.MetricFamily`
// and `encoding=delimited`, in any order, among any others. Parsed as Go's
// mime.ParseMediaType does (which the Pushgateway and DataKit use): the media type and
// parameter names are case-insensitive, parameter values are case-sensitive and may be quoted
// strings (with backslash escapes), spaces may surround `;` and `=`, a trailing `;` is fine.
// A header that does not parse (a bad token, a parameter without `=` or value, a parameter
// given twice) is not protobuf, so the body is read as text.
bool IsDelimitedProtobuf(absl::string_view content_type);

// Decodes a whole body (the empty body is a push without families). On success appends its
// families to `out`. Any error returns InvalidArgument with a one-line message naming where
// (`family N at byte B` — N counts the length-delimited messages from 1, B is the offset of
// the message's length prefix — plus the family's name and the metric's index from 1 where
// known) and what is wrong: a truncated or malformed length prefix, a length beyond the end
// of the body, a message that is not valid protobuf, or a check or limit above (limits as in
// TextParserLimits, 0 = unlimited). `out` is then left exactly as it was: nothing of a
// rejected push is kept.
absl::Status DecodeProtobufPush(
    absl::string_view body, const TextParserLimits& limits,
    google::protobuf::RepeatedPtrField<pushgate::v1::MetricFamily>* out);

// The same decode, written as protobuf wire format instead of messages: on success appends to
// `out` exactly what `PushRequest.families` (field 4) serializes to for the families
// DecodeProtobufPush gives (per family: byte 0x22, the length as a varint, the MetricFamily as
// protobuf's C++ serializer writes it), so a producer can send them without building the
// push's messages (as ParseTextToWire does for text). Errors are DecodeProtobufPush's, and on
// error `out` is left exactly as it was. When `series` is given, it is set to the number of
// series written on success. Both decoders keep their scratch messages per calling thread
// for the next call (dropped past about a megabyte), which is what makes them cheap. This one
// first tries a fast path that transcodes the usual push from wire form to wire form without
// any messages (internal/fast_path.h, 2.5-4x faster on a typical push); whatever it declines,
// errors included, goes through the messages.
absl::Status DecodeProtobufPushToWire(absl::string_view body, const TextParserLimits& limits,
                                      std::string* out, size_t* series = nullptr);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_PROTOBUF_DECODER_PROTOBUF_DECODER_H_
