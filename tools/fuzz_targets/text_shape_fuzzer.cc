// Fuzz target for TextShapeCache and the text shapes under it (libs/text_parser): the input is
// a whole text push body.
//
// A shape must only ever give what the parser gives. For the body, and for bodies made from it
// (its values replaced by others: numbers, 0 and -0, NaN, infinities, out of range, not numbers,
// a value followed by more text; and one byte of it changed), checked with and without limits:
//   - making a shape is ParseTextToWire: the same status, bytes and series count;
//   - the body it was made from is always written from it;
//   - whenever a body is written from it, ParseTextToWire accepts that body and appends exactly
//     the same bytes, with the same series count; when it is not, the output is untouched;
//   - TextShapeCache::ParseToWire, with one cache across inputs and a few groups (so that shapes
//     of other bodies are tried too), gives ParseTextToWire's status and bytes every time.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/text_parser/internal/text_shape.h"
#include "libs/text_parser/text_parser.h"
#include "libs/text_parser/text_shape_cache.h"
#include "tools/fuzz_targets/fuzz_check.h"

namespace pushgate {
namespace fuzz {
namespace {

using ::pushgate::text_parser_internal::TextShape;

constexpr absl::string_view kValues[] = {
    "0",      "-0", "0.0", "1",   "-2.5", "NaN", "+Inf", "-Inf",  "1e308", "1e999",
    "1e-400", "x",  "",    "1 2", "3\r",  "4#",  "0x1",  "1_000", ".5",    "nan",
};

// `shape.body` with value k replaced by kValues[(seed + k * step) % size].
std::string WithValues(const TextShape& shape, size_t seed, size_t step) {
  constexpr size_t kCount = sizeof(kValues) / sizeof(kValues[0]);
  return text_parser_internal::ReplaceValues(shape, [=](size_t k, absl::string_view) {
    return std::string(kValues[(seed + k * step) % kCount]);
  });
}

void CheckWrittenAsParsed(const TextShape& shape, absl::string_view body,
                          const TextParserLimits& limits, bool must_fit) {
  std::string written = "kept";
  size_t written_series = 0;
  const bool fits = text_parser_internal::WriteFromShape(shape, body, &written, &written_series);
  FUZZ_CHECK(fits || !must_fit, "the body the shape was made from was not written from it");
  if (!fits) {
    FUZZ_CHECK(written == "kept", "a body that did not fit the shape changed the output");
    return;
  }
  std::string parsed = "kept";
  size_t parsed_series = 0;
  const absl::Status status = ParseTextToWire(body, limits, &parsed, &parsed_series);
  FUZZ_CHECK(status.ok(), "written from a shape, but the parser says ", status.ToString());
  FUZZ_CHECK(written == parsed, "written from a shape, the wire bytes differ from the parser's");
  FUZZ_CHECK(written_series == parsed_series, "written from a shape, the series count differs");
}

void CheckShape(absl::string_view body, const TextParserLimits& limits, size_t seed) {
  TextShape shape;
  std::string made = "kept";
  size_t made_series = 0;
  const absl::Status status =
      text_parser_internal::ParseAndMakeShape(body, limits, &made, &made_series, &shape);
  std::string parsed = "kept";
  size_t parsed_series = 0;
  FUZZ_CHECK(status == ParseTextToWire(body, limits, &parsed, &parsed_series),
             "making a shape changed the status: ", status.ToString());
  FUZZ_CHECK(made == parsed, "making a shape changed the wire bytes");
  if (!status.ok()) return;
  FUZZ_CHECK(made_series == parsed_series, "making a shape changed the series count");
  CheckWrittenAsParsed(shape, body, limits, /*must_fit=*/true);
  for (size_t step : {0, 1, 7}) {
    CheckWrittenAsParsed(shape, WithValues(shape, seed, step), limits, /*must_fit=*/false);
  }
  if (!body.empty()) {
    std::string changed(body);
    changed[seed % changed.size()] ^= static_cast<char>(1 + seed % 255);
    CheckWrittenAsParsed(shape, changed, limits, /*must_fit=*/false);
  }
}

void CheckCache(TextShapeCache* cache, absl::string_view group, absl::string_view body,
                const TextParserLimits& limits) {
  std::string cached = "kept";
  std::string parsed = "kept";
  size_t cached_series = 0;
  size_t parsed_series = 0;
  const absl::Status status = cache->ParseToWire(group, body, &cached, &cached_series);
  FUZZ_CHECK(status == ParseTextToWire(body, limits, &parsed, &parsed_series),
             "the cache changed the status: ", status.ToString());
  FUZZ_CHECK(cached == parsed, "the cache changed the wire bytes");
  if (status.ok()) FUZZ_CHECK(cached_series == parsed_series, "the cache changed the series count");
}

void Run(absl::string_view body) {
  const size_t seed = absl::HashOf(body);
  TextParserLimits tight;
  tight.max_series = 5;
  tight.max_labels_per_series = 2;
  tight.max_label_name_length = 4;
  tight.max_label_value_length = 4;
  CheckShape(body, {}, seed);
  CheckShape(body, tight, seed);

  static TextShapeCache cache({}, 256 << 10);
  static TextShapeCache tight_cache(tight, 256 << 10);
  const std::string group = absl::StrCat("job/", seed % 4);
  for (int round = 0; round < 3; ++round) {
    CheckCache(&cache, group, body, {});
    CheckCache(&tight_cache, group, body, tight);
  }
  TextShape shape;
  std::string wire;
  if (text_parser_internal::ParseAndMakeShape(body, {}, &wire, nullptr, &shape).ok()) {
    CheckCache(&cache, group, WithValues(shape, seed, 1), {});
  }
}

}  // namespace
}  // namespace fuzz
}  // namespace pushgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pushgate::fuzz::Run(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
