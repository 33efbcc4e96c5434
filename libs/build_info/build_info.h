// What a pushgate binary was built from, stamped in at build time: the version of its source
// (the repository's VERSION file) and the git revision. It is what `--version` prints, what a
// service logs as it starts, and what its `<service>_build_info` metric carries, so that an
// operator can tell which build each pod of a rollout runs (as every Prometheus exporter's
// `*_build_info` does).
#ifndef PUSHGATE_LIBS_BUILD_INFO_BUILD_INFO_H_
#define PUSHGATE_LIBS_BUILD_INFO_BUILD_INFO_H_

#include <string>

#include "absl/strings/string_view.h"
#include "libs/self_metrics/self_metrics.h"

namespace pushgate {

// The VERSION file's version, e.g. "0.1.0".
absl::string_view BuildVersion();

// The first 12 hex digits of the git commit built, with "+dirty" when tracked files had
// uncommitted changes; "unknown" when built outside a git checkout.
absl::string_view BuildRevision();

// The compiler that built the binary, e.g. "gcc 12.2.0".
absl::string_view BuildCompiler();

// One line for `--version` and the start-up log: "<program> <version> (revision <revision>,
// <compiler>)".
std::string VersionLine(absl::string_view program);

// Registers `name` (e.g. "pushgate_front_build_info") as a gauge of value 1 whose labels
// `version`, `revision` and `compiler` say what the binary was built from.
void RegisterBuildInfoMetric(absl::string_view name, MetricsRegistry* registry);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_BUILD_INFO_BUILD_INFO_H_
