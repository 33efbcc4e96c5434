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

// `name` as a field key line protocol can carry: a trailing backslash would escape the `=`
// after it.
std::string CarriableField(absl::string_view name) {
  while (!name.empty() && name.back() == '\\') name.remove_suffix(1);
  if (name.empty()) return "unknown";
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

  // Names that came through the front are valid Prometheus names, which line protocol always
  // carries; a producer streaming to the aggregator may send any string, and a measurement
  // starting with `#` would make the line a comment that every backend skips.
  const size_t first = rest.find('_');
  if (first == absl::string_view::npos) {
    return {CarriableMeasurement(rest), CarriableField(rest)};
  }
  if (first == rest.size() - 1) {
    // `etcd_`: a trailing separator splits off nothing, so the name stands for itself.
    const absl::string_view name = rest.substr(0, first);
    return {CarriableMeasurement(name), CarriableField(name)};
  }
  std::string measurement = CarriableMeasurement(rest.substr(0, first));
  if (options.keep_exist_metric_name) return {std::move(measurement), CarriableField(rest)};
  return {std::move(measurement), CarriableField(rest.substr(first + 1))};
}

}  // namespace pushgate
