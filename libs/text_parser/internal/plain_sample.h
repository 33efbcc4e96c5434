// The text parser's fast path: the sample line most pushes are made of, read in one pass over
// the body (no line splitting first, no blank skipping, no label name validation).
//
// A plain sample line is
//   <name>[{<label>="<value>",...}] <value>\n        (the body may end instead of the \n)
// where
//   - the name is [a-zA-Z_:][a-zA-Z0-9_:]*, at the very start of the line;
//   - the labels, if any, are the first few of the known labels (the previous sample's, which
//     the general parser has already checked together: valid, distinct, within the length
//     limit), in the same order; one comma between them and none after the last, no blanks;
//   - label values are ASCII without '"', '\\' and '\n' (so no escapes), within
//     `max_label_value_length` bytes (0: no limit);
//   - one space, then a value ParseFloat accepts, then the newline: no timestamp, no exemplar,
//     no '\r'.
// For such a line the general parser would produce exactly this sample; for every other line
// (comments, blank lines, new label names, escapes, timestamps, errors of any kind) it is the
// only reader, so it stays the single source of truth for what an error says.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_PLAIN_SAMPLE_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_PLAIN_SAMPLE_H_

#include <cstddef>

#include "absl/base/attributes.h"
#include "absl/strings/string_view.h"
#include "libs/text_parser/internal/model.h"
#include "libs/text_parser/internal/numbers.h"
#include "libs/text_parser/internal/scan.h"

namespace pushgate {
namespace text_parser_internal {

struct PlainSample {
  absl::string_view name;
  // `name` is `previous_name`, so the previous sample's family resolution holds.
  bool same_name = false;
  double value = 0;
  // The labels are the first `label_count` entries of `labels`, their values set.
  size_t label_count = 0;
  // Where the next line starts (the body's end after the last line).
  const char* next = nullptr;
};

// Reads the line starting at `line` (the body ends at `end`) if it is a plain sample line.
// `labels` holds the `known_labels` known labels; on success the values of the first
// out->label_count of them are this sample's. Returns false, with `out` unspecified, for any
// other line; then values in `labels` may have been overwritten, but never names.
//
// Inline, below: it runs on every line, where a call costs as much as some of its steps.
inline bool ScanPlainSample(const char* line, const char* end, ValueStopFinder* stops,
                            absl::string_view previous_name, LabelRef* labels, size_t known_labels,
                            size_t max_label_value_length, PlainSample* out);

// ---------------------------------------------------------------------------------------
// Implementation.

// [a-zA-Z_:]
inline bool IsPlainMetricStart(char c) {
  const unsigned char folded = static_cast<unsigned char>(c) | 0x20;
  return (folded >= 'a' && folded <= 'z') || c == '_' || c == ':';
}

// Whether `p` (before `end`) starts with `name="`.
inline bool StartsWithNameAndQuote(const char* p, const char* end, absl::string_view name) {
  return static_cast<size_t>(end - p) >= name.size() + 2 && p[name.size()] == '=' &&
         p[name.size() + 1] == '"' && EqualBytes(p, name.data(), name.size());
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool ScanPlainSample(const char* line, const char* end,
                                                         absl::string_view previous_name,
                                                         LabelRef* labels, size_t known_labels,
                                                         size_t max_label_value_length,
                                                         PlainSample* out) {
  // Name: usually the previous sample's, which is cheaper to compare than to scan.
  const char* p;
  const size_t previous = previous_name.size();
  if (previous != 0 && static_cast<size_t>(end - line) > previous &&
      (line[previous] == '{' || line[previous] == ' ') &&
      EqualBytes(line, previous_name.data(), previous)) {
    p = line + previous;
    out->same_name = true;
  } else {
    if (line == end || !IsPlainMetricStart(*line)) return false;
    p = FindMetricNameEnd(line, end, end);
    if (p == end || (*p != '{' && *p != ' ')) return false;
    out->same_name = false;
  }
  out->name = absl::string_view(line, p - line);

  size_t count = 0;
  if (*p == '{') {
    ++p;
    ValueStopFinder stops(p, end);
    if (p != end && *p != '}') {
      for (;;) {
        if (count == known_labels) return false;
        const absl::string_view name = labels[count].name;
        if (!StartsWithNameAndQuote(p, end, name)) return false;
        const char* const value = p + name.size() + 2;
        p = stops.Next(value);
        if (p == end || *p != '"') return false;  // escapes, non-ASCII, newline, no quote
        const size_t length = p - value;
        if (max_label_value_length != 0 && length > max_label_value_length) return false;
        labels[count].value = absl::string_view(value, length);
        ++count;
        if (++p == end) return false;
        if (*p == '}') break;
        if (*p != ',') return false;
        ++p;
      }
    }
    if (p == end) return false;
    ++p;  // the '}'
    if (p == end || *p != ' ') return false;
  }

  // p is at the space before the value.
  const char* const value = p + 1;
  const char* const value_end = FindTokenEnd(value, end, end);
  if (value_end != end && *value_end != '\n') return false;
  if (!ParseFloat(absl::string_view(value, value_end - value), &out->value)) return false;
  out->label_count = count;
  out->next = value_end == end ? end : value_end + 1;
  return true;
}

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_PLAIN_SAMPLE_H_
