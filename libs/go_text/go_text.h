// UTF-8 validity and quoting as Go's standard library sees them, so pushgate's error messages
// and checks match the Pushgateway's (written in Go): what unicode/utf8 calls valid, what
// strings.ToValidUTF8 makes of invalid text, and what strconv.Quote (fmt's %q) prints.
#ifndef PUSHGATE_LIBS_GO_TEXT_GO_TEXT_H_
#define PUSHGATE_LIBS_GO_TEXT_GO_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace pushgate {

// Length (1 to 4) of the valid UTF-8 sequence `s` starts with, or 0 when `s` is empty or
// starts with none. Valid is Go's utf8.ValidString: shortest form only (no overlong
// encodings), no surrogates (U+D800 to U+DFFF), nothing above U+10FFFF, and not cut short.
size_t Utf8SequenceLength(absl::string_view s);

// Whether all of `s` is valid UTF-8 in the sense above (Go's utf8.ValidString). Fast on ASCII,
// which it skips eight bytes at a time.
bool IsValidUtf8(absl::string_view s);

// `s` with each run of bytes that are not valid UTF-8 replaced by one U+FFFD, as Go's
// strings.ToValidUTF8(s, "\uFFFD") does. Valid input comes back unchanged.
std::string ToValidUtf8(absl::string_view s);

// `s` double-quoted with Go's strconv.Quote escapes, for error messages: \" \\ \a \b \f \n \r
// \t \v, other ASCII controls and each byte that is not valid UTF-8 as \xNN, the C1 controls
// (U+0080 to U+009F) and the invisible runes that make a wrong name look right (no-break and
// zero-width spaces, joiners, direction marks, U+2028/U+2029, the soft hyphen, a byte order
// mark) as \uNNNN; all other valid UTF-8 is kept as it is (Go would also escape rarer
// non-printable runes). The result never spans lines.
//
// When `s` is longer than `max_bytes`, only its first `max_bytes` bytes are quoted and "..."
// follows the closing quote, so a huge input cannot blow up a message. The cut never splits
// a valid UTF-8 sequence: one that would be split is left out whole.
std::string GoQuote(absl::string_view s, size_t max_bytes = absl::string_view::npos);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_GO_TEXT_GO_TEXT_H_
