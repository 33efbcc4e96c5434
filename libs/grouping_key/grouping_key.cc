#include "libs/grouping_key/grouping_key.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/go_text/go_text.h"

namespace pushgate {
namespace {

constexpr absl::string_view kBase64Suffix = "@base64";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Go's base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")), including where it
// reports an error: the byte offsets in the message are Go's.
absl::StatusOr<std::string> DecodeBase64(absl::string_view s) {
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  std::string out;
  out.reserve(s.size() * 3 / 4);
  size_t si = 0;
  const auto corrupt = [](size_t offset) {
    return absl::InvalidArgumentError(absl::StrCat("illegal base64 data at input byte ", offset));
  };
  for (;;) {
    // One quantum of up to four symbols; line breaks are skipped, as Go does.
    uint32_t symbols[4] = {0, 0, 0, 0};
    int count = 0;
    while (count < 4) {
      if (si == s.size()) break;
      const auto c = static_cast<unsigned char>(s[si++]);
      const int v = Base64Value(c);
      if (v >= 0) {
        symbols[count++] = static_cast<uint32_t>(v);
      } else if (c != '\n' && c != '\r') {
        return corrupt(si - 1);
      }
    }
    if (count == 0) return out;
    if (count == 1) return corrupt(si - 1);
    const uint32_t value = symbols[0] << 18 | symbols[1] << 12 | symbols[2] << 6 | symbols[3];
    out.push_back(static_cast<char>(value >> 16));
    if (count >= 3) out.push_back(static_cast<char>(value >> 8));
    if (count == 4) out.push_back(static_cast<char>(value));
    if (count < 4) return out;
  }
}

bool IsLabelName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void AppendQuotedLabelValue(absl::string_view value, std::string* out) {
  out->push_back('"');
  for (char c : value) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
  out->push_back('"');
}

}  // namespace

absl::StatusOr<std::string> PercentDecodePath(absl::string_view raw_path) {
  std::string out;
  out.reserve(raw_path.size());
  for (size_t i = 0; i < raw_path.size();) {
    const char c = raw_path[i];
    if (c != '%') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 2 >= raw_path.size() || HexValue(raw_path[i + 1]) < 0 ||
        HexValue(raw_path[i + 2]) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid URL escape ", GoQuote(raw_path.substr(i, 3))));
    }
    out.push_back(static_cast<char>(HexValue(raw_path[i + 1]) << 4 | HexValue(raw_path[i + 2])));
    i += 3;
  }
  return out;
}

// The Pushgateway's HTTP mux answers a path holding such a segment with a redirect to the
// cleaned path (Go's path.Clean), so a push to it is never stored there. Refused here, with
// the reason, rather than stored under a key the client did not mean.
bool IsDotSegment(absl::string_view segment) { return segment == "." || segment == ".."; }

absl::StatusOr<pushgate::v1::GroupingKey> ParseGroupingKey(absl::string_view path) {
  bool job_base64;
  if (absl::ConsumePrefix(&path, "job/")) {
    job_base64 = false;
  } else if (absl::ConsumePrefix(&path, "job@base64/")) {
    job_base64 = true;
  } else {
    return absl::NotFoundError("not a push path: it must start with /metrics/job/");
  }

  const size_t slash = path.find('/');
  const absl::string_view raw_job = path.substr(0, slash);
  // Everything after the job, with its leading '/', as the Pushgateway's `*labels` route
  // parameter holds it (that is what its error message quotes).
  const absl::string_view label_string =
      slash == absl::string_view::npos ? absl::string_view() : path.substr(slash);

  if (IsDotSegment(raw_job)) {
    return absl::InvalidArgumentError(
        absl::StrCat("job name ", GoQuote(raw_job), " is a relative path segment; use job@base64"));
  }
  std::string job(raw_job);
  if (job_base64) {
    absl::StatusOr<std::string> decoded = DecodeBase64(raw_job);
    if (!decoded.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid base64 encoding in job name ",
                                                     GoQuote(raw_job), ": ",
                                                     decoded.status().message()));
    }
    job = *std::move(decoded);
  }

  // std::map: sorted by name, and a repeated name keeps its last value.
  std::map<std::string, std::string> labels;
  if (label_string.size() > 1) {
    const std::vector<absl::string_view> components = absl::StrSplit(label_string.substr(1), '/');
    if (components.size() % 2 != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("odd number of components in label string ", GoQuote(label_string)));
    }
    for (size_t i = 0; i < components.size(); i += 2) {
      absl::string_view name = components[i];
      const absl::string_view value = components[i + 1];
      const bool base64 = absl::ConsumeSuffix(&name, kBase64Suffix);
      if (!IsLabelName(name) || absl::StartsWith(name, "__")) {
        return absl::InvalidArgumentError(absl::StrCat("improper label name ", GoQuote(name)));
      }
      // An empty value is fine as the path's last segment (a trailing slash); elsewhere it is
      // an empty path segment, which the Pushgateway redirects (see IsDotSegment).
      if ((value.empty() && i + 2 < components.size()) || IsDotSegment(value)) {
        return absl::InvalidArgumentError(
            absl::StrCat("label ", name, " has the value ", GoQuote(value), ", ",
                         value.empty() ? "an empty" : "a relative", " path segment; use ", name,
                         kBase64Suffix, "/", value.empty() ? "=" : "<base64 of the value>"));
      }
      if (!base64) {
        labels[std::string(name)] = std::string(value);
        continue;
      }
      absl::StatusOr<std::string> decoded = DecodeBase64(value);
      if (!decoded.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("invalid base64 encoding for label ", name,
                                                       "=", GoQuote(value), ": ",
                                                       decoded.status().message()));
      }
      labels[std::string(name)] = *std::move(decoded);
    }
  }
  if (job.empty()) return absl::InvalidArgumentError("job name is required");
  // The key is a proto3 message, whose strings must be UTF-8: the aggregator could not even
  // parse a push carrying anything else. Only values that end up in the key are checked.
  if (!IsValidUtf8(job)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 in job name ", GoQuote(job)));
  }
  for (const auto& [name, value] : labels) {
    if (name != "job" && !IsValidUtf8(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid UTF-8 in value of label ", name, "=", GoQuote(value)));
    }
  }

  pushgate::v1::GroupingKey key;
  key.set_job(std::move(job));
  for (auto& [name, value] : labels) {
    if (name == "job") continue;
    pushgate::v1::Label* label = key.add_labels();
    label->set_name(name);
    label->set_value(std::move(value));
  }
  return key;
}

std::string CanonicalGroupingKey(const pushgate::v1::GroupingKey& key) {
  std::vector<const pushgate::v1::Label*> labels;
  labels.reserve(key.labels_size());
  for (const pushgate::v1::Label& label : key.labels()) labels.push_back(&label);
  std::sort(labels.begin(), labels.end(),
            [](const pushgate::v1::Label* a, const pushgate::v1::Label* b) {
              return std::tie(a->name(), a->value()) < std::tie(b->name(), b->value());
            });
  std::string out = "{job=";
  AppendQuotedLabelValue(key.job(), &out);
  for (const pushgate::v1::Label* label : labels) {
    out.push_back(',');
    // Names cannot contain the quoting characters, so they need no escaping: the text stays
    // unambiguous.
    out.append(label->name());
    out.push_back('=');
    AppendQuotedLabelValue(label->value(), &out);
  }
  out.push_back('}');
  return out;
}

}  // namespace pushgate
