// Fuzz target for ParseText (libs/text_parser): the input is a whole text push body.
//
// Beyond "no crash, no undefined behaviour", it checks what the header promises:
//   - a rejected body yields InvalidArgument "line N: ..." on one line, and leaves the
//     families already in the output exactly as they were, adding nothing;
//   - an accepted body appends after them, and every family it adds is well formed (see
//     model_checks.h: valid, non-empty names, families with series, labels valid, unique and
//     UTF-8, summaries/histograms grouped by label set, buckets sorted);
//   - limits only ever reject: with tight limits the parse either gives exactly the same
//     families, within the limits, or fails naming a limit;
//   - ParseTextToWire (what the front sends) agrees with ParseText: the same status, the
//     output untouched on error, and on success exactly the bytes of a PushRequest holding
//     ParseText's families, with their series count;
//   - the parser's fast path for plain sample lines changes nothing: without it, the same
//     status and the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/text_parser/internal/general_path.h"
#include "libs/text_parser/text_parser.h"
#include "proto/ingest.pb.h"
#include "tools/fuzz_targets/fuzz_check.h"
#include "tools/fuzz_targets/model_checks.h"

namespace pushgate {
namespace fuzz {
namespace {

// A family the caller already had: the parser must not touch it.
v1::MetricFamily ExistingFamily() {
  v1::MetricFamily family;
  family.set_name("existing_family");
  family.set_type(v1::GAUGE);
  v1::Series* series = family.add_series();
  v1::Label* label = series->add_labels();
  label->set_name("a");
  label->set_value("b");
  series->set_value(1.5);
  return family;
}

void CheckWireAgrees(absl::string_view body) {
  CheckWireMatchesMessages(
      [body](Families* out) { return ParseText(body, {}, out); },
      [body](std::string* out, size_t* series) { return ParseTextToWire(body, {}, out, series); });
}

void CheckFastPathChangesNothing(absl::string_view body, const TextParserLimits& limits) {
  std::string fast;
  std::string general;
  size_t fast_series = 0;
  size_t general_series = 0;
  const absl::Status fast_status = ParseTextToWire(body, limits, &fast, &fast_series);
  const absl::Status general_status =
      text_parser_internal::ParseTextToWireGeneralPathOnly(body, limits, &general, &general_series);
  FUZZ_CHECK(general_status == fast_status, "without the fast path: ", general_status.ToString(),
             "; with it: ", fast_status.ToString());
  FUZZ_CHECK(general == fast, "the fast path changed the wire bytes");
  FUZZ_CHECK(general_series == fast_series, "the fast path changed the series count");
}

void Run(absl::string_view body) {
  ModelRules rules;
  rules.families_have_series = true;
  rules.info_allowed = true;
  rules.unique_grouped_series = true;
  CheckBodyDecoder([body](const TextParserLimits& limits,
                          Families* out) { return ParseText(body, limits, out); },
                   ExistingFamily(), "line ", "(max_", rules);
  CheckWireAgrees(body);
  CheckFastPathChangesNothing(body, {});
  TextParserLimits tight;
  tight.max_series = 5;
  tight.max_labels_per_series = 2;
  tight.max_label_name_length = 4;
  tight.max_label_value_length = 4;
  CheckFastPathChangesNothing(body, tight);
}

}  // namespace
}  // namespace fuzz
}  // namespace pushgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pushgate::fuzz::Run(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
