#include "libs/text_parser/text_parser.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/go_text/go_text.h"
#include "libs/text_parser/internal/general_path.h"
#include "libs/text_parser/internal/model.h"
#include "libs/text_parser/internal/numbers.h"
#include "libs/text_parser/internal/plain_sample.h"
#include "libs/text_parser/internal/scan.h"
#include "libs/text_parser/internal/traced_parse.h"

namespace pushgate {
namespace {

using ::pushgate::text_parser_internal::AppendWire;
using ::pushgate::text_parser_internal::ClearOrRelease;
using ::pushgate::text_parser_internal::EqualBytes;
using ::pushgate::text_parser_internal::FamilyRecord;
using ::pushgate::text_parser_internal::FamilyType;
using ::pushgate::text_parser_internal::FindBlank;
using ::pushgate::text_parser_internal::FindLabelNameEnd;
using ::pushgate::text_parser_internal::FindMetricNameEnd;
using ::pushgate::text_parser_internal::FindValueStop;
using ::pushgate::text_parser_internal::kCounter;
using ::pushgate::text_parser_internal::kGauge;
using ::pushgate::text_parser_internal::kGaugeHistogram;
using ::pushgate::text_parser_internal::kHistogram;
using ::pushgate::text_parser_internal::kInfo;
using ::pushgate::text_parser_internal::kNoIndex;
using ::pushgate::text_parser_internal::kSummary;
using ::pushgate::text_parser_internal::kUntyped;
using ::pushgate::text_parser_internal::LabelRef;
using ::pushgate::text_parser_internal::Model;
using ::pushgate::text_parser_internal::ParseFloat;
using ::pushgate::text_parser_internal::ParseInt64;
using ::pushgate::text_parser_internal::PlainLabelLimits;
using ::pushgate::text_parser_internal::PlainSample;
using ::pushgate::text_parser_internal::SameText;
using ::pushgate::text_parser_internal::ScanPlainSample;
using ::pushgate::text_parser_internal::SeriesKind;
using ::pushgate::text_parser_internal::SeriesRecord;
using ::pushgate::text_parser_internal::StartsWithNameAndQuote;
using ::pushgate::text_parser_internal::ValueSlot;

// The model writes its types as MetricType field values.
// (Compared as ints: comparing two enumerations' values draws -Wenum-compare.)
static_assert(int{kUntyped} == int{v1::UNTYPED} && int{kCounter} == int{v1::COUNTER} &&
                  int{kGauge} == int{v1::GAUGE} && int{kSummary} == int{v1::SUMMARY} &&
                  int{kHistogram} == int{v1::HISTOGRAM} && int{kInfo} == int{v1::INFO} &&
                  int{kGaugeHistogram} == int{v1::GAUGE_HISTOGRAM},
              "text_parser_internal::FamilyType must match pushgate.v1.MetricType");

// ---------------------------------------------------------------------------------------
// Character classes and small scanners.

// Character classes by table: the scanners below test one byte per step.
enum : uint8_t {
  kBlank = 1,        // ' ', '\t'
  kDigit = 2,        // 0-9
  kLabelStart = 4,   // a-z A-Z _
  kColon = 8,        // ':'
  kLabelDelim = 16,  // what may follow a label name: = , } " blank
};

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  t[' '] = t['\t'] = kBlank | kLabelDelim;
  for (int c = '0'; c <= '9'; ++c) t[c] = kDigit;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kLabelStart;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kLabelStart;
  t['_'] = kLabelStart;
  t[':'] = kColon;
  t['='] = t[','] = t['}'] = kLabelDelim;
  t['"'] = kLabelDelim;
  return t;
}
constexpr std::array<uint8_t, 256> kClasses = MakeClasses();

inline bool Is(char c, uint8_t classes) {
  return (kClasses[static_cast<unsigned char>(c)] & classes) != 0;
}
inline bool IsBlank(char c) { return Is(c, kBlank); }
inline bool IsLabelStart(char c) { return Is(c, kLabelStart); }
inline bool IsLabelDelimiter(char c) { return Is(c, kLabelDelim); }
inline bool IsMetricStart(char c) { return Is(c, kLabelStart | kColon); }
inline bool IsMetricChar(char c) { return Is(c, kLabelStart | kDigit | kColon); }

inline size_t SkipBlanks(absl::string_view s, size_t i) {
  while (i < s.size() && IsBlank(s[i])) ++i;
  return i;
}

// Quotes `s` for an error message: Go's escapes so the message stays on one line, and long
// text cut at 100 bytes so a huge line cannot blow up the response.
std::string Quote(absl::string_view s) { return GoQuote(s, /*max_bytes=*/100); }

// Copies `raw` to `out` (room for raw.size() bytes: unescaping only shortens) with `\\` and
// `\n` replaced, and `\"` too when `quote_escape` (label values; HELP text has no quotes to
// escape). Returns the end of the output, or nullptr with *bad at the offending backslash
// when another character (or none) follows one.
char* UnescapeTo(absl::string_view raw, bool quote_escape, char* out, size_t* bad) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      *out++ = raw[i];
      continue;
    }
    const char next = i + 1 < raw.size() ? raw[i + 1] : '\0';
    if (next == '\\') {
      *out++ = '\\';
    } else if (next == 'n') {
      *out++ = '\n';
    } else if (next == '"' && quote_escape) {
      *out++ = '"';
    } else {
      *bad = i;
      return nullptr;
    }
    ++i;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The parser.

bool ParseTypeName(absl::string_view word, FamilyType* type) {
  struct Entry {
    absl::string_view name;
    FamilyType type;
  };
  // Lower-case first: the longest name is 14 bytes.
  char lower[16];
  if (word.size() > sizeof(lower)) return false;
  for (size_t i = 0; i < word.size(); ++i) lower[i] = absl::ascii_tolower(word[i]);
  const absl::string_view lowered(lower, word.size());
  static constexpr Entry kTypes[] = {
      {"counter", kCounter},
      {"gauge", kGauge},
      {"summary", kSummary},
      {"histogram", kHistogram},
      {"untyped", kUntyped},
      {"info", kInfo},
      {"gaugehistogram", kGaugeHistogram},
      // OpenMetrics names: the nearest 0.0.4 type.
      {"unknown", kUntyped},
      {"stateset", kGauge},
  };
  for (const Entry& e : kTypes) {
    if (SameText(lowered, e.name)) {
      *type = e.type;
      return true;
    }
  }
  return false;
}

absl::string_view TypeName(FamilyType type) {
  switch (type) {
    case kCounter:
      return "counter";
    case kGauge:
      return "gauge";
    case kSummary:
      return "summary";
    case kHistogram:
      return "histogram";
    case kInfo:
      return "info";
    case kGaugeHistogram:
      return "gaugehistogram";
    default:
      return "untyped";
  }
}

// Types whose samples are one series each, with the sample's name as its field.
bool IsValueType(FamilyType type) { return type == kCounter || type == kGauge || type == kUntyped; }

bool IsGrouped(FamilyType type) {
  return type == kSummary || type == kHistogram || type == kGaugeHistogram;
}

enum class Role {
  kNone,
  kValue,     // counter, gauge, untyped, info sample
  kQuantile,  // summary `x{quantile=..}`
  kSum,
  kCount,
  kBucket,
};

struct Target {
  int family;
  Role role;
};

// The containers a parse works in. Growing them costs a few dozen allocations per push, so
// each thread keeps one set and a parse starts by clearing it (clear() keeps the memory, and
// absl's tables free theirs once large, so a huge push leaves little behind).
struct Workspace {
  // The push being parsed; AppendWire encodes it.
  Model model;
  absl::flat_hash_map<absl::string_view, int> families_by_key;
  // Summary and histogram series (indices into model.series) by family and labels. The keys
  // live in model.text, so a new series allocates nothing.
  absl::flat_hash_map<absl::string_view, uint32_t> grouped;
  // Per-sample scratch.
  std::vector<LabelRef> labels;
  absl::flat_hash_set<absl::string_view> seen_names;
  std::vector<int> order;
  std::string key;

  void Clear() {
    // What a huge push grew is let go rather than kept for the thread's lifetime.
    constexpr size_t kKeepElements = 4096;
    constexpr size_t kKeepBytes = 64 << 10;
    model.Clear();
    ClearOrRelease(&labels, kKeepElements);
    ClearOrRelease(&order, kKeepElements);
    ClearOrRelease(&key, kKeepBytes);
    families_by_key.clear();
    grouped.clear();
    seen_names.clear();
  }
};

class Parser {
 public:
  // `fast_path`: plain sample lines are read by ScanPlainSample (off only to test that it
  // changes nothing).
  Parser(absl::string_view body, const TextParserLimits& limits, Workspace* workspace,
         bool fast_path = true)
      : body_(body),
        body_end_(body.data() + body.size()),
        limits_(limits),
        fast_path_(fast_path),
        model_(workspace->model),
        families_(workspace->model.families),
        families_by_key_(workspace->families_by_key),
        grouped_(workspace->grouped),
        labels_(workspace->labels),
        seen_names_(workspace->seen_names),
        order_(workspace->order),
        key_(workspace->key) {
    workspace->Clear();
  }

  void set_timestamp_unit(TimestampUnit unit) { timestamp_unit_ = unit; }

  // Parses the whole body into the workspace's model; on success appends its encoding to
  // `out`, on error leaves `out` alone.
  absl::Status Run(std::string* out, size_t* series) {
    absl::Status status = ParseLines();
    if (!status.ok()) return status;
    model_.SortBuckets();
    AppendWire(&model_, out);
    if (series != nullptr) *series = series_count_;
    return absl::OkStatus();
  }

 private:
  // Out of line: error paths stay out of the hot scanning code.
  template <typename... Pieces>
  ABSL_ATTRIBUTE_NOINLINE absl::Status Error(const Pieces&... pieces) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": ", pieces...));
  }

  absl::Status ParseLines() {
    const char* p = body_.data();
    const char* const end = p + body_.size();
    const PlainLabelLimits plain_limits{limits_.max_label_name_length,
                                        limits_.max_label_value_length,
                                        limits_.max_labels_per_series};
    while (p < end) {
      ++line_;
      PlainSample plain;
      if (fast_path_ &&
          ScanPlainSample(p, end, last_name_, declared_key_, &labels_, plain_limits, &plain)) {
        absl::Status status = AddSample(plain.name, plain.same_name, plain.value, plain.value_text,
                                        /*has_timestamp=*/false, /*timestamp=*/0);
        if (!status.ok()) return status;
        p = plain.next;
        continue;
      }
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
      const char* line_end = nl != nullptr ? nl : end;
      absl::string_view line(p, line_end - p);
      p = nl != nullptr ? nl + 1 : end;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const size_t start = SkipBlanks(line, 0);
      if (start == line.size()) continue;
      line.remove_prefix(start);
      absl::Status status = line[0] == '#' ? ParseComment(line) : ParseSample(line);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // --- Comments ---

  absl::Status ParseComment(absl::string_view line) {
    size_t i = SkipBlanks(line, 1);
    const size_t word_end = TokenEnd(line, i);
    const absl::string_view keyword = line.substr(i, word_end - i);
    i = SkipBlanks(line, word_end);
    const bool help = SameText(keyword, "HELP");
    if (!help && !SameText(keyword, "TYPE")) return absl::OkStatus();
    if (i == line.size()) return absl::OkStatus();  // a bare "# HELP" is just a comment

    // Which sample names belong where may change: forget the cached resolution.
    last_name_ = absl::string_view();
    // HELP and TYPE of one family come together: the name is usually the last one declared,
    // which needs neither checking nor looking up again.
    size_t name_end = i + declared_key_.size();
    const bool same_family =
        !declared_key_.empty() && name_end <= line.size() &&
        EqualBytes(line.data() + i, declared_key_.data(), declared_key_.size()) &&
        (name_end == line.size() || IsBlank(line[name_end]));
    if (!same_family) {
      // The name runs to the first byte that cannot be in one; it is valid when that byte ends
      // the token (one scan instead of finding the token, then checking its bytes).
      name_end =
          FindMetricNameEnd(line.data() + i, line.data() + line.size(), body_end_) - line.data();
      if (!IsMetricStart(line[i]) || (name_end < line.size() && !IsBlank(line[name_end]))) {
        const absl::string_view token = line.substr(i, TokenEnd(line, i) - i);
        return Error("invalid metric name ", Quote(token), " in ", keyword, " line");
      }
      declared_key_ = line.substr(i, name_end - i);
      declared_ = FamilyIndex(declared_key_);
    }
    const absl::string_view name = line.substr(i, name_end - i);
    absl::string_view rest = line.substr(SkipBlanks(line, name_end));
    return help ? SetHelp(name, rest) : SetType(name, rest);
  }

  absl::Status SetHelp(absl::string_view name, absl::string_view text) {
    absl::string_view help = text;  // in the body unless it needs unescaping or repair
    if (std::memchr(text.data(), '\\', text.size()) != nullptr) {
      char* const start = model_.text.Reserve(text.size());
      size_t bad;
      char* const end = UnescapeTo(text, /*quote_escape=*/false, start, &bad);
      if (end == nullptr) {
        return Error("invalid escape sequence ", Quote(text.substr(bad, 2)), " in HELP text of ",
                     Quote(name), " (only \\\\ and \\n are allowed)");
      }
      help = model_.text.Commit(end - start);
    }
    // The Prometheus parsers take any bytes here; the model needs UTF-8, and HELP carries no
    // data, so the text is repaired rather than the push refused.
    if (!IsValidUtf8(help)) help = model_.text.Copy(ToValidUtf8(help));
    families_[declared_].help = help;
    return absl::OkStatus();
  }

  absl::Status SetType(absl::string_view name, absl::string_view word) {
    // `# TYPE name` alone declares nothing, as in the Prometheus parser.
    if (word.empty()) return absl::OkStatus();
    if (IsBlank(word.back())) {
      return Error("whitespace after the type in the TYPE line for ", Quote(name),
                   " (end the line right after the type)");
    }
    FamilyType type;
    if (!ParseTypeName(word, &type)) {
      return Error("unknown metric type ", Quote(word), " for ", Quote(name));
    }
    FamilyRecord& family = families_[declared_];
    if (family.type == type) return absl::OkStatus();
    if (family.series_count > 0) {
      // The later TYPE wins (conversion.md, as in DataKit) where the samples already read stay
      // what they were: counter, gauge and untyped samples make the same points. Not when the
      // family took its name from an OpenMetrics `_total` sample, which the new type would not.
      if (IsValueType(type) && IsValueType(family.type) && family.name == family.key) {
        family.type = type;
        return absl::OkStatus();
      }
      return Error("TYPE ", TypeName(type), " for ", Quote(name), " comes after samples of it as ",
                   TypeName(family.type), ", which cannot be read as ", TypeName(type));
    }
    family.type = type;
    // `# TYPE foo info` is the family foo_info.
    family.name = family.key;
    family.info_suffix = type == kInfo && !absl::EndsWith(family.key, "_info");
    return absl::OkStatus();
  }

  // The index of the family declared or first sampled as `key`, created if new.
  int FamilyIndex(absl::string_view key) {
    auto [it, inserted] = families_by_key_.try_emplace(key, static_cast<int>(families_.size()));
    if (inserted) {
      FamilyRecord& family = families_.emplace_back();
      family.key = key;
      family.name = key;
    }
    return it->second;
  }

  // The family keyed `key`, or -1. The family of the last HELP/TYPE line is the usual
  // answer and needs no hashing.
  int FindFamily(absl::string_view key) const {
    if (declared_ >= 0 && SameText(key, declared_key_)) return declared_;
    auto it = families_by_key_.find(key);
    return it == families_by_key_.end() ? -1 : it->second;
  }

  // --- Samples ---

  absl::Status ParseSample(absl::string_view line) {
    size_t i = 0;
    // Samples of a family come in runs: comparing with the previous name is cheaper than
    // scanning the name again.
    const bool same_name =
        !last_name_.empty() && line.size() >= last_name_.size() &&
        EqualBytes(line.data(), last_name_.data(), last_name_.size()) &&
        (line.size() == last_name_.size() || !IsMetricChar(line[last_name_.size()]));
    if (same_name) {
      i = last_name_.size();
    } else {
      while (i < line.size() && IsMetricChar(line[i])) ++i;
    }
    const absl::string_view name = line.substr(0, i);
    if (name.empty() || !IsMetricStart(name[0]) ||
        (i < line.size() && !IsBlank(line[i]) && line[i] != '{')) {
      size_t token_end = i;
      while (token_end < line.size() && !IsBlank(line[token_end]) && line[token_end] != '{') {
        ++token_end;
      }
      return Error("invalid metric name ", Quote(line.substr(0, token_end)));
    }
    i = SkipBlanks(line, i);
    if (i < line.size() && line[i] == '{') {
      absl::Status status = ParseLabels(line, name, &i);
      if (!status.ok()) return status;
      i = SkipBlanks(line, i);
    } else {
      labels_.clear();
    }
    if (i == line.size()) return Error("missing value for metric ", Quote(name));

    size_t token_end = TokenEnd(line, i);
    const absl::string_view value_text = line.substr(i, token_end - i);
    double value;
    if (!ParseFloat(value_text, &value)) {
      return Error("invalid value ", Quote(value_text), " for metric ", Quote(name));
    }
    i = SkipBlanks(line, token_end);
    if (i == line.size() && token_end != i) return TrailingBlank(name, "value");
    bool has_timestamp = false;
    int64_t timestamp = 0;
    if (i < line.size() && line[i] != '#') {
      token_end = TokenEnd(line, i);
      const absl::string_view ts_text = line.substr(i, token_end - i);
      if (timestamp_unit_ == TimestampUnit::kSeconds) {
        double seconds;
        const double ms = ParseFloat(ts_text, &seconds) ? std::round(seconds * 1e3) : NAN;
        // Within int64 milliseconds (NaN and the infinities fail this too).
        if (!(std::abs(ms) < 9.2e18)) {
          return Error("invalid timestamp ", Quote(ts_text), " for metric ", Quote(name),
                       " (want seconds, as OpenMetrics writes them)");
        }
        timestamp = static_cast<int64_t>(ms);
      } else if (!ParseInt64(ts_text, &timestamp)) {
        return Error("invalid timestamp ", Quote(ts_text), " for metric ", Quote(name),
                     " (want integer milliseconds)");
      }
      has_timestamp = true;
      i = SkipBlanks(line, token_end);
      if (i == line.size() && token_end != i) return TrailingBlank(name, "timestamp");
    }
    if (i < line.size() && !IsExemplar(line.substr(i))) {
      return Error("unexpected text ", Quote(line.substr(i)), " after the ",
                   has_timestamp ? "timestamp" : "value", " of metric ", Quote(name));
    }
    return AddSample(name, same_name, value, value_text, has_timestamp, timestamp);
  }

  // Where the token starting at line[i] ends: the next blank or the end of the line.
  size_t TokenEnd(absl::string_view line, size_t i) const {
    return FindBlank(line.data() + i, line.data() + line.size(), body_end_) - line.data();
  }

  // The Prometheus parsers read a blank after the value as the start of a timestamp, so a
  // line ending in blanks is an error there; pushgate answers the same.
  ABSL_ATTRIBUTE_NOINLINE absl::Status TrailingBlank(absl::string_view name,
                                                     absl::string_view after) const {
    return Error("whitespace at the end of the line after the ", after, " of metric ", Quote(name),
                 " (end the line right after the ", after, ")");
  }

  // ` # {labels} value [timestamp]`, an OpenMetrics exemplar: not carried.
  static bool IsExemplar(absl::string_view rest) {
    if (rest.empty() || rest[0] != '#') return false;
    const size_t i = SkipBlanks(rest, 1);
    return i < rest.size() && rest[i] == '{';
  }

  // Parses `{...}` starting at line[*i] == '{' into labels_, leaving *i after the '}'.
  //
  // labels_ comes in holding the previous sample's labels (or none, when the fast path gave up
  // on this line after checking names of its own) and is overwritten in place. Samples
  // of a family repeat their label names: while the names so far are the previous sample's,
  // in its order, a name written as `<previous name>="` is known to be valid, within the
  // length limit, not reserved and not a repeat (the previous sample passed all that with the
  // same distinct names), so only its value is scanned. The first name that differs ends the
  // shortcut for the rest of the line.
  absl::Status ParseLabels(absl::string_view line, absl::string_view metric, size_t* pos) {
    size_t i = *pos + 1;
    const size_t n = line.size();
    size_t count = 0;  // labels of this sample so far, at the front of labels_
    bool same_names = true;
    for (;;) {
      i = SkipBlanks(line, i);
      if (i == n) return Unclosed(metric);
      if (line[i] == '}') break;

      // Name.
      absl::string_view name;
      same_names = same_names && count < labels_.size() &&
                   StartsWithNameAndQuote(line.data() + i, line.data() + n, labels_[count].name);
      if (same_names) {
        name = line.substr(i, labels_[count].name.size());
        i += name.size() + 2;  // the name, '=' and '"'
      } else {
        const size_t name_start = i;
        i = FindLabelNameEnd(line.data() + i, line.data() + n, body_end_) - line.data();
        name = line.substr(name_start, i - name_start);
        if (name.empty() || !IsLabelStart(name[0]) || (i < n && !IsLabelDelimiter(line[i]))) {
          size_t token_end = i;
          while (token_end < n && !IsLabelDelimiter(line[token_end])) ++token_end;
          if (token_end == name_start) {
            return Error("unexpected ", Quote(line.substr(name_start, 1)),
                         " where a label name should be in metric ", Quote(metric));
          }
          return Error("invalid label name ",
                       Quote(line.substr(name_start, token_end - name_start)), " in metric ",
                       Quote(metric));
        }
        if (limits_.max_label_name_length != 0 && name.size() > limits_.max_label_name_length) {
          return Error("label name ", Quote(name), " in metric ", Quote(metric), " is ",
                       name.size(), " bytes long, over the limit of ",
                       limits_.max_label_name_length, " bytes (max_label_name_length)");
        }
        i = SkipBlanks(line, i);
        if (i == n || line[i] != '=') {
          return Error("expected '=' after label name ", Quote(name), " in metric ", Quote(metric));
        }
        i = SkipBlanks(line, i + 1);
        if (i == n || line[i] != '"') {
          return Error("expected '\"' to start the value of label ", Quote(name), " in metric ",
                       Quote(metric));
        }
        ++i;
      }

      // Value.
      const size_t value_start = i;
      bool escaped = false;
      bool non_ascii = false;
      for (;;) {
        i = FindValueStop(line.data() + i, line.data() + n, body_end_) - line.data();
        if (i >= n || line[i] == '"') break;
        if (line[i] == '\\') {
          escaped = true;
          i += 2;
        } else {
          non_ascii = true;
          ++i;
        }
      }
      if (i >= n) {
        return Error("value of label ", Quote(name), " in metric ", Quote(metric),
                     " has no closing '\"'");
      }
      absl::string_view value = line.substr(value_start, i - value_start);
      ++i;
      if (escaped) {
        absl::Status status = Unescape(metric, name, &value);
        if (!status.ok()) return status;
      }
      if ((non_ascii || escaped) && !IsValidUtf8(value)) {
        return Error("value of label ", Quote(name), " in metric ", Quote(metric),
                     " is not valid UTF-8");
      }
      if (limits_.max_label_value_length != 0 && value.size() > limits_.max_label_value_length) {
        return Error("value of label ", Quote(name), " in metric ", Quote(metric), " is ",
                     value.size(), " bytes long, over the limit of ",
                     limits_.max_label_value_length, " bytes (max_label_value_length)");
      }
      if (!same_names) {
        if (name == "__name__") {
          return Error("label name \"__name__\" is reserved (in metric ", Quote(metric), ")");
        }
        if (IsDuplicateLabel(name, count)) {
          return Error("duplicate label name ", Quote(name), " in metric ", Quote(metric));
        }
      }
      // Field by field: building the pair on the stack and copying it in stalled on
      // store-to-load forwarding (a tenth of the parse in profiles).
      LabelRef& label = count < labels_.size() ? labels_[count] : labels_.emplace_back();
      label.name = name;
      label.value = value;
      ++count;
      // The exact check comes with the sample (an `le` is not counted); this one stops a line
      // of millions of labels before they are all kept.
      if (ABSL_PREDICT_FALSE(limits_.max_labels_per_series != 0 &&
                             count > limits_.max_labels_per_series + 1)) {
        return Error("metric ", Quote(metric), " has more than ", count - 1,
                     " labels, over the limit of ", limits_.max_labels_per_series,
                     " per series (max_labels_per_series)");
      }

      i = SkipBlanks(line, i);
      if (i == n) return Unclosed(metric);
      if (line[i] == ',') {
        ++i;
        continue;
      }
      if (line[i] == '}') break;
      return Error("expected ',' or '}' after the value of label ", Quote(name), " in metric ",
                   Quote(metric), ", got ", Quote(line.substr(i, 1)));
    }
    labels_.resize(count);
    *pos = i + 1;
    return absl::OkStatus();
  }

  absl::Status Unclosed(absl::string_view metric) const {
    return Error("labels of metric ", Quote(metric), " have no closing '}'");
  }

  // Replaces `*value` (raw text between the quotes) with its unescaped form, kept in the
  // model's stable text: a series made from this sample keeps pointing at it.
  absl::Status Unescape(absl::string_view metric, absl::string_view name,
                        absl::string_view* value) {
    const absl::string_view raw = *value;
    char* const start = model_.text.Reserve(raw.size());
    size_t bad;
    char* const end = UnescapeTo(raw, /*quote_escape=*/true, start, &bad);
    if (end == nullptr) {
      return Error("invalid escape sequence ", Quote(raw.substr(bad, 2)), " in the value of label ",
                   Quote(name), " in metric ", Quote(metric),
                   " (only \\\\, \\\" and \\n are allowed)");
    }
    *value = model_.text.Commit(end - start);
    return absl::OkStatus();
  }

  // Whether `name` is among the first `count` labels of labels_, the sample's so far.
  bool IsDuplicateLabel(absl::string_view name, size_t count) {
    // A linear scan is fastest for the usual handful of labels; a set keeps very wide samples
    // from going quadratic.
    static constexpr size_t kLinearMax = 32;
    if (count < kLinearMax) {
      for (size_t k = 0; k < count; ++k) {
        if (SameText(labels_[k].name, name)) return true;
      }
      return false;
    }
    // Names before the first one checked here may have come through ParseLabels' shortcut:
    // the set takes them all in one go the first time this sample needs it.
    if (seen_names_line_ != line_) {
      seen_names_line_ = line_;
      seen_names_.clear();
      for (size_t k = 0; k < count; ++k) seen_names_.insert(labels_[k].name);
    }
    return !seen_names_.insert(name).second;
  }

  // --- Families and series ---

  absl::StatusOr<Target> Resolve(absl::string_view name) {
    if (const int exact = FindFamily(name); exact >= 0) {
      const FamilyRecord& family = families_[exact];
      switch (family.type) {
        case kSummary:
          return Target{exact, Role::kQuantile};
        case kHistogram:
        case kGaugeHistogram:
          // The Prometheus parser reads the bare name like `_bucket`.
          return Target{exact, Role::kBucket};
        default:
          return Target{exact, Role::kValue};
      }
    }
    struct Suffix {
      absl::string_view text;
      // The role of the suffix in each type of family that has it; kNone where it has none.
      Role summary, histogram, gauge_histogram, counter, info;
    };
    static constexpr Role kNone = Role::kNone;
    static constexpr Suffix kSuffixes[] = {
        {"_bucket", kNone, Role::kBucket, Role::kBucket, kNone, kNone},
        {"_count", Role::kCount, Role::kCount, kNone, kNone, kNone},
        {"_sum", Role::kSum, Role::kSum, kNone, kNone, kNone},
        {"_gcount", kNone, kNone, Role::kCount, kNone, kNone},
        {"_gsum", kNone, kNone, Role::kSum, kNone, kNone},
        {"_total", kNone, kNone, kNone, Role::kValue, kNone},
        {"_info", kNone, kNone, kNone, kNone, Role::kValue},
    };
    for (const Suffix& suffix : kSuffixes) {
      if (name.size() <= suffix.text.size() || !absl::EndsWith(name, suffix.text)) continue;
      const int base = FindFamily(name.substr(0, name.size() - suffix.text.size()));
      if (base < 0) continue;
      FamilyRecord& family = families_[base];
      Role role = kNone;
      switch (family.type) {
        case kSummary:
          role = suffix.summary;
          break;
        case kHistogram:
          role = suffix.histogram;
          break;
        case kGaugeHistogram:
          role = suffix.gauge_histogram;
          break;
        case kCounter:
          role = suffix.counter;
          // OpenMetrics names the counter's samples, and so the family, `<name>_total`.
          if (role != kNone) family.name = name;
          break;
        case kInfo:
          role = suffix.info;
          break;
        default:
          break;
      }
      if (role != kNone) return Target{base, role};
    }
    return Target{FamilyIndex(name), Role::kValue};
  }

  absl::Status CountSeries() {
    ++series_count_;
    if (limits_.max_series != 0 && series_count_ > limits_.max_series) {
      return Error("too many series in one push: the limit is ", limits_.max_series,
                   " (max_series_per_push)");
    }
    return absl::OkStatus();
  }

  absl::Status CheckLabelCount(absl::string_view metric, size_t count) const {
    if (limits_.max_labels_per_series != 0 && count > limits_.max_labels_per_series) {
      return Error("metric ", Quote(metric), " has ", count, " labels, over the limit of ",
                   limits_.max_labels_per_series, " per series (max_labels_per_series)");
    }
    return absl::OkStatus();
  }

  // `same_name`: `name` equals last_name_, whose resolution is cached. `value_text` is where
  // `value` is written in the body.
  absl::Status AddSample(absl::string_view name, bool same_name, double value,
                         absl::string_view value_text, bool has_timestamp, int64_t timestamp) {
    const uint32_t slot = samples_++;
    if (ABSL_PREDICT_FALSE(limits_.max_samples != 0 && samples_ > limits_.max_samples)) {
      return Error("too many samples in one push: the limit is ", limits_.max_samples,
                   " (max_samples_per_push)");
    }
    if (ABSL_PREDICT_FALSE(model_.slots != nullptr)) {
      ValueSlot& traced = model_.slots->emplace_back();
      traced.text_begin = static_cast<uint32_t>(value_text.data() - body_.data());
      traced.text_end = static_cast<uint32_t>(traced.text_begin + value_text.size());
    }
    if (!same_name) {
      absl::StatusOr<Target> target = Resolve(name);
      if (!target.ok()) return target.status();
      last_name_ = name;
      last_target_ = *target;
    }
    const Target target = last_target_;
    const FamilyType type = families_[target.family].type;
    if (IsGrouped(type)) {
      return AddGroupedSample(name, target, type, value, slot, has_timestamp, timestamp);
    }
    absl::Status status = CheckLabelCount(name, labels_.size());
    if (status.ok()) status = CountSeries();
    if (!status.ok()) return status;
    model_.AddValueSeries(target.family, labels_, value, slot, has_timestamp, timestamp);
    return absl::OkStatus();
  }

  // A summary or histogram sample: a point, sum or count of the series its labels name. Out of
  // line, so that the common value sample above stays small.
  ABSL_ATTRIBUTE_NOINLINE absl::Status AddGroupedSample(absl::string_view name, Target target,
                                                        FamilyType type, double value,
                                                        uint32_t slot, bool has_timestamp,
                                                        int64_t timestamp) {
    const absl::string_view special = type == kSummary ? "quantile" : "le";
    int special_index = -1;
    for (int k = 0; k < static_cast<int>(labels_.size()); ++k) {
      if (SameText(labels_[k].name, special)) {
        special_index = k;
        break;
      }
    }
    double bound = 0;
    // Whether the sample gives a quantile or bucket. Without its quantile/le, or with one that
    // is NaN, it gives none, but its series exists all the same: the Prometheus parser (so the
    // Pushgateway and DataKit) makes the series, with a count and sum of 0 unless other lines
    // give them, and so does pushgate.
    bool point = false;
    if ((target.role == Role::kQuantile || target.role == Role::kBucket) && special_index >= 0) {
      const absl::string_view text = labels_[special_index].value;
      if (!ParseFloat(text, &bound)) {
        return Error("invalid ", special, " label value ", Quote(text), " in sample ", Quote(name),
                     " (want a number)");
      }
      point = !std::isnan(bound);
    }
    const size_t kept_labels = labels_.size() - (special_index >= 0 ? 1 : 0);
    absl::Status status = CheckLabelCount(name, kept_labels);
    if (!status.ok()) return status;

    uint32_t series = FindGroupedSeries(target.family, special_index);
    if (series == kNoIndex) {
      status = CountSeries();
      if (!status.ok()) return status;
      series = model_.AddSeries(target.family,
                                type == kSummary ? SeriesKind::kSummary : SeriesKind::kHistogram);
      model_.SetLabels(series, labels_, special_index);
      grouped_.emplace(model_.text.Copy(key_), series);
      SetLastGroup(target.family, series);
    }
    SeriesRecord& record = model_.series[series];
    if (has_timestamp) {
      record.has_timestamp = true;
      record.timestamp_ms = timestamp;
    }
    switch (target.role) {
      case Role::kQuantile:
      case Role::kBucket:
        if (point) model_.AddPoint(series, bound, value, slot);
        break;
      case Role::kSum:
        record.sum = value;
        record.sum_slot = slot;
        break;
      default:
        record.count = value;
        record.count_slot = slot;
    }
    return absl::OkStatus();
  }

  // Builds key_ for (family, labels without the special one, in name order) and returns the
  // series already made for it, or kNoIndex.
  uint32_t FindGroupedSeries(int family, int special_index) {
    // Consecutive lines usually belong to the same series, and then usually write its labels
    // as it was first written: the same labels in the same order are the same key.
    if (last_group_ != kNoIndex && family == last_group_family_ &&
        HasLabelsOf(model_.series[last_group_], special_index)) {
      return last_group_;
    }
    order_.clear();
    for (int k = 0; k < static_cast<int>(labels_.size()); ++k) {
      if (k != special_index) order_.push_back(k);
    }
    // Names are unique within a sample, so ordering by name alone is canonical.
    std::sort(order_.begin(), order_.end(),
              [this](int a, int b) { return labels_[a].name < labels_[b].name; });
    key_.clear();
    const auto append_u32 = [this](uint32_t v) {
      key_.append(reinterpret_cast<const char*>(&v), sizeof(v));
    };
    append_u32(static_cast<uint32_t>(family));
    for (int k : order_) {
      // Names cannot contain NUL; values are length-prefixed. The key is unambiguous.
      key_.append(labels_[k].name.data(), labels_[k].name.size());
      key_.push_back('\0');
      append_u32(static_cast<uint32_t>(labels_[k].value.size()));
      key_.append(labels_[k].value.data(), labels_[k].value.size());
    }
    auto it = grouped_.find(key_);
    if (it == grouped_.end()) return kNoIndex;
    SetLastGroup(family, it->second);
    return last_group_;
  }

  // Whether labels_ but the one at `skip` are the labels of `series`, in its order.
  bool HasLabelsOf(const SeriesRecord& series, int skip) const {
    const size_t count = labels_.size() - (skip >= 0 ? 1 : 0);
    if (count != series.labels_count) return false;
    // data(), not [], so that a series without labels in an empty vector is no null reference.
    const LabelRef* stored = model_.labels.data() + series.labels_begin;
    for (int k = 0; k < static_cast<int>(labels_.size()); ++k) {
      if (k == skip) continue;
      if (!SameText(stored->name, labels_[k].name) || !SameText(stored->value, labels_[k].value)) {
        return false;
      }
      ++stored;
    }
    return true;
  }

  // `series`, in `family`, is the one the next lines most likely continue.
  void SetLastGroup(int family, uint32_t series) {
    last_group_ = series;
    last_group_family_ = family;
  }

  const absl::string_view body_;
  // Scanners may read whole words up to here, past the end of the line they look at.
  const char* const body_end_;
  const TextParserLimits& limits_;
  const bool fast_path_;
  TimestampUnit timestamp_unit_ = TimestampUnit::kMilliseconds;

  size_t line_ = 0;
  uint32_t samples_ = 0;  // sample lines read so far
  size_t series_count_ = 0;

  // In the thread's Workspace.
  Model& model_;
  std::vector<FamilyRecord>& families_;  // model_.families
  absl::flat_hash_map<absl::string_view, int>& families_by_key_;
  absl::flat_hash_map<absl::string_view, uint32_t>& grouped_;
  uint32_t last_group_ = kNoIndex;
  int last_group_family_ = -1;

  // The family of the last HELP/TYPE line.
  absl::string_view declared_key_;
  int declared_ = -1;

  // The resolution of the previous sample's name; consecutive samples usually share it.
  absl::string_view last_name_;
  Target last_target_{0, Role::kValue};

  // Per-sample scratch, in the thread's Workspace.
  std::vector<LabelRef>& labels_;
  absl::flat_hash_set<absl::string_view>& seen_names_;
  size_t seen_names_line_ = 0;  // the line whose label names seen_names_ holds
  std::vector<int>& order_;
  std::string& key_;
};

// Decodes the families ParseTextToWire wrote (exactly a PushRequest holding only them) and
// appends them to `out`; all or nothing.
absl::Status AppendFamiliesFromWire(absl::string_view wire,
                                    google::protobuf::RepeatedPtrField<v1::MetricFamily>* out) {
  v1::PushRequest families;
  if (!families.ParseFromArray(wire.data(), static_cast<int>(wire.size()))) {
    return absl::InternalError("text parser: its own wire output does not decode");
  }
  out->MergeFrom(families.families());
  return absl::OkStatus();
}

// The containers parses on this thread work in.
Workspace& ThreadWorkspace() {
  static thread_local Workspace workspace;
  return workspace;
}

}  // namespace

absl::Status ParseTextToWire(absl::string_view body, const TextParserLimits& limits,
                             std::string* out, size_t* series, TimestampUnit timestamps) {
  Parser parser(body, limits, &ThreadWorkspace());
  parser.set_timestamp_unit(timestamps);
  return parser.Run(out, series);
}

namespace text_parser_internal {

absl::Status ParseTextToWireTraced(absl::string_view body, const TextParserLimits& limits,
                                   std::string* out, size_t* series,
                                   std::vector<ValueSlot>* slots) {
  slots->clear();
  Workspace& workspace = ThreadWorkspace();
  Parser parser(body, limits, &workspace);  // clears the workspace, slots included
  workspace.model.slots = slots;
  absl::Status status = parser.Run(out, series);
  workspace.model.slots = nullptr;
  return status;
}

absl::Status ParseTextToWireGeneralPathOnly(absl::string_view body, const TextParserLimits& limits,
                                            std::string* out, size_t* series) {
  Workspace workspace;
  return Parser(body, limits, &workspace, /*fast_path=*/false).Run(out, series);
}

}  // namespace text_parser_internal

absl::Status ParseText(absl::string_view body, const TextParserLimits& limits,
                       google::protobuf::RepeatedPtrField<pushgate::v1::MetricFamily>* out) {
  // The encoding of one push, kept per thread so that its capacity is reused.
  static thread_local std::string wire;
  ClearOrRelease(&wire, /*keep=*/1 << 20);
  absl::Status status = ParseTextToWire(body, limits, &wire);
  if (!status.ok()) return status;
  return AppendFamiliesFromWire(wire, out);
}

}  // namespace pushgate
