#include "libs/go_text/go_text.h"

#include <cstdint>
#include <cstring>

namespace pushgate {
namespace {

constexpr char kHex[] = "0123456789abcdef";

inline bool InRange(unsigned char b, unsigned char lo, unsigned char hi) {
  return b >= lo && b <= hi;
}

// Utf8SequenceLength for `n` >= 1 bytes at `p`. Each lead byte bounds its second byte so that
// overlong forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above
// U+10FFFF (F4 90..BF) fail on that byte, as in Go's unicode/utf8; the bytes C0, C1 and F5 to FF
// never start a sequence.
inline size_t SequenceLength(const unsigned char* p, size_t n) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (InRange(b0, 0xC2, 0xDF)) {
    len = 2;
  } else if (InRange(b0, 0xE0, 0xEF)) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (InRange(b0, 0xF0, 0xF4)) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || !InRange(p[1], lo, hi)) return 0;
  for (size_t i = 2; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return len;
}

inline const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Where to cut `s` (longer than `max_bytes`) so no valid sequence is split: a sequence the
// cut would split starts at most three bytes before it.
size_t CutPoint(absl::string_view s, size_t max_bytes) {
  for (size_t back = 1; back <= 3 && back <= max_bytes; ++back) {
    const size_t start = max_bytes - back;
    const auto b = static_cast<unsigned char>(s[start]);
    if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    if (SequenceLength(Bytes(s) + start, s.size() - start) > back) return start;
    break;
  }
  return max_bytes;
}

// The ASCII bytes Go's strconv.Quote writes as a backslash and a letter, and those letters.
constexpr absl::string_view kEscaped = "\"\\\a\b\f\n\r\t\v";
constexpr absl::string_view kEscapeLetters = "\"\\abfnrtv";

void AppendHexByte(unsigned char c, std::string* out) {
  out->append({'\\', 'x', kHex[c >> 4], kHex[c & 0xF]});
}

}  // namespace

size_t Utf8SequenceLength(absl::string_view s) {
  return s.empty() ? 0 : SequenceLength(Bytes(s), s.size());
}

bool IsValidUtf8(absl::string_view s) {
  const unsigned char* const p = Bytes(s);
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Most text is ASCII: step over it eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i == n) break;
    const size_t len = SequenceLength(p + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string ToValidUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  bool in_invalid_run = false;
  while (!s.empty()) {
    const size_t len = SequenceLength(Bytes(s), s.size());
    if (len == 0) {
      if (!in_invalid_run) out.append("\xEF\xBF\xBD");
      in_invalid_run = true;
      s.remove_prefix(1);
      continue;
    }
    in_invalid_run = false;
    out.append(s.data(), len);
    s.remove_prefix(len);
  }
  return out;
}

// The code point of the valid 2- or 3-byte UTF-8 sequence at the start of `s` (`len` bytes).
uint32_t CodePoint(absl::string_view s, size_t len) {
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i])); };
  if (len == 2) return (b(0) & 0x1F) << 6 | (b(1) & 0x3F);
  return (b(0) & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F);
}

// Invisible runes that Go's strconv.Quote escapes (not unicode.IsPrint) and that make a name
// in a message look right when it is not: no-break and zero-width spaces, joiners and
// direction marks, line and paragraph separators, the soft hyphen, a byte order mark.
bool IsInvisible(uint32_t cp) {
  return cp == 0xA0 || cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF;
}

std::string GoQuote(absl::string_view s, size_t max_bytes) {
  const bool cut = s.size() > max_bytes;
  if (cut) s = s.substr(0, CutPoint(s, max_bytes));
  std::string out;
  out.reserve(s.size() + (cut ? 5 : 2));
  out.push_back('"');
  while (!s.empty()) {
    const auto c = static_cast<unsigned char>(s[0]);
    if (c >= 0x80) {
      const size_t len = SequenceLength(Bytes(s), s.size());
      if (len == 0) {
        AppendHexByte(c, &out);
        s.remove_prefix(1);
      } else if (c == 0xC2 && static_cast<unsigned char>(s[1]) < 0xA0) {
        // A C1 control (U+0080 to U+009F, encoded C2 80 to C2 9F), which Go escapes.
        const auto cp = static_cast<unsigned char>(s[1]);
        out.append({'\\', 'u', '0', '0', kHex[cp >> 4], kHex[cp & 0xF]});
        s.remove_prefix(2);
      } else if (len <= 3 && IsInvisible(CodePoint(s, len))) {
        const uint32_t cp = CodePoint(s, len);
        out.append({'\\', 'u', kHex[cp >> 12], kHex[(cp >> 8) & 0xF], kHex[(cp >> 4) & 0xF],
                    kHex[cp & 0xF]});
        s.remove_prefix(len);
      } else {
        out.append(s.data(), len);
        s.remove_prefix(len);
      }
      continue;
    }
    s.remove_prefix(1);
    if (const size_t k = kEscaped.find(static_cast<char>(c)); k != absl::string_view::npos) {
      out.append({'\\', kEscapeLetters[k]});
    } else if (c < 0x20 || c == 0x7F) {
      AppendHexByte(c, &out);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  if (cut) out.append("...");
  return out;
}

}  // namespace pushgate
