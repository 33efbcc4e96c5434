#include "libs/grouping_key/grouping_key.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

using LabelList = std::vector<std::pair<std::string, std::string>>;

LabelList Labels(const pushgate::v1::GroupingKey& key) {
  LabelList out;
  for (const auto& label : key.labels()) out.emplace_back(label.name(), label.value());
  return out;
}

pushgate::v1::GroupingKey MustParse(absl::string_view path) {
  absl::StatusOr<pushgate::v1::GroupingKey> key = ParseGroupingKey(path);
  EXPECT_TRUE(key.ok()) << path << ": " << key.status();
  return key.ok() ? *key : pushgate::v1::GroupingKey();
}

// The error message of a path that must be rejected with InvalidArgument.
std::string InvalidMessage(absl::string_view path) {
  absl::StatusOr<pushgate::v1::GroupingKey> key = ParseGroupingKey(path);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << path;
  return std::string(key.status().message());
}

pushgate::v1::GroupingKey MakeKey(const std::string& job, const LabelList& labels) {
  pushgate::v1::GroupingKey key;
  key.set_job(job);
  for (const auto& [name, value] : labels) {
    auto* label = key.add_labels();
    label->set_name(name);
    label->set_value(value);
  }
  return key;
}

// --- PercentDecodePath ---

TEST(PercentDecodePathTest, DecodesEscapesOfEitherCase) {
  EXPECT_EQ(*PercentDecodePath("/metrics/job/a%2Fb"), "/metrics/job/a/b");
  EXPECT_EQ(*PercentDecodePath("a%2fb"), "a/b");
  EXPECT_EQ(*PercentDecodePath("%41%42%43"), "ABC");
  EXPECT_EQ(*PercentDecodePath("%E2%82%AC"), "\xE2\x82\xAC");
  EXPECT_EQ(*PercentDecodePath("%25"), "%");
  EXPECT_EQ(*PercentDecodePath("%00"), std::string("\0", 1));
}

TEST(PercentDecodePathTest, LeavesOtherBytesAlone) {
  EXPECT_EQ(*PercentDecodePath(""), "");
  EXPECT_EQ(*PercentDecodePath("/metrics/job/j"), "/metrics/job/j");
  // '+' is a space only in query strings.
  EXPECT_EQ(*PercentDecodePath("a+b"), "a+b");
  EXPECT_EQ(*PercentDecodePath("job@base64/aGVsbG8="), "job@base64/aGVsbG8=");
}

TEST(PercentDecodePathTest, MalformedEscapeQuotesUpToThreeBytes) {
  const auto message = [](absl::string_view raw) {
    absl::StatusOr<std::string> decoded = PercentDecodePath(raw);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << raw;
    return std::string(decoded.status().message());
  };
  EXPECT_EQ(message("/a%zzb"), "invalid URL escape \"%zz\"");
  EXPECT_EQ(message("/a%g1"), "invalid URL escape \"%g1\"");
  EXPECT_EQ(message("/a%1g"), "invalid URL escape \"%1g\"");
  EXPECT_EQ(message("/a%4"), "invalid URL escape \"%4\"");
  EXPECT_EQ(message("/a%"), "invalid URL escape \"%\"");
  // Only the first bad escape is reported, even after good ones.
  EXPECT_EQ(message("%41%4x%zz"), "invalid URL escape \"%4x\"");
}

// --- ParseGroupingKey: accepted paths ---

TEST(ParseGroupingKeyTest, JobOnly) {
  pushgate::v1::GroupingKey key = MustParse("job/myjob");
  EXPECT_EQ(key.job(), "myjob");
  EXPECT_THAT(Labels(key), IsEmpty());
}

TEST(ParseGroupingKeyTest, TrailingSlashAfterJobMeansNoLabels) {
  pushgate::v1::GroupingKey key = MustParse("job/myjob/");
  EXPECT_EQ(key.job(), "myjob");
  EXPECT_THAT(Labels(key), IsEmpty());
}

TEST(ParseGroupingKeyTest, LabelsComeOutSortedByName) {
  pushgate::v1::GroupingKey key = MustParse("job/j/zone/z1/instance/host1/app/a");
  EXPECT_EQ(key.job(), "j");
  EXPECT_THAT(Labels(key),
              ElementsAre(Pair("app", "a"), Pair("instance", "host1"), Pair("zone", "z1")));
}

TEST(ParseGroupingKeyTest, LastValueWinsForRepeatedName) {
  EXPECT_THAT(Labels(MustParse("job/j/a/1/b/x/a/2")), ElementsAre(Pair("a", "2"), Pair("b", "x")));
  // A plain and a base64 form of the same name are the same label.
  EXPECT_THAT(Labels(MustParse("job/j/a/1/a@base64/Mg")), ElementsAre(Pair("a", "2")));
  EXPECT_THAT(Labels(MustParse("job/j/a@base64/Mg/a/3")), ElementsAre(Pair("a", "3")));
}

TEST(ParseGroupingKeyTest, JobSegmentOverridesJobLabel) {
  pushgate::v1::GroupingKey key = MustParse("job/real/job/other/x/1");
  EXPECT_EQ(key.job(), "real");
  EXPECT_THAT(Labels(key), ElementsAre(Pair("x", "1")));

  key = MustParse("job/real/job@base64/b3RoZXI");
  EXPECT_EQ(key.job(), "real");
  EXPECT_THAT(Labels(key), IsEmpty());
}

TEST(ParseGroupingKeyTest, PairOrderDoesNotMatter) {
  EXPECT_EQ(CanonicalGroupingKey(MustParse("job/j/a/1/b/2")),
            CanonicalGroupingKey(MustParse("job/j/b/2/a/1")));
}

TEST(ParseGroupingKeyTest, AnEmptyValueIsATrailingSlashOrBase64) {
  EXPECT_THAT(Labels(MustParse("job/j/a/")), ElementsAre(Pair("a", "")));
  EXPECT_THAT(Labels(MustParse("job/j/a@base64/=/b/2")),
              ElementsAre(Pair("a", ""), Pair("b", "2")));
}

// The Pushgateway redirects paths with empty or relative segments to their cleaned form and
// stores nothing; pushgate refuses them and says how to write the value.
TEST(ParseGroupingKeyTest, EmptyAndRelativeSegmentsAreRefusedWithTheWayToWriteThem) {
  EXPECT_EQ(InvalidMessage("job/j/a//b/2"),
            "label a has the value \"\", an empty path segment; use a@base64/=");
  EXPECT_EQ(InvalidMessage("job/j/a@base64//b/2"),
            "label a has the value \"\", an empty path segment; use a@base64/=");
  EXPECT_EQ(InvalidMessage("job/j/a/."),
            "label a has the value \".\", a relative path segment; use a@base64/<base64 of the "
            "value>");
  EXPECT_THAT(InvalidMessage("job/j/a/../b/2"), HasSubstr("\"..\", a relative path segment"));
  EXPECT_EQ(InvalidMessage("job/./a/1"),
            "job name \".\" is a relative path segment; use job@base64");
  EXPECT_EQ(InvalidMessage("job/.."), "job name \"..\" is a relative path segment; use job@base64");
  // Dots inside a value are just characters.
  EXPECT_THAT(Labels(MustParse("job/j/a/.../b/.x/c/1.2")),
              ElementsAre(Pair("a", "..."), Pair("b", ".x"), Pair("c", "1.2")));
}

TEST(ParseGroupingKeyTest, PlainValuesAreTakenAsTheyAre) {
  EXPECT_THAT(Labels(MustParse("job/j/city/Z\xC3\xBCrich/q/a=b+c@d")),
              ElementsAre(Pair("city", "Z\xC3\xBCrich"), Pair("q", "a=b+c@d")));
  // A plain job may itself look like base64 or contain '@'.
  EXPECT_EQ(MustParse("job/aGVsbG8=").job(), "aGVsbG8=");
  EXPECT_EQ(MustParse("job/a@base64").job(), "a@base64");
}

TEST(ParseGroupingKeyTest, LabelNameRules) {
  EXPECT_THAT(Labels(MustParse("job/j/_/1/_a/2/A9_z/3")),
              ElementsAre(Pair("A9_z", "3"), Pair("_", "1"), Pair("_a", "2")));
}

TEST(ParseGroupingKeyTest, Base64Job) {
  EXPECT_EQ(MustParse("job@base64/bXlqb2I").job(), "myjob");
  // Padding is optional, and extra '=' are ignored too.
  EXPECT_EQ(MustParse("job@base64/aGVsbG8=").job(), "hello");
  EXPECT_EQ(MustParse("job@base64/aGVsbG8").job(), "hello");
  EXPECT_EQ(MustParse("job@base64/aGVsbG8===").job(), "hello");
  // A job containing '/' can only be sent this way.
  EXPECT_EQ(MustParse("job@base64/L3Zhci90bXA").job(), "/var/tmp");
}

TEST(ParseGroupingKeyTest, DocumentationExampleWithBase64Job) {
  // h3_doc_example_base64_job.
  pushgate::v1::GroupingKey key = MustParse("job@base64/aGVsbG8=/node/N/pod/P/namespace/NS");
  EXPECT_EQ(key.job(), "hello");
  EXPECT_THAT(Labels(key),
              ElementsAre(Pair("namespace", "NS"), Pair("node", "N"), Pair("pod", "P")));
}

TEST(ParseGroupingKeyTest, Base64Labels) {
  EXPECT_THAT(Labels(MustParse("job/myjob/instance@base64/aG9zdA")),
              ElementsAre(Pair("instance", "host")));
  // h7: a lone '=' is the empty string.
  EXPECT_THAT(Labels(MustParse("job/j/emptyurl@base64/=")), ElementsAre(Pair("emptyurl", "")));
  EXPECT_THAT(Labels(MustParse("job/j/e@base64/")), ElementsAre(Pair("e", "")));
  EXPECT_THAT(Labels(MustParse("job/j/path@base64/L2Zvby9iYXI")),
              ElementsAre(Pair("path", "/foo/bar")));
}

TEST(ParseGroupingKeyTest, Base64UsesUrlSafeAlphabet) {
  // Standard base64 of EF BF BF (U+FFFF in UTF-8) is "77+/"; the URL-safe form is "77-_".
  EXPECT_THAT(Labels(MustParse("job/j/b@base64/77-_")),
              ElementsAre(Pair("b", std::string("\xEF\xBF\xBF"))));
  EXPECT_EQ(InvalidMessage("job/j/b@base64/+_-_"),
            "invalid base64 encoding for label b=\"+_-_\": illegal base64 data at input byte 0");
}

TEST(ParseGroupingKeyTest, Base64IgnoresUnusedTrailingBitsAndLineBreaks) {
  // "QR" carries 12 bits; the last four are not part of the byte "A" and are ignored.
  EXPECT_EQ(MustParse("job@base64/QR").job(), "A");
  EXPECT_EQ(MustParse("job@base64/QU\nJD\r").job(), "ABC");
}

// --- ParseGroupingKey: rejected paths and their messages ---

TEST(ParseGroupingKeyTest, NotAPushRouteIsNotFound) {
  for (absl::string_view path : {"", "job", "job@base64", "jobs/x", "JOB/x", "foo/job/x", "/job/x",
                                 "job@base63/x", "instance/x/job/y"}) {
    EXPECT_EQ(ParseGroupingKey(path).status().code(), absl::StatusCode::kNotFound) << path;
  }
}

TEST(ParseGroupingKeyTest, OddNumberOfComponents) {
  // reject_odd_url_label_components.
  EXPECT_EQ(InvalidMessage("job/j/instance/host1/zone"),
            "odd number of components in label string \"/instance/host1/zone\"");
  EXPECT_EQ(InvalidMessage("job/j/a"), "odd number of components in label string \"/a\"");
  EXPECT_EQ(InvalidMessage("job/j/a/b/"), "odd number of components in label string \"/a/b/\"");
  EXPECT_EQ(InvalidMessage("job/j//"), "improper label name \"\"");
}

TEST(ParseGroupingKeyTest, DecodedSlashSplitsSegments) {
  // "%2F" in a plain segment is a separator once the path is decoded, so "a%2Fb" as a job
  // leaves a dangling component.
  absl::StatusOr<std::string> path = PercentDecodePath("job/a%2Fb");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(InvalidMessage(*path), "odd number of components in label string \"/b\"");

  path = PercentDecodePath("job/j/path/a%2Fb");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(InvalidMessage(*path), "odd number of components in label string \"/path/a/b\"");

  // An even number of pieces after decoding is a different, valid key.
  path = PercentDecodePath("job/j/path/a%2Fb%2Fc");
  ASSERT_TRUE(path.ok());
  EXPECT_THAT(Labels(MustParse(*path)), ElementsAre(Pair("b", "c"), Pair("path", "a")));
}

TEST(ParseGroupingKeyTest, ImproperLabelNames) {
  // reject_reserved_url_label_name.
  EXPECT_EQ(InvalidMessage("job/j/__x/1"), "improper label name \"__x\"");
  EXPECT_EQ(InvalidMessage("job/j/__/1"), "improper label name \"__\"");
  EXPECT_EQ(InvalidMessage("job/j/1a/x"), "improper label name \"1a\"");
  EXPECT_EQ(InvalidMessage("job/j/a-b/x"), "improper label name \"a-b\"");
  EXPECT_EQ(InvalidMessage("job/j/a.b/x"), "improper label name \"a.b\"");
  EXPECT_EQ(InvalidMessage("job/j/a:b/x"), "improper label name \"a:b\"");
  // The suffix is removed before the check, and only once.
  EXPECT_EQ(InvalidMessage("job/j/__x@base64/MQ"), "improper label name \"__x\"");
  EXPECT_EQ(InvalidMessage("job/j/a@base64@base64/MQ"), "improper label name \"a@base64\"");
  EXPECT_EQ(InvalidMessage("job/j/@base64/MQ"), "improper label name \"\"");
  // The first improper name is reported even when later pairs are fine.
  EXPECT_EQ(InvalidMessage("job/j/ok/1/b@d/2/c/3"), "improper label name \"b@d\"");
}

TEST(ParseGroupingKeyTest, BadBase64Job) {
  // reject_bad_base64_job.
  EXPECT_EQ(InvalidMessage("job@base64/a!b"),
            "invalid base64 encoding in job name \"a!b\": illegal base64 data at input byte 1");
  // A single symbol left over cannot make a byte; Go reports its offset.
  EXPECT_EQ(InvalidMessage("job@base64/QUJDR"),
            "invalid base64 encoding in job name \"QUJDR\": illegal base64 data at input byte 4");
  // '=' is ignored only at the end.
  EXPECT_EQ(InvalidMessage("job@base64/QQ==QQ"),
            "invalid base64 encoding in job name \"QQ==QQ\": illegal base64 data at input "
            "byte 2");
}

TEST(ParseGroupingKeyTest, BadBase64LabelNamesTheLabel) {
  EXPECT_EQ(InvalidMessage("job/j/x@base64/a!b"),
            "invalid base64 encoding for label x=\"a!b\": illegal base64 data at input byte 1");
  EXPECT_EQ(InvalidMessage("job/j/ok/1/x@base64/a\"b"),
            "invalid base64 encoding for label x=\"a\\\"b\": illegal base64 data at input "
            "byte 1");
}

TEST(ParseGroupingKeyTest, JobNameIsRequired) {
  EXPECT_EQ(InvalidMessage("job/"), "job name is required");
  EXPECT_EQ(InvalidMessage("job//a/b"), "job name is required");
  EXPECT_EQ(InvalidMessage("job@base64/="), "job name is required");
  EXPECT_EQ(InvalidMessage("job@base64/"), "job name is required");
  EXPECT_EQ(InvalidMessage("job@base64//a/1"), "job name is required");
}

// Found by tools/fuzz (grouping_key): `%FF` in a push path made a key the aggregator cannot
// parse (proto3 strings must be UTF-8).
TEST(ParseGroupingKeyTest, ValuesMustBeUtf8) {
  EXPECT_EQ(InvalidMessage("job/\xFF"), "invalid UTF-8 in job name \"\\xff\"");
  EXPECT_EQ(InvalidMessage("job@base64/_w"), "invalid UTF-8 in job name \"\\xff\"");
  EXPECT_EQ(InvalidMessage("job/j/a/x\xC3"), "invalid UTF-8 in value of label a=\"x\\xc3\"");
  EXPECT_EQ(InvalidMessage("job/j/a@base64/_w"), "invalid UTF-8 in value of label a=\"\\xff\"");
  // Overlong forms and surrogates are not UTF-8 either.
  EXPECT_EQ(InvalidMessage("job/j/a/\xC0\xAF"), "invalid UTF-8 in value of label a=\"\\xc0\\xaf\"");
  EXPECT_EQ(InvalidMessage("job/j/a/\xED\xA0\x80"),
            "invalid UTF-8 in value of label a=\"\\xed\\xa0\\x80\"");
  // Only what the key keeps is checked: an overridden job label, an overwritten value.
  EXPECT_EQ(MustParse("job/j/job/\xFF").job(), "j");
  EXPECT_THAT(Labels(MustParse("job/j/a/\xFF/a/ok")), ElementsAre(Pair("a", "ok")));
  EXPECT_EQ(MustParse("job/Z\xC3\xBCrich\xF0\x9F\x98\x80").job(), "Z\xC3\xBCrich\xF0\x9F\x98\x80");
}

TEST(ParseGroupingKeyTest, ErrorsAreCheckedInThePushgatewaysOrder) {
  // The job's base64 comes first, then the label path, then the empty job.
  EXPECT_EQ(InvalidMessage("job@base64/a!b/x"),
            "invalid base64 encoding in job name \"a!b\": illegal base64 data at input byte 1");
  EXPECT_EQ(InvalidMessage("job//x"), "odd number of components in label string \"/x\"");
  EXPECT_EQ(InvalidMessage("job//__x/1"), "improper label name \"__x\"");
  EXPECT_EQ(InvalidMessage("job@base64/=/x@base64/!"),
            "invalid base64 encoding for label x=\"!\": illegal base64 data at input byte 0");
}

TEST(ParseGroupingKeyTest, MessagesQuoteLikeGo) {
  EXPECT_EQ(InvalidMessage("job/j/a\tb/1"), "improper label name \"a\\tb\"");
  EXPECT_EQ(InvalidMessage(absl::string_view("job/j/a\x01/1")), "improper label name \"a\\x01\"");
  EXPECT_EQ(InvalidMessage("job/j/a\\b/1"), "improper label name \"a\\\\b\"");
  EXPECT_EQ(InvalidMessage("job/j/a\nb"), "odd number of components in label string \"/a\\nb\"");
  // Valid UTF-8 stays readable; an invalid byte is shown as \x.
  EXPECT_EQ(InvalidMessage("job/j/\xC3\xA9"),
            "odd number of components in label string \"/\xC3\xA9\"");
  EXPECT_EQ(InvalidMessage("job/j/\xFF"), "odd number of components in label string \"/\\xff\"");
}

// --- CanonicalGroupingKey ---

TEST(CanonicalGroupingKeyTest, Format) {
  EXPECT_EQ(CanonicalGroupingKey(MakeKey("myjob", {})), "{job=\"myjob\"}");
  EXPECT_EQ(CanonicalGroupingKey(MakeKey("myjob", {{"instance", "host1"}, {"zone", "z"}})),
            "{job=\"myjob\",instance=\"host1\",zone=\"z\"}");
}

TEST(CanonicalGroupingKeyTest, SameLabelsInAnyOrderGiveTheSameString) {
  EXPECT_EQ(CanonicalGroupingKey(MakeKey("j", {{"b", "2"}, {"a", "1"}})),
            CanonicalGroupingKey(MakeKey("j", {{"a", "1"}, {"b", "2"}})));
}

TEST(CanonicalGroupingKeyTest, DifferentKeysGiveDifferentStrings) {
  const std::vector<pushgate::v1::GroupingKey> keys = {
      MakeKey("j", {}),
      MakeKey("k", {}),
      MakeKey("j", {{"a", ""}}),
      MakeKey("j", {{"a", "1"}}),
      MakeKey("j", {{"a", "1"}, {"b", "2"}}),
      // Values that contain the separators must not collide with real pairs.
      MakeKey("j", {{"a", "1\",b=\"2"}}),
      MakeKey("j\",a=\"1", {}),
      MakeKey("j", {{"a", "1\\"}}),
      MakeKey("j", {{"a", "1\\\\"}}),
      MakeKey("j", {{"a", "x\ny"}}),
      MakeKey("j", {{"a", "x\\ny"}}),
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t k = i + 1; k < keys.size(); ++k) {
      EXPECT_NE(CanonicalGroupingKey(keys[i]), CanonicalGroupingKey(keys[k]))
          << keys[i].ShortDebugString() << " vs " << keys[k].ShortDebugString();
    }
  }
}

TEST(CanonicalGroupingKeyTest, EscapesQuotesBackslashesAndNewlines) {
  EXPECT_EQ(CanonicalGroupingKey(MakeKey("a\"b", {{"v", "x\\y\nz"}})),
            "{job=\"a\\\"b\",v=\"x\\\\y\\nz\"}");
}

TEST(CanonicalGroupingKeyTest, ParsedPathsWithTheSameMeaningAgree) {
  EXPECT_EQ(CanonicalGroupingKey(MustParse("job/hello/b/2/a/1")),
            CanonicalGroupingKey(MustParse("job@base64/aGVsbG8=/a@base64/MQ/b/2")));
  EXPECT_NE(CanonicalGroupingKey(MustParse("job/hello/a/1")),
            CanonicalGroupingKey(MustParse("job/hello/a/2")));
}

}  // namespace
}  // namespace pushgate
