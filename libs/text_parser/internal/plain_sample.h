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

#include "absl/strings/string_view.h"
#include "libs/text_parser/internal/model.h"

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
bool ScanPlainSample(const char* line, const char* end, absl::string_view previous_name,
                     LabelRef* labels, size_t known_labels, size_t max_label_value_length,
                     PlainSample* out);

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_PLAIN_SAMPLE_H_
