#include "libs/naming/naming.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace pushgate {
namespace {

// `name` as a measurement line protocol can carry (see NameMetric).
std::string CarriableMeasurement(absl::string_view name) {
  while (!name.empty() && name.back() == '\\') name.remove_suffix(1);
  if (name.empty()) return "unknown";
  if (name.front() == '#' || name.front() == '\t') return absl::StrCat("_", name);
  return std::string(name);
}

}  // namespace

MetricName NameMetric(const NamingOptions& options, absl::string_view family_name,
                      absl::string_view job) {
  if (!options.measurement_name.empty()) {
    return {CarriableMeasurement(options.measurement_name), std::string(family_name)};
  }
  if (options.job_as_measurement) {
    return {CarriableMeasurement(job), std::string(family_name)};
  }

  absl::string_view rest = family_name;
  while (!rest.empty() && rest.front() == '_') rest.remove_prefix(1);
  if (rest.size() < 2) return {"unknown", "unknown"};

  const size_t first = rest.find('_');
  if (first == absl::string_view::npos) {
    return {std::string(rest), std::string(rest)};
  }
  if (first == rest.size() - 1) {
    // `etcd_`: a trailing separator splits off nothing, so the name stands for itself.
    std::string name(rest.substr(0, first));
    return {name, name};
  }
  std::string measurement(rest.substr(0, first));
  if (options.keep_exist_metric_name) return {std::move(measurement), std::string(rest)};
  return {std::move(measurement), std::string(rest.substr(first + 1))};
}

}  // namespace pushgate
