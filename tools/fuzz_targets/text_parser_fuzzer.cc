// Fuzz target for ParseText (libs/text_parser): the input is a whole text push body.
//
// Beyond "no crash, no undefined behaviour", it checks what the header promises:
//   - a rejected body yields InvalidArgument "line N: ..." on one line, and leaves the
//     families already in the output exactly as they were, adding nothing;
//   - an accepted body appends after them, and every family it adds is well formed (see
//     model_checks.h: valid, non-empty names, families with series, labels valid, unique and
//     UTF-8, summaries/histograms grouped by label set, buckets sorted);
//   - limits only ever reject: with tight limits the parse either gives exactly the same
//     families, within the limits, or fails naming a limit.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "libs/text_parser/text_parser.h"
#include "proto/ingest.pb.h"
#include "tools/fuzz_targets/fuzz_check.h"
#include "tools/fuzz_targets/model_checks.h"

namespace pushgate {
namespace fuzz {
namespace {

// A family the caller already had: the parser must not touch it.
void AddExisting(Families* out) {
  v1::MetricFamily* existing = out->Add();
  existing->set_name("existing_family");
  existing->set_type(v1::GAUGE);
  v1::Series* series = existing->add_series();
  v1::Label* label = series->add_labels();
  label->set_name("a");
  label->set_value("b");
  series->set_value(1.5);
}

void CheckRejected(const absl::Status& status, const std::string& before, const Families& out) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
  FUZZ_CHECK(absl::StartsWith(status.message(), "line "), status.ToString());
  FUZZ_CHECK(status.message().find('\n') == absl::string_view::npos, status.ToString());
  FUZZ_CHECK(Bytes(out) == before, "a rejected body changed the output: ", status.ToString());
}

void Run(absl::string_view body) {
  Families out;
  AddExisting(&out);
  const std::string before = Bytes(out);
  const absl::Status status = ParseText(body, TextParserLimits{}, &out);

  TextParserLimits tight;
  tight.max_series = 4;
  tight.max_labels_per_series = 3;
  tight.max_label_name_length = 6;
  tight.max_label_value_length = 8;
  Families limited;
  AddExisting(&limited);
  const absl::Status limited_status = ParseText(body, tight, &limited);

  if (!status.ok()) {
    CheckRejected(status, before, out);
    FUZZ_CHECK(!limited_status.ok(), "limits turned a rejected body into an accepted one");
    CheckRejected(limited_status, before, limited);
    return;
  }
  FUZZ_CHECK(absl::StartsWith(Bytes(out), before), "the family already in the output changed");
  ModelRules rules;
  rules.families_have_series = true;
  rules.info_allowed = true;
  rules.unique_grouped_series = true;
  CheckFamilies(out, 1, rules);

  if (!limited_status.ok()) {
    CheckRejected(limited_status, before, limited);
    FUZZ_CHECK(absl::StrContains(limited_status.message(), "(max_"),
               "rejected under limits for something else: ", limited_status.ToString());
    return;
  }
  FUZZ_CHECK(BytesFrom(limited, 1) == BytesFrom(out, 1), "limits changed the parse result");
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

}  // namespace
}  // namespace fuzz
}  // namespace pushgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pushgate::fuzz::Run(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
