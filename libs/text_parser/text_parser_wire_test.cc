// ParseTextToWire against protobuf's own serializer: for every body at hand (the conformance
// vectors' text bodies and bodies written here for the encoding's corner cases; the fuzz seed
// corpus is visible only to //tools/fuzz_targets), the bytes it appends must be exactly what
// SerializeAsString gives for a PushRequest holding ParseText's families, and a rejected body must
// give ParseText's error and leave the output untouched. ParseText's messages themselves are
// checked by text_parser_test.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "libs/text_parser/internal/general_path.h"
#include "libs/text_parser/internal/text_shape.h"
#include "libs/text_parser/text_parser.h"
#include "libs/text_parser/text_shape_cache.h"
#include "proto/ingest.pb.h"
#include "tests/conformance/vectors.h"

namespace pushgate {
namespace {

struct Body {
  std::string name;
  std::string text;
};

// The text bodies of the conformance vectors (`request.body`; protobuf pushes have
// `request.body_b64` instead and are skipped).
std::vector<Body> VectorBodies() {
  std::vector<Body> bodies;
  for (const std::string& file : testing::VectorFiles()) {
    absl::StatusOr<testing::ConversionVector> vector = testing::ReadVector(file);
    EXPECT_TRUE(vector.ok()) << vector.status();
    if (!vector.ok() || !vector->request().has_body()) continue;
    bodies.push_back(
        {"vector " + std::filesystem::path(file).filename().string(), vector->request().body()});
  }
  return bodies;
}

// What protobuf's serializer treats specially: zero, negative zero, NaN and infinite doubles
// inside and outside the oneof, absent/zero/negative timestamps, empty strings, escapes
// (unescaped texts live apart from the body), long texts (multi-byte lengths), info and
// OpenMetrics counter names, unsorted buckets, and series that are not adjacent.
std::vector<Body> EdgeBodies() {
  std::string long_help(300, 'h');
  std::string long_value(20000, 'v');
  std::string many_series = "# TYPE wide gauge\n";
  for (int i = 0; i < 300; ++i) absl::StrAppend(&many_series, "wide{i=\"", i, "\"} ", i, "\n");
  // Value series are encoded as they are read, into a buffer that grows several times here.
  std::string long_series = "# TYPE big gauge\n";
  for (int i = 0; i < 60; ++i) {
    absl::StrAppend(&long_series, "big{i=\"", i, "\",v=\"", std::string(200 + 50 * i, 'x'), "\"} ",
                    i, "\n");
  }
  return {
      {"zero values", "a 0\nb -0\nc 0 0\nd -0.0 -5\ne +0\n"},
      {"special values", "a NaN\nb +Inf\nc -Inf\nd 1e-320\ne 1.7976931348623157e308\n"},
      {"timestamps", "a 1 9223372036854775807\na 2 -9223372036854775808\na 3 -1\na 4 0\n"},
      {"empty label values", "a{x=\"\",y=\"1\"} 1\na{} 2\n"},
      {"escapes", "# HELP a line\\none \\\\ two\na{x=\"q\\\"u\\\\o\\nte\",y=\"plain\"} 1\n"},
      {"non-UTF-8 help", "# HELP a bad \xff\xfe bytes\na 1\n"},
      {"UTF-8 label value", "a{x=\"h\xc3\xa9llo \xe2\x82\xac\"} 1\n"},
      {"long help and value",
       absl::StrCat("# HELP a ", long_help, "\na{x=\"", long_value, "\"} 1\n")},
      {"many series", many_series},
      {"long series", long_series},
      {"summary",
       "# TYPE s summary\ns{quantile=\"0\"} 0\ns{quantile=\"-0\"} -0\ns{quantile=\"NaN\"} 1\n"
       "s_sum 0\ns_count -0\ns{a=\"1\",quantile=\"0.5\"} 3 7\ns_sum{a=\"1\"} 4\n"
       "s{a=\"2\"} 1\n"},
      {"summary without points", "# TYPE s summary\ns_sum 0\n"},
      {"histogram",
       "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 9\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"-0\"} 0\n"
       "h_bucket{le=\"0\"} 1\nh_bucket{le=\"1\"} 4\nh_sum -0\nh_count 9 -2\n"
       "# TYPE g gaugehistogram\ng_bucket{x=\"1\",le=\"5\"} 1\ng_gsum{x=\"1\"} 2\n"
       "g_gcount{x=\"1\"} 3\n"},
      {"interleaved series",
       "# TYPE h histogram\nh_bucket{a=\"1\",le=\"2\"} 1\nh_bucket{a=\"2\",le=\"1\"} 1\n"
       "other 5\nh_bucket{le=\"1\",a=\"1\"} 0\nh_count{a=\"2\"} 1\nother 6\n"},
      {"info and counter names",
       "# TYPE build info\nbuild_info{version=\"1\"} 1\n# TYPE c counter\nc_total 5\n"
       "# TYPE x_info info\nx_info 1\n"},
      {"all types",
       "# TYPE u untyped\nu 1\n# TYPE c counter\nc 1\n# TYPE g gauge\ng 1\n"
       "# TYPE i info\ni_info 1\n# TYPE st stateset\nst{st=\"a\"} 1\n"},
      {"help without samples", "# HELP lonely text\n# TYPE lonely gauge\nother 1\n"},
      {"empty", ""},
      {"rejected", "a 1\nb{x=\"1\",x=\"2\"} 2\n"},
      {"rejected value", "a 1\nb one\n"},
  };
}

// Runs `body` both ways and compares; returns whether it was accepted.
bool ExpectWireMatchesMessages(const Body& body) {
  SCOPED_TRACE(body.name);
  google::protobuf::RepeatedPtrField<v1::MetricFamily> families;
  const absl::Status parsed = ParseText(body.text, {}, &families);

  // Bytes already in the output stay, and the families come after them.
  const std::string prefix = "\x08\x07prefix";
  std::string wire = prefix;
  size_t series = 12345;
  const absl::Status wired = ParseTextToWire(body.text, {}, &wire, &series);
  EXPECT_EQ(wired, parsed);
  if (!parsed.ok()) {
    EXPECT_EQ(wire, prefix);
    return false;
  }
  size_t series_in_messages = 0;
  for (const v1::MetricFamily& family : families) series_in_messages += family.series_size();
  EXPECT_EQ(series, series_in_messages);
  v1::PushRequest request;
  request.mutable_families()->Swap(&families);
  const std::string expected = request.SerializeAsString();
  EXPECT_EQ(wire.substr(0, prefix.size()), prefix);
  // EXPECT_EQ on the bytes would print them unreadably; say where they first differ.
  const absl::string_view got = absl::string_view(wire).substr(prefix.size());
  size_t same = 0;
  while (same < got.size() && same < expected.size() && got[same] == expected[same]) ++same;
  EXPECT_TRUE(got == expected) << "wire output differs from SerializeAsString at byte " << same
                               << " of " << expected.size() << " (got " << got.size() << " bytes)";
  return true;
}

TEST(ParseTextToWireTest, MatchesSerializedMessagesOnConformanceBodies) {
  const std::vector<Body> bodies = VectorBodies();
  ASSERT_GE(bodies.size(), 20u) << "the conformance vectors data dependency is missing";
  int accepted = 0;
  for (const Body& body : bodies) accepted += ExpectWireMatchesMessages(body);
  EXPECT_GE(accepted, 20);
}

TEST(ParseTextToWireTest, MatchesSerializedMessagesOnEncodingCornerCases) {
  int accepted = 0;
  for (const Body& body : EdgeBodies()) accepted += ExpectWireMatchesMessages(body);
  EXPECT_EQ(accepted, static_cast<int>(EdgeBodies().size()) - 2);
}

// ParseText now decodes ParseTextToWire's bytes, so comparing those bytes with its
// re-serialized messages cannot see a value the encoding loses (that would be lost on both
// sides). The values protobuf's proto3 rules make easy to lose are checked here directly.
TEST(ParseTextToWireTest, ValuesThatProto3OmitsOnlyWhenPositiveZeroSurvive) {
  google::protobuf::RepeatedPtrField<v1::MetricFamily> families;
  ASSERT_TRUE(
      ParseText("a -0 0\nb 0\n# TYPE s summary\ns{quantile=\"-0\"} -0\ns{quantile=\"+Inf\"} 0\n"
                "s_sum -0\ns_count NaN\n# TYPE h histogram\nh_bucket{le=\"-0\"} -0\n"
                "h_sum -0\nh_count -0 -1\nc{x=\"\"} 1\n",
                {}, &families)
          .ok());
  ASSERT_EQ(families.size(), 5);
  const v1::Series& a = families[0].series(0);
  EXPECT_EQ(a.data_case(), v1::Series::kValue);
  EXPECT_TRUE(std::signbit(a.value()));
  EXPECT_TRUE(a.has_timestamp_ms());
  EXPECT_EQ(a.timestamp_ms(), 0);
  const v1::Series& b = families[1].series(0);
  EXPECT_EQ(b.data_case(), v1::Series::kValue);
  EXPECT_FALSE(b.has_timestamp_ms());
  const v1::Summary& s = families[2].series(0).summary();
  ASSERT_EQ(s.quantiles_size(), 2);
  EXPECT_TRUE(std::signbit(s.quantiles(0).quantile()));
  EXPECT_TRUE(std::signbit(s.quantiles(0).value()));
  EXPECT_TRUE(std::isinf(s.quantiles(1).quantile()));
  EXPECT_EQ(s.quantiles(1).value(), 0);
  EXPECT_TRUE(std::signbit(s.sum()));
  EXPECT_TRUE(std::isnan(s.count()));
  const v1::Series& h = families[3].series(0);
  ASSERT_EQ(h.histogram().buckets_size(), 1);
  EXPECT_TRUE(std::signbit(h.histogram().buckets(0).upper_bound()));
  EXPECT_TRUE(std::signbit(h.histogram().buckets(0).cumulative_count()));
  EXPECT_TRUE(std::signbit(h.histogram().sum()));
  EXPECT_TRUE(std::signbit(h.histogram().count()));
  EXPECT_EQ(h.timestamp_ms(), -1);
  const v1::Series& c = families[4].series(0);
  ASSERT_EQ(c.labels_size(), 1);
  EXPECT_EQ(c.labels(0).name(), "x");
  EXPECT_EQ(c.labels(0).value(), "");
}

TEST(ParseTextToWireTest, RepeatedParsesOnOneThreadGiveTheSameBytes) {
  // The parser reuses its per-thread containers: a previous push must leave no trace.
  const std::string body =
      "# HELP a x\\ny\na{v=\"e\\\"s\"} 1\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\n"
      "h_bucket{le=\"1\"} 1\n";
  std::string first;
  ASSERT_TRUE(ParseTextToWire(body, {}, &first).ok());
  std::string other;
  ASSERT_TRUE(ParseTextToWire("# TYPE z summary\nz{quantile=\"1\"} 2\nq 1\n", {}, &other).ok());
  ASSERT_FALSE(ParseTextToWire("a 1\nb{", {}, &other).ok());
  std::string again;
  ASSERT_TRUE(ParseTextToWire(body, {}, &again).ok());
  EXPECT_EQ(again, first);
}

TEST(ParseTextToWireTest, LimitsRejectAsParseTextDoes) {
  TextParserLimits limits;
  limits.max_series = 2;
  const std::string body = "a 1\nb 2\nc 3\n";
  google::protobuf::RepeatedPtrField<v1::MetricFamily> families;
  std::string wire = "kept";
  const absl::Status status = ParseTextToWire(body, limits, &wire);
  EXPECT_EQ(status, ParseText(body, limits, &families));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wire, "kept");
}

// Lines the fast path for plain samples (internal/plain_sample.h) reads, next to lines it leaves
// to the general parser, and errors right after either kind (the line numbers must still count
// both).
std::vector<Body> FastPathBodies() {
  std::string wide = "# TYPE w counter\n";
  for (int i = 0; i < 50; ++i) {
    absl::StrAppend(&wide, "w_total{a=\"", i % 7, "\",b=\"", i, "\",c=\"x\"} ", i * 0.5, "\n");
  }
  return {
      {"runs", wide},
      {"runs then a new name",
       absl::StrCat(wide, "w_total{a=\"1\",d=\"2\"} 1\nw_total{a=\"3\"} 2\n")},
      {"label prefixes", "x{a=\"1\",b=\"2\"} 1\nx{a=\"3\"} 2\nx 3\nx{} 4\nx{a=\"5\",b=\"6\"} 5\n"},
      {"other order", "x{a=\"1\",b=\"2\"} 1\nx{b=\"3\",a=\"4\"} 2\nx{b=\"5\",a=\"6\"} 3\n"},
      {"mixed shapes",
       "x{a=\"1\"} 1\n x{a=\"2\"} 2\nx{a=\"3\"} 3 17\nx{a=\"4\"} 4\r\nx{a=\"5\"}\t5\n"
       "x{a=\"\\\"\"} 6\nx{a=\"\xc3\xa9\"} 7\nx{a=\"8\"} 8 # {t=\"1\"} 1\nx{a = \"9\"} 9\n"
       "x{a=\"10\",} 10\ny 1e3\ny NaN\ny -Inf\n\n# comment\nx{a=\"11\"} 11"},
      {"histogram runs",
       "# TYPE h histogram\nh_bucket{s=\"a\",le=\"1\"} 1\nh_bucket{s=\"a\",le=\"2\"} 2\n"
       "h_bucket{s=\"a\",le=\"+Inf\"} 3\nh_sum{s=\"a\"} 4\nh_count{s=\"a\"} 3\n"
       "h_bucket{s=\"b\",le=\"1\"} 1\nh_bucket{s=\"b\"} 1\nh_bucket{s=\"b\",le=\"NaN\"} 1\n"
       "h_bucket{s=\"a\",le=\"5\"} 5\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.9\"} "
       "2\n"
       "s_sum 1\ns_count 2\n"},
      {"names ending at the body", "a 1\nb 2"},
      {"no newline after labels", "a{x=\"1\"} 1\na{x=\"2\"}"},
      {"bad value after a fast line", "a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"3\"} one\n"},
      {"bad name after a fast line", "a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"3\",x=\"4\"} 2\n"},
      {"unclosed after a fast line", "a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"3\"\na 2\n"},
      {"newline in a value", "a{x=\"1\"} 1\na{x=\"2\n\"} 1\n"},
      {"type change after fast lines", "a 1\na 2\n# TYPE a gauge\na 3\n"},
      {"value too long after fast lines", "a{x=\"1\"} 1\na{x=\"12345\"} 1\n"},
      // Found by the fuzzer: four labels against a limit of two, each within the other limits.
      // The general parser stops reading at the fourth and says "more than 3"; the fast path
      // must not read on and say "4".
      {"labels past the limit", "m_a{e=\"\"} 1\nm_b{m=\"a,b\",eq=\"a=b\",bs=\"s\",t=\"x\"} 0\n"},
      {"new names",
       "a{x=\"1\",y=\"2\"} 1\na{z=\"1\",y=\"2\"} 2\nb{z=\"3\"} 3\nb 4\nb{w=\"5\"} 5\n"},
      {"a repeat where a name was known", "a{x=\"1\",y=\"2\"} 1\na{y=\"1\",y=\"2\"} 2\n"},
      {"a repeat around a known name", "a{x=\"1\",y=\"2\"} 1\na{z=\"1\",x=\"2\",z=\"3\"} 2\n"},
      {"reserved after a known name", "a{x=\"1\"} 1\na{x=\"1\",__name__=\"b\"} 2\n"},
      {"new names, then the line is not plain",
       "a{x=\"1\",y=\"2\"} 1\na{z=\"1\",y=\"2\"} 2 7\na{z=\"1\",y=\"2\"} 3\n"
       "a{q=\"\\\"\",y=\"2\"} 4\na{q=\"1\",y=\"2\",q=\"3\"} 5\n"},
      {"long new name", "a{abcdefgh=\"1\"} 1\n"},
  };
}

// The fast path must change nothing: for every body, with and without limits, the same status
// (so the same error on the same line) and the same bytes as the general parser alone.
TEST(ParseTextToWireTest, FastPathGivesWhatTheGeneralParserGives) {
  std::vector<Body> bodies = VectorBodies();
  for (const std::vector<Body>& more : {EdgeBodies(), FastPathBodies()}) {
    bodies.insert(bodies.end(), more.begin(), more.end());
  }
  TextParserLimits tight;
  tight.max_series = 40;
  tight.max_labels_per_series = 2;
  tight.max_label_name_length = 5;
  tight.max_label_value_length = 4;
  int rejected_by_limits = 0;
  for (const Body& body : bodies) {
    for (const TextParserLimits& limits : {TextParserLimits{}, tight}) {
      SCOPED_TRACE(body.name);
      std::string fast = "kept";
      std::string general = "kept";
      size_t fast_series = 1;
      size_t general_series = 2;
      const absl::Status fast_status = ParseTextToWire(body.text, limits, &fast, &fast_series);
      const absl::Status general_status = text_parser_internal::ParseTextToWireGeneralPathOnly(
          body.text, limits, &general, &general_series);
      EXPECT_EQ(fast_status, general_status);
      EXPECT_TRUE(fast == general) << "the wire bytes differ";
      if (fast_status.ok()) {
        EXPECT_EQ(fast_series, general_series);
      }
      rejected_by_limits += absl::StrContains(fast_status.message(), "(max_");
    }
  }
  // Each limit is reached somewhere, from lines the fast path reads too.
  EXPECT_GE(rejected_by_limits, 4);
}

using ::pushgate::text_parser_internal::ReplaceValues;

std::vector<Body> AllBodies() {
  std::vector<Body> bodies = VectorBodies();
  for (const std::vector<Body>& more : {EdgeBodies(), FastPathBodies()}) {
    bodies.insert(bodies.end(), more.begin(), more.end());
  }
  return bodies;
}

TextParserLimits TightLimits() {
  TextParserLimits tight;
  tight.max_series = 40;
  tight.max_labels_per_series = 2;
  tight.max_label_name_length = 5;
  tight.max_label_value_length = 4;
  return tight;
}

// `body` parsed through `cache` must give what ParseTextToWire gives.
void ExpectCacheGivesParse(TextShapeCache* cache, absl::string_view group, absl::string_view body,
                           const TextParserLimits& limits) {
  std::string direct = "kept";
  std::string cached = "kept";
  size_t direct_series = 1;
  size_t cached_series = 2;
  const absl::Status direct_status = ParseTextToWire(body, limits, &direct, &direct_series);
  const absl::Status cached_status = cache->ParseToWire(group, body, &cached, &cached_series);
  EXPECT_EQ(cached_status, direct_status);
  EXPECT_TRUE(cached == direct) << "the wire bytes differ for body:\n" << body;
  if (direct_status.ok()) {
    EXPECT_EQ(cached_series, direct_series);
  }
}

// Whether the text is a value whose proto3 field would be left out (0, not -0).
bool IsPositiveZero(absl::string_view text) {
  const double v = std::strtod(std::string(text).c_str(), nullptr);
  return v == 0 && !std::signbit(v);
}

// A push's values replaced keep its shape; ones that change a 0 into another number or back
// change the encoding's layout, and bad ones make an error: through a shape every one must give
// exactly what the parser gives.
TEST(TextShapeTest, WritesWhatTheParserWritesForOtherValues) {
  const std::vector<std::string> others = {"123.5", "-7e-3", "NaN", "+Inf", "-0", "1e308", "42"};
  int shapes = 0;
  int written = 0;
  for (const Body& body : AllBodies()) {
    for (const TextParserLimits& limits : {TextParserLimits{}, TightLimits()}) {
      SCOPED_TRACE(body.name);
      text_parser_internal::TextShape shape;
      std::string wire = "kept";
      size_t series = 0;
      if (!text_parser_internal::ParseAndMakeShape(body.text, limits, &wire, &series, &shape)
               .ok()) {
        EXPECT_EQ(wire, "kept");
        continue;
      }
      ++shapes;
      EXPECT_EQ(wire, "kept" + shape.wire);
      std::vector<std::string> variants = {
          // The same values, and others that keep each left-out 0 a 0.
          shape.body,
          ReplaceValues(shape,
                        [&](size_t k, absl::string_view old) {
                          return IsPositiveZero(old) ? std::string("0.0")
                                                     : others[k % others.size()];
                        }),
          // Others that turn 0s into numbers and back.
          ReplaceValues(
              shape,
              [](size_t k, absl::string_view) -> std::string { return k % 2 ? "0" : "2.5"; }),
          ReplaceValues(
              shape, [](size_t k, absl::string_view) -> std::string { return k % 3 ? "1" : "0"; }),
          // Not values, values out of range, a value and more.
          ReplaceValues(shape,
                        [](size_t k, absl::string_view old) -> std::string {
                          return k == 0 ? "x1" : std::string(old);
                        }),
          ReplaceValues(shape, [](size_t, absl::string_view) -> std::string { return "1e999"; }),
          ReplaceValues(shape,
                        [](size_t k, absl::string_view old) -> std::string {
                          return k ? std::string(old) : "1 2";
                        }),
          ReplaceValues(
              shape,
              [](size_t, absl::string_view old) -> std::string { return absl::StrCat(old, "\r"); }),
      };
      for (size_t v = 0; v < variants.size(); ++v) {
        SCOPED_TRACE(absl::StrCat("variant ", v, ":\n", variants[v]));
        std::string from_shape = "kept";
        size_t shape_series = 0;
        const bool fits =
            text_parser_internal::WriteFromShape(shape, variants[v], &from_shape, &shape_series);
        std::string parsed = "kept";
        size_t parsed_series = 0;
        const absl::Status status = ParseTextToWire(variants[v], limits, &parsed, &parsed_series);
        if (v < 2) {
          EXPECT_TRUE(fits) << "the same layout was not written from the shape";
        }
        if (!fits) {
          EXPECT_EQ(from_shape, "kept");
          continue;
        }
        ++written;
        EXPECT_TRUE(status.ok()) << status;
        EXPECT_TRUE(from_shape == parsed) << "the wire bytes differ";
        EXPECT_EQ(shape_series, parsed_series);
      }
    }
  }
  EXPECT_GE(shapes, 60);
  EXPECT_GE(written, 2 * shapes);
}

// The cache on every body at hand: a miss, a shape made, then shapes used, and the same bytes
// every time.
TEST(TextShapeCacheTest, GivesWhatTheParserGivesOnEveryBody) {
  TextShapeCache cache({}, 64 << 20);
  TextShapeCache tight_cache(TightLimits(), 64 << 20);
  const std::vector<Body> bodies = AllBodies();
  for (size_t i = 0; i < bodies.size(); ++i) {
    SCOPED_TRACE(bodies[i].name);
    const std::string group = absl::StrCat("job/", i);
    for (int round = 0; round < 3; ++round) {
      ExpectCacheGivesParse(&cache, group, bodies[i].text, {});
      ExpectCacheGivesParse(&tight_cache, group, bodies[i].text, TightLimits());
    }
  }
  EXPECT_GE(cache.stats().hits, bodies.size());
}

}  // namespace
}  // namespace pushgate
