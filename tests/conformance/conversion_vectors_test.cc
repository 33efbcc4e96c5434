// Runs every conformance vector in tests/testdata/conversion in-process: the grouping key from
// the path, the body through the text parser or the protobuf decoder (as the front chooses by
// Content-Type), and the points from ConvertPush, compared as the vectors' README prescribes
// (parsed, as multisets, NOW = the push's receive time). A vector expecting 400 must be
// refused by the grouping key or the body parser.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "libs/conversion/conversion.h"
#include "libs/grouping_key/grouping_key.h"
#include "libs/line_protocol/line_protocol.h"
#include "libs/protobuf_decoder/protobuf_decoder.h"
#include "libs/push_view/push_view.h"
#include "libs/text_parser/text_parser.h"
#include "libs/text_parser/text_shape_cache.h"
#include "proto/ingest.pb.h"
#include "tests/conformance/conversion_vector.pb.h"
#include "tests/conformance/vectors.h"

namespace pushgate {
namespace {

// Relative to the test's runfiles directory, where Bazel starts it.
// Any fixed time works in-process: every NOW point must carry exactly the receive time.
constexpr int64_t kReceiveTimeNs = 1750000000000000000;

ConversionOptions OptionsOf(const testing::ConversionVector::Options& o) {
  ConversionOptions options;
  if (o.has_measurement_name()) options.naming.measurement_name = o.measurement_name();
  if (o.has_job_as_measurement()) options.naming.job_as_measurement = o.job_as_measurement();
  if (o.has_keep_exist_metric_name()) {
    options.naming.keep_exist_metric_name = o.keep_exist_metric_name();
  }
  if (o.has_honor_timestamps()) options.honor_timestamps = o.honor_timestamps();
  return options;
}

std::string ContentType(const testing::ConversionVector::Request& request) {
  for (const auto& [name, value] : request.headers()) {
    if (absl::EqualsIgnoreCase(name, "Content-Type")) return value;
  }
  return "";
}

// What the front does before anything reaches the aggregator: the grouping key from the
// path and the families from the body. An error here is the front's 400.
absl::Status BuildPush(const testing::ConversionVector::Request& request, v1::PushRequest* push) {
  constexpr absl::string_view kPrefix = "/metrics/";
  absl::string_view path = request.path();
  if (!absl::ConsumePrefix(&path, kPrefix)) {
    return absl::InvalidArgumentError(absl::StrCat("not a push path: ", request.path()));
  }
  absl::StatusOr<std::string> decoded = PercentDecodePath(path);
  if (!decoded.ok()) return decoded.status();
  absl::StatusOr<v1::GroupingKey> key = ParseGroupingKey(*decoded);
  if (!key.ok()) return key.status();
  *push->mutable_grouping_key() = *std::move(key);

  const TextParserLimits no_limits;
  if (request.has_body_b64()) {
    std::string body;
    if (!absl::Base64Unescape(request.body_b64(), &body)) {
      return absl::InternalError("the vector's body_b64 is not base64");
    }
    if (!IsDelimitedProtobuf(ContentType(request))) {
      return absl::InternalError("a binary body without the protobuf Content-Type");
    }
    return DecodeProtobufPush(body, no_limits, push->mutable_families());
  }
  if (IsDelimitedProtobuf(ContentType(request))) {
    return DecodeProtobufPush(request.body(), no_limits, push->mutable_families());
  }
  return ParseText(request.body(), no_limits, push->mutable_families());
}

class ConversionVectorTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConversionVectorTest, ProducesTheExpectedStatusAndPoints) {
  absl::StatusOr<testing::ConversionVector> vector = testing::ReadVector(GetParam());
  ASSERT_TRUE(vector.ok()) << vector.status();
  SCOPED_TRACE(absl::StrCat(vector->name(), ": ", vector->description()));
  ASSERT_EQ(std::filesystem::path(GetParam()).stem().string(), vector->name());
  ASSERT_THAT(vector->expect_status(), ::testing::AnyOf(200, 400));

  v1::PushRequest push;
  push.set_receive_time_ns(kReceiveTimeNs);
  const absl::Status accepted = BuildPush(vector->request(), &push);
  ASSERT_NE(accepted.code(), absl::StatusCode::kInternal) << accepted;
  if (vector->expect_status() == 400) {
    EXPECT_FALSE(accepted.ok()) << "the push was accepted";
    EXPECT_THAT(vector->expect_points(), ::testing::IsEmpty());
    return;
  }
  ASSERT_TRUE(accepted.ok()) << accepted;

  std::vector<Point> actual;
  ConversionStats stats;
  ConvertPush(push, OptionsOf(vector->options()), &actual, &stats);

  absl::StatusOr<std::vector<Point>> expected =
      ParseLineProtocol(absl::StrJoin(vector->expect_points(), "\n"));
  ASSERT_TRUE(expected.ok()) << expected.status();
  const absl::Status same = ComparePoints(*expected, actual, kReceiveTimeNs, kReceiveTimeNs);
  EXPECT_TRUE(same.ok()) << same.message();

  // What the aggregator writes out: the encoded points must parse back to the same points,
  // and since the vectors are written in the canonical form (sorted keys, shortest floats
  // without exponent), the encoder's lines must equal them character for character.
  LineProtocolEncoder encoder;
  std::string encoded;
  for (const Point& point : actual) encoder.Append(point, &encoded);
  absl::StatusOr<std::vector<Point>> reparsed = ParseLineProtocol(encoded);
  ASSERT_TRUE(reparsed.ok()) << reparsed.status();
  const absl::Status same_encoded =
      ComparePoints(*expected, *reparsed, kReceiveTimeNs, kReceiveTimeNs);
  EXPECT_TRUE(same_encoded.ok()) << same_encoded.message();

  std::vector<std::string> encoded_lines = absl::StrSplit(encoded, '\n', absl::SkipEmpty());
  std::vector<std::string> expected_lines;
  for (const std::string& line : vector->expect_points()) {
    std::string with_time = line;
    if (absl::EndsWith(with_time, " NOW")) {
      with_time.replace(with_time.size() - 3, 3, std::to_string(kReceiveTimeNs));
    }
    expected_lines.push_back(std::move(with_time));
  }
  EXPECT_THAT(encoded_lines, ::testing::UnorderedElementsAreArray(expected_lines));

  // The aggregator's dispatcher writes the lines straight from the push, without Points: it
  // must write exactly these lines, in this order, with the same statistics.
  LineProtocolEncoder direct_encoder;
  std::string direct;
  ConversionStats direct_stats;
  const size_t direct_lines = ConvertPushToLineProtocol(push, OptionsOf(vector->options()),
                                                        &direct_encoder, &direct, &direct_stats);
  EXPECT_EQ(direct, encoded);
  EXPECT_EQ(direct_lines, encoded_lines.size());
  EXPECT_EQ(direct_stats.dropped_non_finite, stats.dropped_non_finite);

  // A group pushes the same shape again and again, and the aggregator then writes its lines
  // from templates (ConversionCache): point by point the first time, making the templates the
  // second, from them the third. Each time the lines must be these.
  const std::string serialized = push.SerializeAsString();
  PushView view;
  ASSERT_TRUE(view.Parse(serialized).ok());
  ConversionCache cache(/*max_bytes=*/1 << 20);
  for (int time = 1; time <= 3; ++time) {
    LineProtocolEncoder cached_encoder;
    std::string cached;
    ConversionStats cached_stats;
    EXPECT_EQ(
        cache.Convert(view, OptionsOf(vector->options()), &cached_encoder, &cached, &cached_stats),
        direct_lines)
        << "push " << time;
    EXPECT_EQ(cached, direct) << "push " << time;
    EXPECT_EQ(cached_stats.dropped_non_finite, stats.dropped_non_finite) << "push " << time;
  }
  // A push with a value that is left out (non-finite) is always converted point by point.
  EXPECT_EQ(cache.stats().hits, stats.dropped_non_finite == 0 ? 1u : 0u);
}

// The front reads a group's recurring text pushes from the shape of its last one
// (TextShapeCache): each vector's body, pushed three times to one group, must give what the
// parser gives, status and bytes, every time.
TEST_P(ConversionVectorTest, TextPushesReadFromTheirGroupsShapeAsParsed) {
  absl::StatusOr<testing::ConversionVector> vector = testing::ReadVector(GetParam());
  ASSERT_TRUE(vector.ok()) << vector.status();
  if (vector->request().has_body_b64() || IsDelimitedProtobuf(ContentType(vector->request()))) {
    GTEST_SKIP() << "a protobuf body";
  }
  const TextParserLimits no_limits;
  std::string parsed;
  const absl::Status parse = ParseTextToWire(vector->request().body(), no_limits, &parsed);
  TextShapeCache shapes(no_limits, /*max_bytes=*/1 << 20);
  for (int time = 1; time <= 3; ++time) {
    std::string from_cache;
    EXPECT_EQ(shapes.ParseToWire(vector->request().path(), vector->request().body(), &from_cache),
              parse)
        << "push " << time;
    EXPECT_EQ(from_cache, parse.ok() ? parsed : "") << "push " << time;
  }
  // A body with samples is written from its shape from the second push on.
  if (parse.ok() && !parsed.empty()) EXPECT_GE(shapes.stats().hits, 1u);
}

INSTANTIATE_TEST_SUITE_P(Vectors, ConversionVectorTest, ::testing::ValuesIn(testing::VectorFiles()),
                         testing::VectorTestName);

// Guards against the data dependency going missing, which would leave nothing to run.
TEST(ConversionVectorFilesTest, AllVectorsArePresent) { testing::ExpectVectorFilesPresent(); }

}  // namespace
}  // namespace pushgate
