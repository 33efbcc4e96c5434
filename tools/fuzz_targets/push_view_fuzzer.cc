// Fuzz target for libs/push_view: the input is taken as a serialized pushgate.v1.PushRequest,
// and protobuf's generated parser is the reference. It checks what the header promises:
//   - PushView::Parse succeeds exactly when PushRequest::ParseFromString does;
//   - it then holds what PushView::Fill shows of the parsed message (compared by DebugString,
//     which tells every double apart), and so does Parse of that message re-serialized;
//   - a refusal is InvalidArgument with a one-line message, and leaves no families.
// The views are reused from input to input, as the aggregator reuses its own, so anything one
// input left behind would show in the next comparison.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "libs/push_view/push_view.h"
#include "proto/ingest.pb.h"
#include "tools/fuzz_targets/fuzz_check.h"

namespace pushgate {
namespace fuzz {
namespace {

void CheckParse(absl::string_view wire) {
  static PushView* const view = new PushView;
  static PushView* const expected = new PushView;
  const absl::Status status = view->Parse(wire);
  v1::PushRequest message;
  const bool protobuf_ok = message.ParseFromArray(wire.data(), static_cast<int>(wire.size()));
  FUZZ_CHECK(status.ok() == protobuf_ok, "Parse says ", status.ToString(), ", protobuf says ",
             protobuf_ok ? "ok" : "malformed");
  if (!status.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(status), status.ToString());
    FUZZ_CHECK(!status.message().empty() && !absl::StrContains(status.message(), "\n"),
               "not one line: ", status.ToString());
    FUZZ_CHECK(view->families().empty(), "a refused push left families");
    return;
  }
  expected->Fill(message);
  const std::string parsed = view->DebugString();
  FUZZ_CHECK(parsed == expected->DebugString(), "Parse gave\n", parsed, "protobuf gave\n",
             expected->DebugString());

  const std::string canonical = message.SerializeAsString();
  const absl::Status reparsed = view->Parse(canonical);
  FUZZ_CHECK(reparsed.ok(), "protobuf's own serialization refused: ", reparsed.ToString());
  FUZZ_CHECK(view->DebugString() == parsed, "the re-serialized push parsed to\n",
             view->DebugString(), "instead of\n", parsed);
}

}  // namespace
}  // namespace fuzz
}  // namespace pushgate

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // protobuf logs every string that is not UTF-8 before refusing it; at thousands of inputs a
  // second that is only noise, and slow.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pushgate::fuzz::CheckParse(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
