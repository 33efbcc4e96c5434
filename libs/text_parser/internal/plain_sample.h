// The text parser's fast path: the sample line most pushes are made of, read in one pass over
// the body (no line splitting first, no blank skipping, known label names not checked again).
//
// A plain sample line is
//   <name>[{<label>="<value>",...}] <value>\n        (the body may end instead of the \n)
// where
//   - the name is [a-zA-Z_:][a-zA-Z0-9_:]*, at the very start of the line;
//   - label names are [a-zA-Z_][a-zA-Z0-9_]*, distinct, not `__name__`, within
//     `max_label_name_length` bytes (0: no limit). While they are the known labels (the previous
//     sample's, which the general parser or this one has checked together), in the same order,
//     they are compared, not checked again;
//   - each label is written `name="value"`, one comma between them and none after the last, no
//     blanks;
//   - label values are ASCII without '"', '\\' and '\n' (so no escapes), within
//     `max_label_value_length` bytes (0: no limit);
//   - one space, then a value ParseFloat accepts, then the newline: no timestamp, no exemplar,
//     no '\r'.
// For such a line the general parser would produce exactly this sample; for every other line
// (comments, blank lines, escapes, timestamps, errors of any kind) it is the only reader, so it
// stays the single source of truth for what an error says.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_PLAIN_SAMPLE_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_PLAIN_SAMPLE_H_

#include <cstddef>
#include <vector>

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
  absl::string_view value_text;  // where the value is written
  // Where the next line starts (the body's end after the last line).
  const char* next = nullptr;
};

// The limits of TextParserLimits that a line's labels must keep to (0: none).
struct PlainLabelLimits {
  size_t max_name_length = 0;
  size_t max_value_length = 0;
  // A line with more than one label beyond it is left to the general parser, which refuses
  // it as soon as it has read that many (and says so in its own words).
  size_t max_labels = 0;
};

// Reads the line starting at `line` (the body ends at `end`) if it is a plain sample line.
// `previous_name` is the previous sample's name, `declared_name` that of the last HELP/TYPE
// line (each may be empty); they are valid names. `labels` comes in holding the known labels
// and, on success, holds the sample's labels. Returns false, with `out` unspecified, for any
// other line; then `labels` holds the known labels (their values may have changed) or nothing
// (when the line brought other names): either way names the general parser can still
// take as known.
//
// Inline, below: it runs on every line, where a call costs as much as some of its steps.
inline bool ScanPlainSample(const char* line, const char* end, absl::string_view previous_name,
                            absl::string_view declared_name, std::vector<LabelRef>* labels,
                            PlainLabelLimits limits, PlainSample* out);

// ---------------------------------------------------------------------------------------
// Implementation.

// [a-zA-Z_:]
inline bool IsPlainMetricStart(char c) {
  const unsigned char folded = static_cast<unsigned char>(c) | 0x20;
  return (folded >= 'a' && folded <= 'z') || c == '_' || c == ':';
}

// Whether `line` (before `end`) starts with `name` (not empty) and then '{' or ' '.
inline bool StartsWithNameAndSeparator(const char* line, const char* end, absl::string_view name) {
  return !name.empty() && static_cast<size_t>(end - line) > name.size() &&
         (line[name.size()] == '{' || line[name.size()] == ' ') &&
         EqualBytes(line, name.data(), name.size());
}

// Whether `p` (before `end`) starts with `name="`.
inline bool StartsWithNameAndQuote(const char* p, const char* end, absl::string_view name) {
  return static_cast<size_t>(end - p) >= name.size() + 2 && p[name.size()] == '=' &&
         p[name.size() + 1] == '"' && EqualBytes(p, name.data(), name.size());
}

// The end of a new label name starting at `p` (before `end`) that is followed by `="`, valid,
// within `max_length` (0: any), not reserved and not among the first `count` of `labels`; or
// nullptr for anything else, including a name the general parser would take but written
// otherwise (blanks around the '=').
inline const char* NewLabelNameEnd(const char* p, const char* end, const LabelRef* labels,
                                   size_t count, size_t max_length) {
  // Beyond that many names, the general parser's set finds repeats faster.
  constexpr size_t kMaxCompared = 32;
  const char* const name_end = FindLabelNameEnd(p, end, end);
  const size_t size = name_end - p;
  if (size == 0 || (*p >= '0' && *p <= '9')) return nullptr;
  if (end - name_end < 2 || name_end[0] != '=' || name_end[1] != '"') return nullptr;
  if (max_length != 0 && size > max_length) return nullptr;
  const absl::string_view name(p, size);
  if (SameText(name, "__name__") || count > kMaxCompared) return nullptr;
  for (size_t k = 0; k < count; ++k) {
    if (SameText(labels[k].name, name)) return nullptr;
  }
  return name_end;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool ScanPlainSample(const char* line, const char* end,
                                                         absl::string_view previous_name,
                                                         absl::string_view declared_name,
                                                         std::vector<LabelRef>* labels,
                                                         PlainLabelLimits limits,
                                                         PlainSample* out) {
  // Name: usually the previous sample's or the one the last HELP/TYPE line declared, which are
  // cheaper to compare than to scan.
  const char* p;
  out->same_name = false;
  if (StartsWithNameAndSeparator(line, end, previous_name)) {
    p = line + previous_name.size();
    out->same_name = true;
  } else if (StartsWithNameAndSeparator(line, end, declared_name)) {
    p = line + declared_name.size();
  } else {
    if (line == end || !IsPlainMetricStart(*line)) return false;
    p = FindMetricNameEnd(line, end, end);
    if (p == end || (*p != '{' && *p != ' ')) return false;
  }
  out->name = absl::string_view(line, p - line);

  // While the label names are the known ones, in order, they were checked together before; the
  // first other name, and every one after it, is checked here.
  bool known = true;
  // On the way out without a sample: what `labels` holds must stay a set of names checked
  // together, so a line that brought new ones leaves none.
  const auto fail = [labels, &known] {
    if (!known) labels->clear();
    return false;
  };
  size_t count = 0;
  if (*p == '{') {
    ++p;
    ValueStopFinder stops(p, end);
    if (p != end && *p != '}') {
      for (;;) {
        size_t name_size;
        known = known && count < labels->size() &&
                StartsWithNameAndQuote(p, end, (*labels)[count].name);
        if (known) {
          name_size = (*labels)[count].name.size();
        } else {
          const char* const name_end =
              NewLabelNameEnd(p, end, labels->data(), count, limits.max_name_length);
          if (name_end == nullptr) return fail();
          name_size = name_end - p;
          if (count == labels->size()) labels->emplace_back();
          (*labels)[count].name = absl::string_view(p, name_size);
        }
        const char* const value = p + name_size + 2;
        p = stops.Next(value);
        if (p == end || *p != '"') return fail();  // escapes, non-ASCII, newline, no quote
        const size_t length = p - value;
        if (limits.max_value_length != 0 && length > limits.max_value_length) return fail();
        (*labels)[count].value = absl::string_view(value, length);
        ++count;
        if (limits.max_labels != 0 && count > limits.max_labels + 1) return fail();
        if (++p == end) return fail();
        if (*p == '}') break;
        if (*p != ',') return fail();
        ++p;
      }
    }
    if (p == end) return fail();
    ++p;  // the '}'
    if (p == end || *p != ' ') return fail();
  }

  // p is at the space before the value.
  const char* const value = p + 1;
  const char* const value_end = FindTokenEnd(value, end, end);
  if (value_end != end && *value_end != '\n') return fail();
  if (!ParseFloat(absl::string_view(value, value_end - value), &out->value)) return fail();
  labels->resize(count);
  out->value_text = absl::string_view(value, value_end - value);
  out->next = value_end == end ? end : value_end + 1;
  return true;
}

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_PLAIN_SAMPLE_H_
