// DataKit/InfluxDB line protocol: the points the aggregator writes to its backends, their
// text form (see the "Line protocol out" section of docs/reference/conversion.md),
// and a parser plus a comparison for tests and test receivers that follow
// tests/testdata/conversion/README.md ("Parse, do not compare strings").
#ifndef PUSHGATE_LIBS_LINE_PROTOCOL_LINE_PROTOCOL_H_
#define PUSHGATE_LIBS_LINE_PROTOCOL_LINE_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace pushgate {

// One point. Every field is a float.
struct Point {
  std::string measurement;
  std::vector<std::pair<std::string, std::string>> tags;  // any order, unique keys
  std::vector<std::pair<std::string, double>> fields;     // any order, unique keys
  int64_t timestamp_ns = 0;
};

// A point whose strings and lists belong to someone else, so that a producer can hand points
// to the encoder without copying every string into a Point. Same rules as Point.
struct PointView {
  absl::string_view measurement;
  absl::Span<const std::pair<absl::string_view, absl::string_view>> tags;
  absl::Span<const std::pair<absl::string_view, double>> fields;
  int64_t timestamp_ns = 0;
};

// The timestamp ParseLineProtocol gives a point written with the word `NOW` (the conformance
// vectors' "the time the push was received"); ComparePoints treats it as a wildcard.
inline constexpr int64_t kNowTimestampNs = -1;

// Appends the shortest decimal that reads back as exactly `v`, never in exponent form:
// "1", "1.5", "-0", "0.0000001", "1500", "1000000000000000000000", "12345678901234567000"
// (digits beyond the shortest round trip are zeros). `v` must be finite.
void AppendFloatNoExponent(double v, std::string* out);

// At least the characters AppendFloatNoExponent writes for `v`: 32 for values from 1e-5 to
// 1e16 (and 0), else up to 344 (1e308 is 309 digits, 5e-324 has 323 zeros after the point).
size_t PlainFloatBound(double v);

// The form of an `le` or `quantile` tag value: the shortest round-trip decimal, in exponent
// form (mantissa, 'e', sign, at least two exponent digits) when the decimal exponent is below
// -4 or at least 6: "0.5", "100000", "1e+06", "1.5e-05". Infinities are "+Inf" and "-Inf",
// NaN is "NaN".
std::string FormatBound(double v);

// Lines with their field values and timestamps left out, made by
// LineProtocolEncoder::AddTemplate and kept in one buffer: for a producer that writes the same
// series again and again with new values (a Pushgateway group pushed every few seconds), which
// then sorts and escapes their tags once.
class LineTemplates {
 public:
  // Templates added, including those of points that make no line.
  size_t size() const { return lines_.size(); }
  // The memory held, for accounting.
  size_t bytes() const {
    return text_.capacity() + fields_.capacity() * sizeof(Field) + lines_.capacity() * sizeof(Line);
  }
  // Gives back the memory that adding left unused.
  void ShrinkToFit();

 private:
  friend class LineProtocolEncoder;
  struct Field {
    uint32_t text_end;  // where the text before the field's value ends
    uint32_t index;     // the field's index among the point's fields
  };
  struct Line {
    uint32_t text_begin;
    uint32_t fields_begin;  // into fields_; the line's fields run to the next line's
  };
  // Per line: the measurement and tags, then for each field written, in line order, its
  // separator, key and '='.
  std::string text_;
  std::vector<Field> fields_;
  std::vector<Line> lines_;
};

// Writes points as line protocol. Keeps scratch space between calls, so reuse one encoder
// per thread; not thread-safe.
class LineProtocolEncoder {
 public:
  // Appends `measurement[,tag=value...] field=value[,field=value...] timestamp_ns\n` to `out`,
  // tags and fields sorted by key (byte order). Escapes ',' and ' ' in the measurement, and
  // ',', ' ' and '=' in tag keys, tag values and field keys. So that every point stays one
  // parseable line whatever it holds, a newline in those strings is written as a space,
  // trailing backslashes are left out (nothing could escape them), tags whose key or value
  // ends up empty and non-finite fields are left out, and a point with no field left
  // appends nothing. Returns whether a line was appended.
  bool Append(const Point& point, std::string* out);

  // The same for a point held in views (a separate name, since a braced point would fit both).
  bool AppendView(const PointView& point, std::string* out);

  // Adds the template of `point`'s line to `templates`: AppendFromTemplate(templates, i,
  // values, t, ...) for this template (the i-th added) appends what AppendView appends for
  // the point with field values `values` (in the order of point.fields) and timestamp t, as
  // long as those values are finite. The point's own field values and timestamp are ignored.
  // A point whose fields all lack a key gets a template that writes nothing.
  void AddTemplate(const PointView& point, LineTemplates* templates);

  // Appends line `line` of `templates` with these field values, one per field of the point it
  // was made from, each finite (a non-finite value is left out of a line, which changes its
  // text: use AppendView for such a point). Returns whether a line was appended.
  bool AppendFromTemplate(const LineTemplates& templates, size_t line, const double* values,
                          int64_t timestamp_ns, std::string* out);

 private:
  // A tag or field to write: its key and value trimmed once, sorted by `prefix` (the key's
  // first bytes) and then by key.
  struct TagEntry {
    uint64_t prefix;
    absl::string_view key;
    absl::string_view value;
  };
  struct FieldEntry {
    uint64_t prefix;
    absl::string_view key;
    double value;
    uint32_t index;  // among the point's fields
  };

  template <typename PointT>
  bool AppendPoint(const PointT& point, std::string* out);
  // Fills tags_ and fields_ with the point's tags and fields that will be written, trimmed and
  // sorted (non-finite fields too when `keep_non_finite`), and returns the room the line
  // needs (0 when no field is written).
  template <typename PointT>
  size_t Prepare(const PointT& point, bool keep_non_finite, size_t* num_tags, size_t* num_fields);
  // Writes the measurement and the first `num_tags` of tags_.
  char* WriteSeriesKey(absl::string_view measurement, size_t num_tags, char* p) const;

  // Writes the timestamp, its space and the newline; remembers the last timestamp's text,
  // since the points of one push nearly all share one.
  char* WriteTimestamp(int64_t timestamp_ns, char* p);

  std::vector<TagEntry> tags_;
  std::vector<FieldEntry> fields_;
  int64_t last_timestamp_ns_ = 0;
  size_t last_timestamp_size_ = 0;  // 0: nothing remembered yet
  char last_timestamp_text_[24] = {};
};

// Parses line protocol text with the conformance README's rules: in measurements `\,` and
// `\ ` are escapes, in tag keys, tag values and field keys `\,`, `\=` and `\ ` are; a
// backslash before any other character is a literal backslash. Field values are floats (an
// exponent is accepted; integer `i`, string and boolean values are not). The timestamp is a
// signed integer, or the word NOW, which gives kNowTimestampNs. Lines that are empty or start
// with '#' are skipped. Tags and fields come back in the order written. An error names the
// line; duplicate tag or field keys, empty keys or tag values, and a missing field or
// timestamp are errors.
absl::StatusOr<std::vector<Point>> ParseLineProtocol(absl::string_view text);

// Compares two sets of points the way the conformance README prescribes: as multisets
// (order does not matter, duplicates do); measurement, tags and field keys as strings; field
// values as doubles (-0 equals 0). An expected point with timestamp kNowTimestampNs matches
// an actual point whose timestamp lies in [now_min_ns, now_max_ns], and all actual points so
// matched must share one timestamp; other timestamps must be equal. Returns OK, or an error
// listing the points left over on each side.
absl::Status ComparePoints(const std::vector<Point>& expected, const std::vector<Point>& actual,
                           int64_t now_min_ns, int64_t now_max_ns);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_LINE_PROTOCOL_LINE_PROTOCOL_H_
