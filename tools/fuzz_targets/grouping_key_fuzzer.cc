// Fuzz target for libs/grouping_key: the input is a raw URL path, run as the front runs it
// (PercentDecodePath, then ParseGroupingKey on what follows a leading "/metrics/").
//
// Beyond "no crash, no undefined behaviour", it checks:
//   - PercentDecodePath either decodes every `%XX` (the output is two bytes shorter per `%`)
//     or fails with InvalidArgument `invalid URL escape ...`;
//   - ParseGroupingKey fails only with NotFound (not a push path, exactly when the path does
//     not start with `job/` or `job@base64/`) or InvalidArgument;
//   - a key it returns has a non-empty job and valid, unique, sorted label names other than
//     `job` and without a `__` prefix, and all its values are UTF-8 (a proto3 message that
//     holds anything else cannot be parsed by the aggregator);
//   - writing that key back as a path (every value base64, as a client may) parses to the
//     same key, with the same canonical text.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "libs/grouping_key/grouping_key.h"
#include "proto/ingest.pb.h"
#include "tools/fuzz_targets/fuzz_check.h"
#include "tools/fuzz_targets/model_checks.h"

namespace pushgate {
namespace fuzz {
namespace {

void Run(absl::string_view raw_path) {
  const absl::StatusOr<std::string> decoded = PercentDecodePath(raw_path);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument,
               decoded.status().ToString());
    FUZZ_CHECK(absl::StartsWith(decoded.status().message(), "invalid URL escape \""),
               decoded.status().ToString());
    return;
  }
  const size_t escapes = std::count(raw_path.begin(), raw_path.end(), '%');
  FUZZ_CHECK(decoded->size() == raw_path.size() - 2 * escapes, "decoded ", decoded->size(),
             " bytes from ", raw_path.size(), " with ", escapes, " escapes");

  absl::string_view path = *decoded;
  absl::ConsumePrefix(&path, "/metrics/");
  const absl::StatusOr<v1::GroupingKey> key = ParseGroupingKey(path);
  const bool push_path = absl::StartsWith(path, "job/") || absl::StartsWith(path, "job@base64/");
  if (!key.ok()) {
    const absl::StatusCode code = key.status().code();
    FUZZ_CHECK(
        code == (push_path ? absl::StatusCode::kInvalidArgument : absl::StatusCode::kNotFound),
        key.status().ToString());
    return;
  }
  FUZZ_CHECK(push_path, "a key from a path that is not a push path");
  FUZZ_CHECK(!key->job().empty(), "empty job accepted");
  FUZZ_CHECK(IsUtf8(key->job()), "job is not UTF-8");
  for (int i = 0; i < key->labels_size(); ++i) {
    const std::string& name = key->labels(i).name();
    FUZZ_CHECK(IsLabelName(name), "invalid label name \"", name, "\"");
    FUZZ_CHECK(!absl::StartsWith(name, "__"), "reserved label name \"", name, "\"");
    FUZZ_CHECK(name != "job", "a job label besides the job");
    FUZZ_CHECK(IsUtf8(key->labels(i).value()), "value of label ", name, " is not UTF-8");
    FUZZ_CHECK(i == 0 || key->labels(i - 1).name() < name, "labels not sorted and unique");
  }

  std::string again = absl::StrCat("job@base64/", absl::WebSafeBase64Escape(key->job()));
  for (const v1::Label& label : key->labels()) {
    absl::StrAppend(&again, "/", label.name(), "@base64/",
                    absl::WebSafeBase64Escape(label.value()));
  }
  const absl::StatusOr<v1::GroupingKey> reparsed = ParseGroupingKey(again);
  FUZZ_CHECK(reparsed.ok(), "re-encoded key ", again, " rejected: ", reparsed.status().ToString());
  FUZZ_CHECK(reparsed->SerializeAsString() == key->SerializeAsString(), "re-encoded key ", again,
             " parsed differently");
  FUZZ_CHECK(CanonicalGroupingKey(*reparsed) == CanonicalGroupingKey(*key), "canonical text");
}

}  // namespace
}  // namespace fuzz
}  // namespace pushgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pushgate::fuzz::Run(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
