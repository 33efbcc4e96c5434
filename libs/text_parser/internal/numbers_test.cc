#include "libs/text_parser/internal/numbers.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace pushgate {
namespace text_parser_internal {
namespace {

uint64_t Bits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits;
}

// ParseFloat must agree with strtod bit for bit, except that it refuses overflow; so must its
// general path alone, which ParseFloat skips for short decimals.
void ExpectSameAsStrtod(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const double want = std::strtod(text.c_str(), &end);
  ASSERT_EQ(end, text.c_str() + text.size()) << text;
  for (bool (*parse)(absl::string_view, double*) : {ParseFloat, ParseFloatGeneral}) {
    double got = 12345;
    if (errno == ERANGE && (std::isinf(want) || std::fabs(want) >= 1)) {
      EXPECT_FALSE(parse(text, &got)) << text;
      continue;
    }
    ASSERT_TRUE(parse(text, &got)) << text;
    // glibc flags subnormal results with ERANGE too; those, and underflow to zero, must still
    // come out exactly as strtod has them (Go rounds tiny values the same way, without error).
    EXPECT_EQ(Bits(got), Bits(want)) << text << " gave " << got << ", strtod " << want;
  }
}

std::string RandomDigits(std::mt19937_64& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng() % 10));
  return s;
}

TEST(ParseFloatTest, ShortDecimalsAreBitIdenticalToStrtod) {
  std::mt19937_64 rng(1);
  for (int k = 0; k < 200000; ++k) {
    const int int_digits = static_cast<int>(rng() % 17);
    const int frac_digits = static_cast<int>(rng() % 17);
    std::string text;
    switch (rng() % 3) {
      case 0:
        text = "-";
        break;
      case 1:
        text = "+";
        break;
      default:
        break;
    }
    text += RandomDigits(rng, int_digits);
    if (frac_digits > 0 || rng() % 4 == 0) text += "." + RandomDigits(rng, frac_digits);
    if (int_digits + frac_digits == 0) text += "0";
    ExpectSameAsStrtod(text);
  }
}

TEST(ParseFloatTest, LongMantissasAndExponentsAreBitIdenticalToStrtod) {
  std::mt19937_64 rng(2);
  for (int k = 0; k < 100000; ++k) {
    std::string text = RandomDigits(rng, 1 + static_cast<int>(rng() % 25));
    if (rng() % 2) text += "." + RandomDigits(rng, 1 + static_cast<int>(rng() % 25));
    if (rng() % 2) {
      text += rng() % 2 ? "e" : "E-";
      text += std::to_string(rng() % 330);
    }
    ExpectSameAsStrtod(text);
  }
}

TEST(ParseFloatTest, EdgesOfTheFastPath) {
  for (const char* text : {"0",
                           "-0",
                           "+0",
                           "0.0",
                           "-0.0",
                           ".5",
                           "5.",
                           "-.5",
                           "999999999999999",
                           "9999999999999999",
                           "9007199254740993",
                           "0.000000000000001",
                           "0.1",
                           "0.3",
                           "123456789012.345",
                           "1234567890123456",
                           "00000000000000000001",
                           "1764000000.25",
                           "2.4583e-05",
                           "1e22",
                           "1e23",
                           "4.9e-324",
                           "2.2250738585072014e-308",
                           "1.7976931348623157e308"}) {
    ExpectSameAsStrtod(text);
  }
}

TEST(ParseFloatTest, GoSpellingsAndRefusals) {
  double v = 0;
  ASSERT_TRUE(ParseFloat("+Inf", &v));
  EXPECT_TRUE(std::isinf(v) && v > 0);
  ASSERT_TRUE(ParseFloat("-infinity", &v));
  EXPECT_TRUE(std::isinf(v) && v < 0);
  ASSERT_TRUE(ParseFloat("NaN", &v));
  EXPECT_TRUE(std::isnan(v));
  ASSERT_TRUE(ParseFloat("1e-400", &v));
  EXPECT_EQ(v, 0.0);
  for (const char* text : {"", "-", "+", ".", "-.", "1.2.3", "1e", "1e+", "0x10", "1_000", "-NaN",
                           "1e400", "1.5 ", " 1", "1,5", "in", "nan1", "--1"}) {
    EXPECT_FALSE(ParseFloat(text, &v)) << '"' << text << '"';
  }
}

TEST(ParseInt64Test, RangeAndSyntax) {
  int64_t v = 0;
  ASSERT_TRUE(ParseInt64("9223372036854775807", &v));
  EXPECT_EQ(v, INT64_MAX);
  ASSERT_TRUE(ParseInt64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  ASSERT_TRUE(ParseInt64("+0", &v));
  EXPECT_EQ(v, 0);
  for (const char* text : {"", "-", "9223372036854775808", "-9223372036854775809", "1.0", "1e3"}) {
    EXPECT_FALSE(ParseInt64(text, &v)) << text;
  }
}

}  // namespace
}  // namespace text_parser_internal
}  // namespace pushgate
