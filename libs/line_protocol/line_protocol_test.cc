#include "libs/line_protocol/line_protocol.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

std::string Plain(double v) {
  std::string out;
  AppendFloatNoExponent(v, &out);
  return out;
}

std::string Encode(const Point& point) {
  LineProtocolEncoder encoder;
  std::string out;
  encoder.Append(point, &out);
  return out;
}

TEST(AppendFloatNoExponentTest, WritesShortestPlainDecimal) {
  EXPECT_EQ(Plain(1), "1");
  EXPECT_EQ(Plain(0), "0");
  EXPECT_EQ(Plain(-0.0), "-0");
  EXPECT_EQ(Plain(-3), "-3");
  EXPECT_EQ(Plain(1.5), "1.5");
  EXPECT_EQ(Plain(-1.5), "-1.5");
  EXPECT_EQ(Plain(0.1), "0.1");
  EXPECT_EQ(Plain(1e-7), "0.0000001");
  EXPECT_EQ(Plain(0.000000123), "0.000000123");
  EXPECT_EQ(Plain(1.5e3), "1500");
  EXPECT_EQ(Plain(15143), "15143");
  EXPECT_EQ(Plain(0.002451013), "0.002451013");
  EXPECT_EQ(Plain(0.0007340149999999998), "0.0007340149999999998");
  EXPECT_EQ(Plain(123456789.125), "123456789.125");
  EXPECT_EQ(Plain(1e21), "1000000000000000000000");
  EXPECT_EQ(Plain(1e16), "10000000000000000");
  EXPECT_EQ(Plain(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(Plain(9007199254740994.0), "9007199254740994");
  EXPECT_EQ(Plain(-9007199254740991.0), "-9007199254740991");
}

TEST(AppendFloatNoExponentTest, BigIntegersUseShortestDigitsThenZeros) {
  // The exact binary value is 12345678901234567168; the shortest round trip is 17 digits.
  EXPECT_EQ(Plain(12345678901234567890.0), "12345678901234567000");
  EXPECT_EQ(Plain(123456789012345678.0), "123456789012345680");
  EXPECT_EQ(Plain(-1e300).size(), 302u);
}

TEST(AppendFloatNoExponentTest, Extremes) {
  const std::string min_denormal = Plain(std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(min_denormal, "0." + std::string(323, '0') + "5");
  const std::string max = Plain(-DBL_MAX);
  EXPECT_EQ(max.size(), 310u);
  EXPECT_EQ(max.substr(0, 18), "-17976931348623157");
  EXPECT_EQ(std::strtod(max.c_str(), nullptr), -DBL_MAX);
}

TEST(AppendFloatNoExponentTest, AppendsToExistingText) {
  std::string out = "x=";
  AppendFloatNoExponent(2.5, &out);
  EXPECT_EQ(out, "x=2.5");
}

TEST(AppendFloatNoExponentTest, NonFiniteValuesAreNamed) {
  EXPECT_EQ(Plain(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(Plain(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(Plain(-std::numeric_limits<double>::infinity()), "-Inf");
}

// Significant digits of the shortest round-trip form, as std::to_chars gives them.
std::string ShortestDigits(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::scientific);
  std::string digits;
  for (const char* p = buf; p < r.ptr && *p != 'e'; ++p) {
    if (*p != '.') digits.push_back(*p);
  }
  return digits;
}

// The same digits taken from a plain decimal: leading and trailing zeros do not count.
std::string SignificantDigits(absl::string_view plain) {
  std::string digits;
  for (const char c : plain) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  digits.erase(0, first);
  digits.erase(digits.find_last_not_of('0') + 1);
  return digits;
}

TEST(AppendFloatNoExponentTest, RandomValuesRoundTripWithShortestDigits) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> bits;
  int checked = 0;
  while (checked < 20000) {
    const uint64_t b = bits(rng);
    double v;
    std::memcpy(&v, &b, sizeof(v));
    // Mix arbitrary bit patterns with everyday magnitudes.
    if (checked % 2 == 1) v = std::ldexp(static_cast<double>(b >> 11), -static_cast<int>(b % 80));
    if (!std::isfinite(v)) continue;
    ++checked;
    const std::string plain = Plain(v);
    SCOPED_TRACE(plain);
    ASSERT_EQ(plain.find_first_of("eE"), std::string::npos);
    ASSERT_EQ(std::strtod(plain.c_str(), nullptr), v);
    std::string shortest = ShortestDigits(v);
    shortest.erase(shortest.find_last_not_of('0') + 1);
    if (shortest.empty()) shortest = "0";
    ASSERT_EQ(SignificantDigits(plain), shortest);
  }
}

TEST(FormatBoundTest, ShortestFormWithExponentOutsideTheUsualRange) {
  EXPECT_EQ(FormatBound(0.50), "0.5");
  EXPECT_EQ(FormatBound(0), "0");
  EXPECT_EQ(FormatBound(0.25), "0.25");
  EXPECT_EQ(FormatBound(0.999), "0.999");
  EXPECT_EQ(FormatBound(0.003), "0.003");
  EXPECT_EQ(FormatBound(10), "10");
  EXPECT_EQ(FormatBound(-0.5), "-0.5");
  EXPECT_EQ(FormatBound(0.0001), "0.0001");
  EXPECT_EQ(FormatBound(1e-05), "1e-05");
  EXPECT_EQ(FormatBound(1.5e-5), "1.5e-05");
  EXPECT_EQ(FormatBound(100000), "100000");
  EXPECT_EQ(FormatBound(999999), "999999");
  EXPECT_EQ(FormatBound(123456.7), "123456.7");
  EXPECT_EQ(FormatBound(1000000), "1e+06");
  EXPECT_EQ(FormatBound(1234567), "1.234567e+06");
  EXPECT_EQ(FormatBound(1e21), "1e+21");
  EXPECT_EQ(FormatBound(1e100), "1e+100");
  EXPECT_EQ(FormatBound(2.5e-300), "2.5e-300");
}

TEST(FormatBoundTest, NonFiniteBounds) {
  EXPECT_EQ(FormatBound(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatBound(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatBound(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(LineProtocolEncoderTest, SortsTagsAndFields) {
  Point point;
  point.measurement = "http";
  point.tags = {{"status_code", "404"}, {"job", "myjob"}, {"le", "+Inf"}, {"method", "GET"}};
  point.fields = {{"b_sum", 0.5}, {"b_count", 3}};
  point.timestamp_ns = 1700000000123000000;
  EXPECT_EQ(Encode(point),
            "http,job=myjob,le=+Inf,method=GET,status_code=404 b_count=3,b_sum=0.5 "
            "1700000000123000000\n");
}

TEST(LineProtocolEncoderTest, NoTags) {
  Point point{"up", {}, {{"up", 1}}, 5};
  EXPECT_EQ(Encode(point), "up up=1 5\n");
}

TEST(LineProtocolEncoderTest, AppendsOneLinePerCallAndReusesScratch) {
  LineProtocolEncoder encoder;
  std::string out = "existing\n";
  encoder.Append({"a", {{"z", "1"}, {"y", "2"}, {"x", "3"}}, {{"f", 1}}, 1}, &out);
  encoder.Append({"b", {{"k", "v"}}, {{"g", 2}, {"f", 1}}, 2}, &out);
  EXPECT_EQ(out, "existing\na,x=3,y=2,z=1 f=1 1\nb,k=v f=1,g=2 2\n");
}

TEST(LineProtocolEncoderTest, EscapesPerPosition) {
  Point point;
  point.measurement = "my meas,x=y";
  point.tags = {{"t k,=", "v a,l=ue"}};
  point.fields = {{"f i,e=ld", 1}};
  point.timestamp_ns = -7;
  EXPECT_EQ(Encode(point), "my\\ meas\\,x=y,t\\ k\\,\\==v\\ a\\,l\\=ue f\\ i\\,e\\=ld=1 -7\n");
}

// The escaping rules applied byte by byte, to check the encoder's word-at-a-time path.
std::string EscapeSlowly(absl::string_view s, bool measurement) {
  std::string out;
  for (const char c : s) {
    if (c == '\n') {
      out += "\\ ";
    } else if (c == ',' || c == ' ' || (c == '=' && !measurement)) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

TEST(LineProtocolEncoderTest, EscapesAtEveryPositionOfEveryLength) {
  for (size_t length = 1; length <= 40; ++length) {
    for (size_t at = 0; at <= length; ++at) {  // at == length: nothing to escape
      for (const char special : {',', ' ', '=', '\n'}) {
        std::string s(length, 'x');
        for (size_t i = 0; i < length; ++i) s[i] = static_cast<char>('a' + i % 26);
        if (at < length) s[at] = special;
        const Point point{s, {{"k", s}}, {{s, 1}}, 0};
        EXPECT_EQ(Encode(point), absl::StrCat(EscapeSlowly(s, true), ",k=", EscapeSlowly(s, false),
                                              " ", EscapeSlowly(s, false), "=1 0\n"))
            << "length " << length << " at " << at;
      }
    }
  }
}

TEST(LineProtocolEncoderTest, BackslashesStayLiteral) {
  Point point{"m", {{"bs", "a\\b"}, {"q", "say \"hi\""}}, {{"f", 2}}, 0};
  EXPECT_EQ(Encode(point), "m,bs=a\\b,q=say\\ \"hi\" f=2 0\n");
}

TEST(LineProtocolEncoderTest, NewlinesAndTrailingBackslashesCannotBreakTheLine) {
  Point point{"me\nas\\", {{"nl", "a\nb"}, {"tail", "x\\\\"}, {"only", "\\"}}, {{"f\\", 1}}, 0};
  const std::string line = Encode(point);
  EXPECT_EQ(line, "me\\ as,nl=a\\ b,tail=x f=1 0\n");
  absl::StatusOr<std::vector<Point>> parsed = ParseLineProtocol(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].measurement, "me as");
}

TEST(LineProtocolEncoderTest, DropsEmptyTagsAndNonFiniteFields) {
  Point point{
      "m",
      {{"empty", ""}, {"", "v"}, {"k", "v"}},
      {{"nan", std::nan("")}, {"inf", std::numeric_limits<double>::infinity()}, {"ok", 0.25}},
      3};
  EXPECT_EQ(Encode(point), "m,k=v ok=0.25 3\n");
}

TEST(LineProtocolEncoderTest, PointWithoutFieldsWritesNothing) {
  std::string out = "keep";
  LineProtocolEncoder encoder;
  encoder.Append({"m", {{"k", "v"}}, {}, 1}, &out);
  encoder.Append({"m", {{"k", "v"}}, {{"f", std::nan("")}}, 1}, &out);
  EXPECT_EQ(out, "keep");
}

TEST(LineProtocolEncoderTest, ReturnsWhetherALineWasWritten) {
  LineProtocolEncoder encoder;
  std::string out;
  EXPECT_TRUE(encoder.Append({"m", {}, {{"f", 1}}, 1}, &out));
  EXPECT_FALSE(encoder.Append({"m", {}, {{"f", std::nan("")}}, 1}, &out));
  EXPECT_EQ(out, "m f=1 1\n");
}

TEST(LineProtocolEncoderTest, RepeatedAndChangingTimestamps) {
  LineProtocolEncoder encoder;
  std::string out;
  std::string expected;
  // Repeats, changes in the last 8 digits only, carries into the digits before them, short
  // and negative values, and the extremes.
  for (const int64_t ts :
       {int64_t{1700000000000000000}, int64_t{1700000000000000000}, int64_t{1700000000012345678},
        int64_t{1700000000099999999}, int64_t{1700000000100000000}, int64_t{-5},
        int64_t{1700000000000000000}, int64_t{0}, int64_t{99999999}, int64_t{100000000},
        int64_t{100000001}, int64_t{1}, int64_t{-100000001}, int64_t{-100000002},
        std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    encoder.Append({"m", {}, {{"f", 1}}, ts}, &out);
    absl::StrAppend(&expected, "m f=1 ", ts, "\n");
  }
  EXPECT_EQ(out, expected);
}

TEST(LineProtocolEncoderTest, ViewsAreWrittenLikePoints) {
  const std::string nasty = "a b,c=d\\e\n\\";
  const Point point{nasty,
                    {{"z", "1"}, {nasty, nasty}, {"e", ""}, {"a", "2"}},
                    {{"y", 0.5}, {nasty, -3}, {"n", std::nan("")}},
                    9};
  std::vector<std::pair<absl::string_view, absl::string_view>> tags(point.tags.begin(),
                                                                    point.tags.end());
  std::vector<std::pair<absl::string_view, double>> fields(point.fields.begin(),
                                                           point.fields.end());
  PointView view;
  view.measurement = point.measurement;
  view.tags = tags;
  view.fields = fields;
  view.timestamp_ns = point.timestamp_ns;
  LineProtocolEncoder encoder;
  std::string out;
  EXPECT_TRUE(encoder.AppendView(view, &out));
  EXPECT_EQ(out, Encode(point));
  EXPECT_THAT(out, HasSubstr(",z=1 "));

  view.fields = view.fields.subspan(2);  // only the NaN field is left
  EXPECT_FALSE(encoder.AppendView(view, &out));
  EXPECT_EQ(out, Encode(point));
}

TEST(LineProtocolEncoderTest, KeysSharingLongPrefixesSortByWholeKey) {
  Point point{"m",
              {{"prefix_12345_b", "2"}, {"prefix_12345", "1"}, {"prefix_12345_a", "3"}, {"p", "0"}},
              {{"field_with_long_name_2", 2}, {"field_with_long_name_1", 1}},
              1};
  EXPECT_EQ(Encode(point),
            "m,p=0,prefix_12345=1,prefix_12345_a=3,prefix_12345_b=2 "
            "field_with_long_name_1=1,field_with_long_name_2=2 1\n");
}

TEST(LineProtocolEncoderTest, RandomKeysComeOutInByteOrder) {
  // Short keys from a small alphabet, so that many share prefixes and lengths vary around
  // the 4- and 8-byte word sizes the sort compares first.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> length(1, 11);
  std::uniform_int_distribution<int> letter(0, 2);
  for (int round = 0; round < 200; ++round) {
    Point point{"m", {}, {}, 1};
    std::vector<std::string> keys;
    while (keys.size() < 6) {
      std::string key;
      for (int n = length(rng); n > 0; --n) key.push_back("ab\xff"[letter(rng)]);
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      keys.push_back(key);
      point.tags.emplace_back(key, "v");
      point.fields.emplace_back(key, 1);
    }
    absl::StatusOr<std::vector<Point>> parsed = ParseLineProtocol(Encode(point));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    std::sort(keys.begin(), keys.end());
    std::vector<std::string> tag_keys, field_keys;
    for (const auto& tag : (*parsed)[0].tags) tag_keys.push_back(tag.first);
    for (const auto& field : (*parsed)[0].fields) field_keys.push_back(field.first);
    EXPECT_EQ(tag_keys, keys);
    EXPECT_EQ(field_keys, keys);
  }
}

TEST(LineProtocolEncoderTest, ExtremeValuesFitTheReservedSpace) {
  Point point{"m", {}, {}, std::numeric_limits<int64_t>::min()};
  for (int i = 0; i < 20; ++i) {
    point.fields.emplace_back("f" + std::to_string(10 + i),
                              i % 2 ? -DBL_MAX : -std::numeric_limits<double>::denorm_min());
  }
  const std::string line = Encode(point);
  absl::StatusOr<std::vector<Point>> parsed = ParseLineProtocol(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].timestamp_ns, std::numeric_limits<int64_t>::min());
  ASSERT_EQ((*parsed)[0].fields.size(), 20u);
  EXPECT_EQ((*parsed)[0].fields[1].second, -DBL_MAX);
  EXPECT_EQ((*parsed)[0].fields[0].second, -std::numeric_limits<double>::denorm_min());
}

TEST(LineProtocolEncoderTest, RoundTripsThroughTheParser) {
  const std::string nasty = "a b,c=d\\e\\,f\\ g\\=\"'";
  Point point{nasty, {{nasty, nasty}, {"z", "=,"}}, {{nasty, -0.125}, {"x", 1e21}}, 42};
  const std::string line = Encode(point);
  absl::StatusOr<std::vector<Point>> parsed = ParseLineProtocol(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << " in " << line;
  ASSERT_EQ(parsed->size(), 1u);
  const Point& got = (*parsed)[0];
  EXPECT_EQ(got.measurement, nasty);
  EXPECT_THAT(got.tags, ElementsAre(Pair(nasty, nasty), Pair("z", "=,")));
  EXPECT_THAT(got.fields, ElementsAre(Pair(nasty, -0.125), Pair("x", 1e21)));
  EXPECT_EQ(got.timestamp_ns, 42);
}

// A point with its views, for the template tests.
struct ViewedPoint {
  explicit ViewedPoint(const Point& point)
      : tags(point.tags.begin(), point.tags.end()),
        fields(point.fields.begin(), point.fields.end()) {
    view.measurement = point.measurement;
    view.tags = tags;
    view.fields = fields;
    view.timestamp_ns = point.timestamp_ns;
  }
  std::vector<std::pair<absl::string_view, absl::string_view>> tags;
  std::vector<std::pair<absl::string_view, double>> fields;
  PointView view;
};

// What AppendFromTemplate writes for `point` from a template made of it with every value
// replaced by NaN (the template must not depend on them), next to what AppendView writes.
void ExpectTemplateWritesLikeAppendView(const Point& point) {
  Point blank = point;
  for (auto& field : blank.fields) field.second = std::nan("");
  blank.timestamp_ns = 0;
  LineProtocolEncoder encoder;
  // Behind another template, so that offsets into the shared buffer matter.
  LineTemplates templates;
  encoder.AddTemplate(ViewedPoint({"first", {{"a", "b"}}, {{"f", 1}}, 0}).view, &templates);
  encoder.AddTemplate(ViewedPoint(blank).view, &templates);
  ASSERT_EQ(templates.size(), 2u);
  std::vector<double> values;
  for (const auto& field : point.fields) values.push_back(field.second);
  std::string from_template = "before\n", direct = "before\n";
  const bool written = encoder.AppendView(ViewedPoint(point).view, &direct);
  EXPECT_EQ(
      encoder.AppendFromTemplate(templates, 1, values.data(), point.timestamp_ns, &from_template),
      written);
  EXPECT_EQ(from_template, direct);
  templates.ShrinkToFit();
  const double one = 1;
  from_template.clear();
  EXPECT_TRUE(encoder.AppendFromTemplate(templates, 0, &one, 5, &from_template));
  EXPECT_EQ(from_template, "first,a=b f=1 5\n");
}

TEST(LineTemplateTest, ReplaysWhatAppendViewWrites) {
  const std::string nasty = "a b,c=d\\e\n\\";
  ExpectTemplateWritesLikeAppendView({"m", {{"t", "v"}}, {{"f", 1.5}}, 1700000000123456789});
  ExpectTemplateWritesLikeAppendView({"m", {}, {{"f", -0.0}}, -5});
  // Fields given out of order come back sorted, each with its own value.
  ExpectTemplateWritesLikeAppendView(
      {"m", {{"z", "1"}, {"a", "2"}}, {{"y_sum", 2.25}, {"y_count", 3}, {"b", 7}}, 9});
  // Escapes, newlines, trailing backslashes, tags that end up empty, a field without a key.
  ExpectTemplateWritesLikeAppendView({nasty,
                                      {{"z", "1"}, {nasty, nasty}, {"e", ""}, {"a", "\\\\"}},
                                      {{"y", 0.5}, {nasty, -3}, {"\\", 4}},
                                      std::numeric_limits<int64_t>::min()});
  // Values whose decimals are long.
  Point extremes{"m", {}, {}, std::numeric_limits<int64_t>::max()};
  for (int i = 0; i < 20; ++i) {
    extremes.fields.emplace_back("f" + std::to_string(10 + i),
                                 i % 2 ? -DBL_MAX : -std::numeric_limits<double>::denorm_min());
  }
  ExpectTemplateWritesLikeAppendView(extremes);
}

TEST(LineTemplateTest, PointWithoutFieldKeysMakesNoLine) {
  ExpectTemplateWritesLikeAppendView({"m", {{"t", "v"}}, {{"\\", 1}, {"", 2}}, 1});
  ExpectTemplateWritesLikeAppendView({"m", {{"t", "v"}}, {}, 1});
}

TEST(LineTemplateTest, OneTemplateServesManyValuesAndTimestamps) {
  LineProtocolEncoder encoder;
  LineTemplates templates;
  encoder.AddTemplate(
      ViewedPoint({"cpu", {{"host", "a b"}}, {{"x_sum", 0}, {"x_count", 0}}, 0}).view, &templates);
  std::string out;
  const double first[] = {1.5, 2};
  const double second[] = {0.001, 1e21};
  encoder.AppendFromTemplate(templates, 0, first, 10, &out);
  encoder.AppendFromTemplate(templates, 0, second, 11, &out);
  EXPECT_EQ(out,
            "cpu,host=a\\ b x_count=2,x_sum=1.5 10\n"
            "cpu,host=a\\ b x_count=1000000000000000000000,x_sum=0.001 11\n");
}

TEST(LineTemplateTest, RandomPointsReplayLikeAppendView) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> count(0, 5);
  std::uniform_int_distribution<int> length(0, 20);
  std::uniform_int_distribution<int> letter(0, 9);
  std::uniform_real_distribution<double> magnitude(-30, 30);
  const auto text = [&] {
    std::string s;
    for (int n = length(rng); n > 0; --n) s.push_back("ab=, \\\n_\xc3\xa9"[letter(rng)]);
    return s;
  };
  for (int round = 0; round < 2000; ++round) {
    Point point{text(), {}, {}, static_cast<int64_t>(rng()) * (round % 3 == 0 ? -1 : 1)};
    for (int n = count(rng); n > 0; --n) point.tags.emplace_back(text(), text());
    for (int n = count(rng); n > 0; --n) {
      const double value =
          (round % 2 ? std::round(std::pow(10, magnitude(rng))) : std::pow(10, magnitude(rng))) *
          (n % 2 ? -1 : 1);
      point.fields.emplace_back(text(), value);
    }
    // Unique keys, as the encoder requires.
    std::sort(point.tags.begin(), point.tags.end());
    point.tags.erase(std::unique(point.tags.begin(), point.tags.end(),
                                 [](const auto& a, const auto& b) { return a.first == b.first; }),
                     point.tags.end());
    std::sort(point.fields.begin(), point.fields.end());
    point.fields.erase(std::unique(point.fields.begin(), point.fields.end(),
                                   [](const auto& a, const auto& b) { return a.first == b.first; }),
                       point.fields.end());
    std::shuffle(point.fields.begin(), point.fields.end(), rng);
    ExpectTemplateWritesLikeAppendView(point);
  }
}

TEST(ParseLineProtocolTest, ParsesReadmeEscapes) {
  absl::StatusOr<std::vector<Point>> parsed = ParseLineProtocol(
      "m\\ x\\=y,bs=a\\b,cm=a\\,b,eq=a\\=b,sp=a\\ b f\\,1=2 NOW\n"
      "\n# comment\n"
      "up up=1e+06,down=-0 1700000000123000000");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  const Point& first = (*parsed)[0];
  EXPECT_EQ(first.measurement, "m x\\=y");
  EXPECT_THAT(first.tags, ElementsAre(Pair("bs", "a\\b"), Pair("cm", "a,b"), Pair("eq", "a=b"),
                                      Pair("sp", "a b")));
  EXPECT_THAT(first.fields, ElementsAre(Pair("f,1", 2)));
  EXPECT_EQ(first.timestamp_ns, kNowTimestampNs);
  const Point& second = (*parsed)[1];
  EXPECT_THAT(second.tags, IsEmpty());
  EXPECT_THAT(second.fields, ElementsAre(Pair("up", 1e6), Pair("down", 0)));
  EXPECT_EQ(second.timestamp_ns, 1700000000123000000);
}

TEST(ParseLineProtocolTest, RejectsMalformedLines) {
  for (absl::string_view bad : {
           "m f=1",            // no timestamp
           "m f=1 ",           // empty timestamp
           "m f=1 12x",        // bad timestamp
           "m f=1 1 2",        // trailing text
           "m 1",              // no field key
           "m,k=v 1",          // no field key
           "m,k=v",            // no fields
           "m",                // no fields
           ",k=v f=1 1",       // empty measurement
           "m,k= f=1 1",       // empty tag value
           "m,=v f=1 1",       // empty tag key
           "m,k f=1 1",        // tag without '='
           "m,k=v=w f=1 1",    // unescaped '=' in a tag value
           "m,k=v,k=w f=1 1",  // duplicate tag
           "m f=1,f=2 1",      // duplicate field
           "m f= 1",           // empty value
           "m f=abc 1",        // not a number
           "m f=5i 1",         // integer field
           "m f=\"s\" 1",      // string field
           "m f=nan 1",        // not a plain decimal
           "m f=inf 1",        // not a plain decimal
           "m  f=1 1",         // two spaces
       }) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseLineProtocol(bad).ok());
  }
}

TEST(ParseLineProtocolTest, ErrorNamesTheLine) {
  absl::StatusOr<std::vector<Point>> parsed = ParseLineProtocol("a f=1 1\nb f=x 1\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("line 2"));
}

TEST(ParseLineProtocolTest, EmptyTextHasNoPoints) {
  absl::StatusOr<std::vector<Point>> parsed = ParseLineProtocol("");
  ASSERT_TRUE(parsed.ok());
  EXPECT_THAT(*parsed, IsEmpty());
}

std::vector<Point> Parse(absl::string_view text) {
  absl::StatusOr<std::vector<Point>> parsed = ParseLineProtocol(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : std::vector<Point>{};
}

TEST(ComparePointsTest, OrderOfLinesTagsAndFieldsDoesNotMatter) {
  const std::vector<Point> expected = Parse("a,x=1,y=2 f=1,g=2 5\nb f=1 NOW\n");
  const std::vector<Point> actual = Parse("b f=1 100\na,y=2,x=1 g=2,f=1 5\n");
  EXPECT_TRUE(ComparePoints(expected, actual, 100, 100).ok());
}

TEST(ComparePointsTest, FieldValuesCompareAsNumbers) {
  EXPECT_TRUE(ComparePoints(Parse("a f=1000,g=0 1"), Parse("a f=1e3,g=-0 1"), 0, 0).ok());
  EXPECT_FALSE(ComparePoints(Parse("a f=0.1 1"), Parse("a f=0.10000000000000002 1"), 0, 0).ok());
}

TEST(ComparePointsTest, DuplicatesCount) {
  EXPECT_FALSE(ComparePoints(Parse("a f=1 1\na f=1 1"), Parse("a f=1 1"), 0, 0).ok());
  EXPECT_FALSE(ComparePoints(Parse("a f=1 1"), Parse("a f=1 1\na f=1 1"), 0, 0).ok());
  EXPECT_TRUE(ComparePoints(Parse("a f=1 1\na f=1 1"), Parse("a f=1 1\na f=1 1"), 0, 0).ok());
}

TEST(ComparePointsTest, ExtraTagOrFieldFails) {
  absl::Status status = ComparePoints(Parse("a f=1 1"), Parse("a,host=h f=1 1"), 0, 0);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("missing:    a f=1 1"));
  EXPECT_THAT(status.message(), HasSubstr("unexpected: a,host=h f=1 1"));
  EXPECT_FALSE(ComparePoints(Parse("a f=1 1"), Parse("a f=1,g=1 1"), 0, 0).ok());
}

TEST(ComparePointsTest, FixedTimestampsMustBeEqual) {
  EXPECT_FALSE(ComparePoints(Parse("a f=1 1"), Parse("a f=1 2"), 0, 10).ok());
}

TEST(ComparePointsTest, NowMatchesTheWindowWithOneValue) {
  const std::vector<Point> expected = Parse("a f=1 NOW\nb f=1 NOW\n");
  EXPECT_TRUE(ComparePoints(expected, Parse("a f=1 15\nb f=1 15"), 10, 20).ok());
  EXPECT_FALSE(ComparePoints(expected, Parse("a f=1 15\nb f=1 25"), 10, 20).ok());
  absl::Status status = ComparePoints(expected, Parse("a f=1 15\nb f=1 16"), 10, 20);
  EXPECT_THAT(status.message(), HasSubstr("different timestamps"));
}

TEST(ComparePointsTest, FixedTimestampsAreMatchedBeforeNow) {
  // The actual point at 15 could satisfy either expectation; only one assignment works.
  const std::vector<Point> expected = Parse("a f=1 NOW\na f=1 15\n");
  EXPECT_TRUE(ComparePoints(expected, Parse("a f=1 15\na f=1 12"), 10, 20).ok());
}

}  // namespace
}  // namespace pushgate
