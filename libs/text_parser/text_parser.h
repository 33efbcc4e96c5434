// Parser for the Prometheus text exposition format (0.0.4, and OpenMetrics bodies that stay
// within it), producing pushgate's normalized model (proto/ingest.proto), either as messages
// or directly as their protobuf wire format. It is what the front runs on every text push, so
// it scans the body in place (no regex, no per-line copies) and copies only what ends up in
// the output.
//
// Lines (`\n` or `\r\n` ends; the last line may lack one; leading spaces/tabs are ignored;
// blank lines are skipped; as in the Prometheus parser, nothing may follow the value or
// timestamp of a sample, or the type of a TYPE line, not even spaces/tabs):
//   # HELP <name> <text>     `\\` and `\n` are the only escapes; runs of bytes that are not
//                            UTF-8 are each replaced by U+FFFD (the Prometheus parser takes
//                            any bytes; the model needs UTF-8)
//   # TYPE <name> <type>     counter, gauge, summary, histogram, untyped, info,
//                            gaugehistogram (OpenMetrics `unknown` = untyped,
//                            `stateset` = gauge); case-insensitive. `# TYPE <name>` without
//                            a type changes nothing, as in the Prometheus parser.
//   # anything else          ignored, `# EOF` included: OpenMetrics ends a body with it, and
//                            the Pushgateway's 0.0.4 parser reads it as a comment, so lines
//                            after it (two exports in one push) are read, not dropped
//   <name>[{<label>="<value>",...}] <value> [<timestamp>]
// Metric names match `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`
// (`__name__` is reserved). Label values take the escapes `\\`, `\"`, `\n` and must be UTF-8;
// spaces/tabs may surround names, `=`, values and commas, and a trailing comma is fine. A
// label name given twice in one sample is an error. Values are parsed as Go's
// strconv.ParseFloat does after the Prometheus parser has refused `p`, `P` and `_` (so
// decimal only: `1`, `-1.5e-3`, `.5`, `NaN`, `Inf`, `+Inf`, `-Infinity`, any case; no hex, no
// `-NaN`; values beyond the double range are errors, below it round to 0). The timestamp is an
// integer number of milliseconds (any int64, zero and negative included) and sets
// Series.timestamp_ms; in a body parsed with TimestampUnit::kSeconds (OpenMetrics, where
// `1700000000.25` is a time in seconds) it is a number of seconds, as values are written
// (not NaN or infinite), rounded to the millisecond. An OpenMetrics exemplar (` # {...} ...`
// after the value or timestamp) is skipped.
//
// How samples become families and series:
//   - A sample belongs to the family declared (by TYPE or HELP) or created (by an earlier
//     sample) under exactly its name. Failing that, a suffix ties it to a typed family:
//     `_sum`/`_count` of a summary or histogram, `_bucket` of a histogram or gauge histogram,
//     `_gsum`/`_gcount` of a gauge histogram, `_total` of a counter (the OpenMetrics form; the
//     family is then named `<name>_total`), `_info` of an info family. Anything else starts
//     an UNTYPED family named by the sample itself, so `x_bucket{le="0.1"}` without a TYPE line
//     is the untyped family `x_bucket` with an ordinary `le` label kept as written.
//   - `# TYPE foo info` is the info family `foo_info` (its samples are `foo_info{...}`, as
//     OpenMetrics writes them); `# TYPE foo_info info` with samples `foo_info` is accepted too.
//     Info samples keep all their labels.
//   - Counter, gauge, untyped and info samples are one series each, in order, duplicates
//     included, labels in written order.
//   - Summary and histogram samples with the same labels (ignoring `quantile` resp. `le`, and
//     their order) form one series, labelled as the first of them was written. A summary
//     sample `x{quantile="q"}` adds a quantile (q parsed like a value); `x_sum` and
//     `x_count` set sum and count (the last one wins; a missing one stays 0). A histogram's
//     `x_bucket{le="b"}` adds a bucket; buckets come out sorted by bound, repeated bounds kept
//     in order. A sample named exactly like a histogram family is read as `_bucket`. As in
//     the Prometheus parser (so the Pushgateway and DataKit), a quantile or bucket sample
//     without its `quantile`/`le` label, or with a NaN one, adds no quantile or bucket but
//     makes its series all the same (so `# TYPE h histogram` then `h 3` is a histogram series
//     with no buckets and a count and sum of 0); a quantile/le that is not a number is an
//     error. The series' timestamp is the last one given by any of its samples.
//   - Samples of a family need not be adjacent (DataKit's tolerance, where the Prometheus
//     parsers reject some layouts): a family that reappears later, after other families or
//     after a repeated HELP/TYPE block, gets the new samples, and summary/histogram samples
//     join their series wherever they appear.
//   - A repeated HELP line replaces the help text. A repeated TYPE line may change the type
//     while the family has no samples yet; afterwards only among counter, gauge and untyped
//     (whose samples make the same points), and not for a counter named by its `_total`
//     samples; any other change is an error.
//   - Families that end with no samples (comment-only bodies, HELP/TYPE without samples) are
//     not output. Families come out in order of their first mention (HELP, TYPE or sample).
#ifndef PUSHGATE_LIBS_TEXT_PARSER_TEXT_PARSER_H_
#define PUSHGATE_LIBS_TEXT_PARSER_TEXT_PARSER_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "proto/ingest.pb.h"

namespace pushgate {

// 0 means unlimited. Going over a limit rejects the push with InvalidArgument naming the
// limit and its value.
struct TextParserLimits {
  // Series in one push, summed over its families (a summary or histogram series counts once).
  size_t max_series = 0;
  // Labels of one series as stored (`le`/`quantile` of histograms/summaries not counted).
  size_t max_labels_per_series = 0;
  // Bytes in a label name of a sample.
  size_t max_label_name_length = 0;
  // Bytes in a label value of a sample, after unescaping.
  size_t max_label_value_length = 0;
  // Samples in one push, as written: each sample line of the text format; in protobuf each
  // counter, gauge or untyped value, each summary's quantiles or histogram's buckets plus its
  // sum and count, each native-histogram span, delta and count, each exemplar and exemplar
  // label (dropped, but built while decoding), and each field protobuf does not know. Bounds the
  // memory a push takes while it is decoded, which a series limit alone does not (a histogram may
  // have any number of buckets).
  size_t max_samples = 0;
};

// Parses a whole text body. On success appends its families to `out`. On any error returns
// InvalidArgument `line N: <what is wrong>` (N counts from 1, all lines included; the message
// is one line, with names and values quoted and long ones cut short) and leaves `out`
// exactly as it was: nothing of a rejected push is kept.
absl::Status ParseText(absl::string_view body, const TextParserLimits& limits,
                       google::protobuf::RepeatedPtrField<pushgate::v1::MetricFamily>* out);

// How a body writes sample timestamps: the Prometheus text format's integer milliseconds, or
// OpenMetrics' seconds (what a body sent as `application/openmetrics-text` holds).
enum class TimestampUnit { kMilliseconds, kSeconds };

// The same parse, written as protobuf wire format instead of messages: on success appends to
// `out` exactly what `PushRequest.families` (field 4) serializes to for the families ParseText
// gives (per family: byte 0x22, the length as a varint, the MetricFamily as protobuf's C++
// serializer writes it), so a producer can send them without building messages. Errors are
// ParseText's, and on error `out` is left exactly as it was. ParseText is built on this: one
// parser, two outputs. When `series` is given, it is set to the number of series written (what
// ParseText's families would hold in total) on success.
absl::Status ParseTextToWire(absl::string_view body, const TextParserLimits& limits,
                             std::string* out, size_t* series = nullptr,
                             TimestampUnit timestamps = TimestampUnit::kMilliseconds);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_TEXT_PARSER_H_
