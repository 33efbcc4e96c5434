// Checks on the normalized model (proto/ingest.proto) that every successful text parse and
// protobuf decode must satisfy, whatever the input was: the promises of the two decoders'
// headers that downstream code (naming, conversion) relies on.
#ifndef PUSHGATE_TOOLS_FUZZ_TARGETS_MODEL_CHECKS_H_
#define PUSHGATE_TOOLS_FUZZ_TARGETS_MODEL_CHECKS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "libs/text_parser/text_parser.h"
#include "proto/ingest.pb.h"
#include "tools/fuzz_targets/fuzz_check.h"

namespace pushgate {
namespace fuzz {

using Families = google::protobuf::RepeatedPtrField<pushgate::v1::MetricFamily>;

inline bool IsMetricName(absl::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

inline bool IsLabelName(absl::string_view s) {
  return IsMetricName(s) && s.find(':') == absl::string_view::npos;
}

// An independent, deliberately plain strict UTF-8 check (no overlongs, surrogates or code
// points above U+10FFFF), so a bug in a decoder's fast check does not hide itself.
inline bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int n;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b >> 5) == 0x6) {
      n = 1, cp = b & 0x1F;
    } else if ((b >> 4) == 0xE) {
      n = 2, cp = b & 0x0F;
    } else if ((b >> 3) == 0x1E) {
      n = 3, cp = b & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= static_cast<size_t>(n)) return false;
    for (int k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 0x2) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

inline std::string Bytes(const Families& families) {
  std::string out;
  for (const auto& f : families) {
    const std::string one = f.SerializeAsString();
    absl::StrAppend(&out, one.size(), ":", one);
  }
  return out;
}

// The elements of `families` from `first` on, serialized, for exact comparisons (NaN values
// included, which a field-by-field comparison would call unequal).
inline std::string BytesFrom(const Families& families, int first) {
  std::string out;
  for (int i = first; i < families.size(); ++i) {
    const std::string one = families.Get(i).SerializeAsString();
    absl::StrAppend(&out, one.size(), ":", one);
  }
  return out;
}

struct ModelRules {
  bool families_have_series = false;  // the text parser drops families without samples
  bool info_allowed = false;          // only the text format has info families
  bool unique_family_names = false;   // the protobuf decoder keeps the last of a name
  // The text parser joins summary/histogram samples with equal label sets into one series;
  // the protobuf decoder keeps every pushed metric as its own series.
  bool unique_grouped_series = false;
};

inline void CheckFamilies(const Families& families, int first, const ModelRules& rules) {
  std::set<std::string> names;
  for (int f = first; f < families.size(); ++f) {
    const v1::MetricFamily& family = families.Get(f);
    const std::string where = absl::StrCat("family ", f, " \"", family.name(), "\"");
    FUZZ_CHECK(IsMetricName(family.name()), where, ": invalid name");
    FUZZ_CHECK(IsUtf8(family.help()), where, ": help is not UTF-8");
    FUZZ_CHECK(v1::MetricType_IsValid(family.type()), where, ": type ", family.type());
    FUZZ_CHECK(rules.info_allowed || family.type() != v1::INFO, where, ": unexpected INFO");
    FUZZ_CHECK(!rules.families_have_series || family.series_size() > 0, where, ": no series");
    if (rules.unique_family_names) {
      FUZZ_CHECK(names.insert(family.name()).second, where, ": name given twice");
    }
    const bool summary = family.type() == v1::SUMMARY;
    const bool histogram = family.type() == v1::HISTOGRAM || family.type() == v1::GAUGE_HISTOGRAM;
    // Label sets (as sets) of summary/histogram series: each must be one series.
    std::set<std::vector<std::pair<std::string, std::string>>> grouped_keys;
    for (int s = 0; s < family.series_size(); ++s) {
      const v1::Series& series = family.series(s);
      const std::string at = absl::StrCat(where, " series ", s);
      std::set<std::string> label_names;
      std::vector<std::pair<std::string, std::string>> key;
      for (const v1::Label& label : series.labels()) {
        FUZZ_CHECK(IsLabelName(label.name()), at, ": invalid label name \"", label.name(), "\"");
        FUZZ_CHECK(label.name() != "__name__", at, ": reserved label name");
        FUZZ_CHECK(IsUtf8(label.value()), at, ": label value is not UTF-8");
        FUZZ_CHECK(label_names.insert(label.name()).second, at, ": label \"", label.name(),
                   "\" given twice");
        key.emplace_back(label.name(), label.value());
      }
      if (summary) {
        FUZZ_CHECK(series.data_case() == v1::Series::kSummary, at, ": summary without summary");
      } else if (histogram) {
        FUZZ_CHECK(series.data_case() == v1::Series::kHistogram, at, ": no histogram data");
        const auto& buckets = series.histogram().buckets();
        for (int b = 0; b < buckets.size(); ++b) {
          FUZZ_CHECK(!std::isnan(buckets.Get(b).upper_bound()), at, ": NaN bucket bound");
          FUZZ_CHECK(b == 0 || buckets.Get(b - 1).upper_bound() <= buckets.Get(b).upper_bound(), at,
                     ": buckets not sorted at ", b);
        }
      } else {
        FUZZ_CHECK(series.data_case() == v1::Series::kValue, at, ": no plain value");
      }
      if (rules.unique_grouped_series && (summary || histogram)) {
        FUZZ_CHECK(!label_names.count(summary ? "quantile" : "le"), at,
                   ": kept its quantile/le label");
        std::sort(key.begin(), key.end());
        FUZZ_CHECK(grouped_keys.insert(std::move(key)).second, at,
                   ": same labels as an earlier series of the family");
      }
    }
  }
}

// Limits small enough that fuzz inputs reach them.
inline TextParserLimits TightLimits() {
  TextParserLimits tight;
  tight.max_series = 4;
  tight.max_labels_per_series = 3;
  tight.max_label_name_length = 6;
  tight.max_label_value_length = 8;
  tight.max_samples = 12;
  return tight;
}

// The contract both body decoders (ParseText, DecodeProtobufPush) share, checked on one input.
// `decode(limits, out)` decodes the input, appending to `out`; `existing` is put in `out`
// first. A rejection is InvalidArgument on one line starting with `error_prefix` and leaves
// `out` as it was; an acceptance appends well-formed families (per `rules`); tight limits
// only ever reject (with a message containing `limit_marker`) or give exactly the same
// families, within the limits.
template <typename Decode>
void CheckBodyDecoder(const Decode& decode, const v1::MetricFamily& existing,
                      absl::string_view error_prefix, absl::string_view limit_marker,
                      const ModelRules& rules) {
  auto check_rejected = [&](const absl::Status& status, const std::string& before,
                            const Families& out) {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
    FUZZ_CHECK(absl::StartsWith(status.message(), error_prefix), status.ToString());
    FUZZ_CHECK(status.message().find('\n') == absl::string_view::npos, status.ToString());
    FUZZ_CHECK(Bytes(out) == before, "a rejected body changed the output: ", status.ToString());
  };
  Families out;
  *out.Add() = existing;
  const std::string before = Bytes(out);
  const absl::Status status = decode(TextParserLimits{}, &out);

  const TextParserLimits tight = TightLimits();
  Families limited;
  *limited.Add() = existing;
  const absl::Status limited_status = decode(tight, &limited);

  if (!status.ok()) {
    check_rejected(status, before, out);
    FUZZ_CHECK(!limited_status.ok(), "limits turned a rejected body into an accepted one");
    check_rejected(limited_status, before, limited);
    return;
  }
  FUZZ_CHECK(absl::StartsWith(Bytes(out), before), "the family already in the output changed");
  CheckFamilies(out, 1, rules);

  if (!limited_status.ok()) {
    check_rejected(limited_status, before, limited);
    FUZZ_CHECK(absl::StrContains(limited_status.message(), limit_marker),
               "rejected under limits for something else: ", limited_status.ToString());
    return;
  }
  FUZZ_CHECK(BytesFrom(limited, 1) == BytesFrom(out, 1), "limits changed the decode result");
  size_t series = 0;
  for (int f = 1; f < limited.size(); ++f) {
    for (const v1::Series& s : limited.Get(f).series()) {
      ++series;
      FUZZ_CHECK(static_cast<size_t>(s.labels_size()) <= tight.max_labels_per_series,
                 "series over max_labels_per_series accepted");
      for (const v1::Label& l : s.labels()) {
        FUZZ_CHECK(l.name().size() <= tight.max_label_name_length, "long label name accepted");
        FUZZ_CHECK(l.value().size() <= tight.max_label_value_length, "long label value accepted");
      }
    }
  }
  FUZZ_CHECK(series <= tight.max_series, series, " series accepted over max_series");
}

// A decoder's two outputs agree: `to_wire(out, series)` appends to its output exactly the
// bytes of a PushRequest holding the families `to_messages(out)` gives (after a head the
// front writes first), counts their series, and fails, leaving the output alone, exactly when
// `to_messages` fails.
template <typename ToMessages, typename ToWire>
void CheckWireMatchesMessages(const ToMessages& to_messages, const ToWire& to_wire) {
  Families families;
  const absl::Status decoded = to_messages(&families);
  // method = POST (field 2, before the families' field 4), as the front writes it first.
  const std::string head = "\x10\x01";
  std::string wire = head;
  size_t series = 0;
  const absl::Status wired = to_wire(&wire, &series);
  FUZZ_CHECK(wired == decoded, "to wire: ", wired.ToString(),
             "; to messages: ", decoded.ToString());
  if (!decoded.ok()) {
    FUZZ_CHECK(wire == head, "a rejected body changed the wire output");
    return;
  }
  size_t series_in_messages = 0;
  for (const v1::MetricFamily& family : families) series_in_messages += family.series_size();
  FUZZ_CHECK(series == series_in_messages, "series count ", series, " but ", series_in_messages,
             " series in the messages");
  v1::PushRequest request;
  request.set_method(v1::POST);
  request.mutable_families()->Swap(&families);
  FUZZ_CHECK(wire == request.SerializeAsString(), "wire bytes differ from the messages'");
}

}  // namespace fuzz
}  // namespace pushgate

#endif  // PUSHGATE_TOOLS_FUZZ_TARGETS_MODEL_CHECKS_H_
