#include "libs/service_util/service_util.h"

#include <sys/resource.h>

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "gmock/gmock.h"
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

// `value: ""` in a manifest must not turn a default-true option off.
TEST(FlagOrEnvTest, AnEmptyVariableIsAsIfUnset) {
  setenv("PG_TEST_PREFIX", "", 1);
  EXPECT_EQ(StringFlagOrEnv("test_prefix", "PG_TEST_PREFIX"), "default");
  setenv("PG_TEST_SWITCH", "", 1);
  EXPECT_EQ(*BoolFlagOrEnv("test_switch", "PG_TEST_SWITCH"), true);
  unsetenv("PG_TEST_PREFIX");
  unsetenv("PG_TEST_SWITCH");
}

TEST(FlagOrEnvTest, CommandLineWinsOverEnv) {
  setenv("PG_TEST_PREFIX", "/from-env", 1);
  const char* argv[] = {"test", "--test_prefix=/from-flag"};
  ASSERT_TRUE(ParseServiceFlags(2, const_cast<char**>(argv)).ok());
  EXPECT_EQ(StringFlagOrEnv("test_prefix", "PG_TEST_PREFIX"), "/from-flag");
}

TEST(FlagValuesGivenTest, KeepsEveryValueOfARepeatedFlag) {
  const char* argv[] = {"test", "--test_prefix=/a", "--test_prefix", "/b", "--test_switch"};
  ASSERT_TRUE(ParseServiceFlags(5, const_cast<char**>(argv)).ok());
  std::vector<std::string> values = FlagValuesGiven("test_prefix");
  ASSERT_GE(values.size(), 2u);  // Other tests in this binary parse flags too.
  EXPECT_EQ(values[values.size() - 2], "/a");
  EXPECT_EQ(values.back(), "/b");
  EXPECT_TRUE(FlagValuesGiven("not_given").empty());
}

// Both would be dropped without a word: "false" as a positional argument (the flag stays
// true), a flagfile's flags as not given on the command line.
TEST(ParseServiceFlagsTest, RefusesWhatItWouldOtherwiseIgnore) {
  const char* spaced[] = {"test", "--test_switch", "false"};
  const absl::Status status = ParseServiceFlags(3, const_cast<char**>(spaced));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "unexpected argument \"false\" (flags take their values as --flag=value; a boolean "
            "one as --flag=false)");
  for (const char* flag : {"--flagfile=/tmp/x", "--fromenv=test_prefix", "--tryfromenv=a"}) {
    const char* argv[] = {"test", flag};
    EXPECT_THAT(ParseServiceFlags(2, const_cast<char**>(argv)).message(),
                ::testing::HasSubstr("is not supported: give the flags on the command line"))
        << flag;
  }
}

TEST(CheckFlagTest, SaysWhichFlagIsOutOfRangeAndWhy) {
  EXPECT_TRUE(CheckFlagInRange("a", 1, 1).ok());
  EXPECT_EQ(CheckFlagInRange("spool_max_bytes", -1, 1).message(),
            "--spool_max_bytes must be at least 1, not -1");
  EXPECT_EQ(CheckFlagInRange("background_nice", 20, 0, 19).message(),
            "--background_nice must be between 0 and 19, not 20");
  EXPECT_TRUE(CheckDurationFlag("d", absl::ZeroDuration(), /*zero_ok=*/true).ok());
  EXPECT_EQ(CheckDurationFlag("ack_timeout", absl::ZeroDuration(), false).message(),
            "--ack_timeout must be more than 0, not 0");
  EXPECT_EQ(CheckDurationFlag("batch_linger", absl::Seconds(-1), true).message(),
            "--batch_linger must be 0 or more, not -1s");
}

TEST(CheckFlagTest, FirstErrorIsTheFirstCheckThatFailed) {
  EXPECT_TRUE(FirstError({}).ok());
  EXPECT_TRUE(FirstError({CheckFlagInRange("a", 1, 0)}).ok());
  EXPECT_EQ(FirstError({CheckFlagInRange("a", 1, 0), CheckFlagInRange("b", -1, 0),
                        CheckFlagInRange("c", -2, 0)})
                .message(),
            "--b must be at least 0, not -1");
}

TEST(RaiseOpenFileLimitTest, TheSoftLimitBecomesTheHardOne) {
  rlimit limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < 256 || limit.rlim_max == RLIM_INFINITY) {
    GTEST_SKIP() << "hard limit " << limit.rlim_max << ": not what this test sets up";
  }
  // As many a shell or container starts a process.
  limit.rlim_cur = 128;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  const uint64_t raised = RaiseOpenFileLimit();
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(limit.rlim_cur, limit.rlim_max);
  EXPECT_EQ(raised, limit.rlim_cur);
}

TEST(ParseBoolTest, AcceptsCommonSpellings) {
  EXPECT_TRUE(*ParseBool("TRUE"));
  EXPECT_TRUE(*ParseBool(" yes "));
  EXPECT_FALSE(*ParseBool("0"));
  // Go's strconv.ParseBool spellings, which DataKit's users write.
  EXPECT_TRUE(*ParseBool("T"));
  EXPECT_TRUE(*ParseBool("t"));
  EXPECT_FALSE(*ParseBool("F"));
  EXPECT_FALSE(*ParseBool("False"));
  EXPECT_FALSE(ParseBool("2").ok());
  EXPECT_FALSE(ParseBool("").ok());
}

}  // namespace
}  // namespace pushgate
