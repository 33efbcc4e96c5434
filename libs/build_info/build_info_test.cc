#include "libs/build_info/build_info.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/self_metrics/self_metrics.h"

namespace pushgate {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(BuildInfoTest, VersionIsTheVersionFiles) {
  std::ifstream file(absl::StrCat(std::getenv("TEST_SRCDIR"), "/pushgate/VERSION"));
  std::string line;
  ASSERT_TRUE(std::getline(file, line));
  EXPECT_EQ(BuildVersion(), absl::StripAsciiWhitespace(line));
}

TEST(BuildInfoTest, RevisionIsAGitCommitOrSaysItIsUnknown) {
  EXPECT_THAT(std::string(BuildRevision()), MatchesRegex("[0-9a-f]{12}(\\+dirty)?|unknown"));
}

TEST(BuildInfoTest, VersionLineNamesProgramVersionRevisionAndCompiler) {
  EXPECT_EQ(VersionLine("pushgate-front"),
            absl::StrCat("pushgate-front ", BuildVersion(), " (revision ", BuildRevision(), ", ",
                         BuildCompiler(), ")"));
  EXPECT_THAT(std::string(BuildCompiler()), MatchesRegex("(gcc|clang) .+"));
}

TEST(BuildInfoTest, MetricIsOneWithTheBuildAsLabels) {
  MetricsRegistry registry;
  RegisterBuildInfoMetric("pushgate_test_build_info", &registry);
  EXPECT_THAT(registry.Render(),
              HasSubstr(absl::StrCat("# TYPE pushgate_test_build_info gauge\n"
                                     "pushgate_test_build_info{version=\"",
                                     BuildVersion(), "\",revision=\"", BuildRevision(),
                                     "\",compiler=\"", BuildCompiler(), "\"} 1\n")));
}

}  // namespace
}  // namespace pushgate
