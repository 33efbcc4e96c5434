#include "libs/service_util/service_util.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, test_prefix, "default", "test flag");
ABSL_FLAG(bool, test_switch, true, "test flag");

namespace pushgate {
namespace {

TEST(FlagOrEnvTest, EnvStandsInForAFlagNotGivenOnTheCommandLine) {
  unsetenv("PG_TEST_PREFIX");
  EXPECT_EQ(StringFlagOrEnv("test_prefix", "PG_TEST_PREFIX"), "default");
  setenv("PG_TEST_PREFIX", "/from-env", 1);
  EXPECT_EQ(StringFlagOrEnv("test_prefix", "PG_TEST_PREFIX"), "/from-env");
  setenv("PG_TEST_SWITCH", "false", 1);
  EXPECT_EQ(*BoolFlagOrEnv("test_switch", "PG_TEST_SWITCH"), false);
  setenv("PG_TEST_SWITCH", "maybe", 1);
  EXPECT_FALSE(BoolFlagOrEnv("test_switch", "PG_TEST_SWITCH").ok());
}

TEST(FlagOrEnvTest, CommandLineWinsOverEnv) {
  setenv("PG_TEST_PREFIX", "/from-env", 1);
  const char* argv[] = {"test", "--test_prefix=/from-flag"};
  ParseServiceFlags(2, const_cast<char**>(argv));
  EXPECT_EQ(StringFlagOrEnv("test_prefix", "PG_TEST_PREFIX"), "/from-flag");
}

TEST(FlagValuesGivenTest, KeepsEveryValueOfARepeatedFlag) {
  const char* argv[] = {"test", "--test_prefix=/a", "--test_prefix", "/b", "--test_switch"};
  ParseServiceFlags(5, const_cast<char**>(argv));
  std::vector<std::string> values = FlagValuesGiven("test_prefix");
  ASSERT_GE(values.size(), 2u);  // Other tests in this binary parse flags too.
  EXPECT_EQ(values[values.size() - 2], "/a");
  EXPECT_EQ(values.back(), "/b");
  EXPECT_TRUE(FlagValuesGiven("not_given").empty());
}

TEST(ParseBoolTest, AcceptsCommonSpellings) {
  EXPECT_TRUE(*ParseBool("TRUE"));
  EXPECT_TRUE(*ParseBool(" yes "));
  EXPECT_FALSE(*ParseBool("0"));
  EXPECT_FALSE(ParseBool("2").ok());
}

}  // namespace
}  // namespace pushgate
