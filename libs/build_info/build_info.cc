#include "libs/build_info/build_info.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace pushgate {
namespace build_info_internal {
// Defined in the source libs/build_info/stamp.sh writes at build time.
extern const char kVersion[];
extern const char kRevision[];
}  // namespace build_info_internal

absl::string_view BuildVersion() { return build_info_internal::kVersion; }

absl::string_view BuildRevision() { return build_info_internal::kRevision; }

absl::string_view BuildCompiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

std::string VersionLine(absl::string_view program) {
  return absl::StrCat(program, " ", BuildVersion(), " (revision ", BuildRevision(), ", ",
                      BuildCompiler(), ")");
}

void RegisterBuildInfoMetric(absl::string_view name, MetricsRegistry* registry) {
  registry
      ->Gauge(std::string(name),
              "What the binary was built from: its version, git revision and compiler (value 1).",
              {"version", "revision", "compiler"})
      .Set(
          {std::string(BuildVersion()), std::string(BuildRevision()), std::string(BuildCompiler())},
          1);
}

}  // namespace pushgate
