#include "libs/text_parser/internal/plain_sample.h"

#include "libs/text_parser/internal/numbers.h"
#include "libs/text_parser/internal/scan.h"

namespace pushgate {
namespace text_parser_internal {
namespace {

bool IsMetricStart(char c) {
  const unsigned char folded = static_cast<unsigned char>(c) | 0x20;
  return (folded >= 'a' && folded <= 'z') || c == '_' || c == ':';
}

// Whether `p` (before `end`) starts with `name="`.
bool StartsWithNameAndQuote(const char* p, const char* end, absl::string_view name) {
  return static_cast<size_t>(end - p) >= name.size() + 2 && p[name.size()] == '=' &&
         p[name.size() + 1] == '"' && EqualBytes(p, name.data(), name.size());
}

}  // namespace

bool ScanPlainSample(const char* line, const char* end, absl::string_view previous_name,
                     LabelRef* labels, size_t known_labels, size_t max_label_value_length,
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
    if (line == end || !IsMetricStart(*line)) return false;
    p = FindMetricNameEnd(line, end, end);
    if (p == end || (*p != '{' && *p != ' ')) return false;
    out->same_name = false;
  }
  out->name = absl::string_view(line, p - line);

  size_t count = 0;
  if (*p == '{') {
    ++p;
    if (p != end && *p != '}') {
      for (;;) {
        if (count == known_labels) return false;
        const absl::string_view name = labels[count].name;
        if (!StartsWithNameAndQuote(p, end, name)) return false;
        const char* const value = p + name.size() + 2;
        p = FindValueStop(value, end, end);
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
