// Fuzz target for libs/protobuf_decoder: the input is a whole push body for
// DecodeProtobufPush, and the same bytes as a Content-Type value for IsDelimitedProtobuf.
//
// Beyond "no crash, no undefined behaviour", it checks what the header promises:
//   - a rejected body yields InvalidArgument "family N at byte B..." on one line, and leaves
//     the families already in the output exactly as they were, adding nothing;
//   - an accepted body appends after them, and every family it adds is well formed (see
//     model_checks.h; family names are unique, as the last message of a name wins);
//   - limits only ever reject: with tight limits the decode either gives exactly the same
//     families, within the limits, or fails naming a limit;
//   - DecodeProtobufPushToWire (what the front sends) agrees with DecodeProtobufPush: the
//     same status, its output untouched on error, and on success exactly the bytes of a
//     PushRequest holding DecodeProtobufPush's families, with their series count;
//   - IsDelimitedProtobuf accepts only values that spell out the media type and both
//     parameters, and the media type's case does not matter.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "libs/protobuf_decoder/protobuf_decoder.h"
#include "libs/text_parser/text_parser.h"
#include "proto/ingest.pb.h"
#include "tools/fuzz_targets/fuzz_check.h"
#include "tools/fuzz_targets/model_checks.h"

namespace pushgate {
namespace fuzz {
namespace {

// A family the caller already had: the decoder must not touch it.
v1::MetricFamily ExistingFamily() {
  v1::MetricFamily existing;
  existing.set_name("existing_family");
  existing.set_type(v1::COUNTER);
  existing.add_series()->set_value(2);
  return existing;
}

void CheckDecode(absl::string_view body) {
  ModelRules rules;
  rules.unique_family_names = true;
  CheckBodyDecoder([body](const TextParserLimits& limits,
                          Families* out) { return DecodeProtobufPush(body, limits, out); },
                   ExistingFamily(), "family ", "max_", rules);
}

// Without limits and with tight ones: the fast path must decline exactly where the general
// path refuses a limit.
void CheckWireAgrees(absl::string_view body) {
  for (const TextParserLimits& limits : {TextParserLimits{}, TightLimits()}) {
    CheckWireMatchesMessages(
        [body, &limits](Families* out) { return DecodeProtobufPush(body, limits, out); },
        [body, &limits](std::string* out, size_t* series) {
          return DecodeProtobufPushToWire(body, limits, out, series);
        });
  }
}

void CheckContentType(absl::string_view value) {
  const bool protobuf = IsDelimitedProtobuf(value);
  if (protobuf) {
    FUZZ_CHECK(absl::StrContains(absl::AsciiStrToLower(value), "application/vnd.google.protobuf"),
               "accepted without the media type");
    FUZZ_CHECK(absl::StrContains(value, "io.prometheus.client.MetricFamily"),
               "accepted without the proto parameter");
    FUZZ_CHECK(absl::StrContains(value, "delimited"), "accepted without the encoding parameter");
  }
  std::string upper(value);
  const size_t media_type_end = std::min(upper.find(';'), upper.size());
  for (size_t i = 0; i < media_type_end; ++i) upper[i] = absl::ascii_toupper(upper[i]);
  FUZZ_CHECK(IsDelimitedProtobuf(upper) == protobuf, "the media type's case changed the answer");
}

}  // namespace
}  // namespace fuzz
}  // namespace pushgate

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // libprotobuf logs every proto2 string that is not UTF-8 (the decoder then rejects it);
  // at thousands of inputs a second that is only noise, and slow.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  pushgate::fuzz::CheckDecode(input);
  pushgate::fuzz::CheckWireAgrees(input);
  pushgate::fuzz::CheckContentType(input);
  return 0;
}
