// Measurement and field names for a Prometheus metric family, as DataKit's pushgateway
// collector chooses them (see docs/reference/conversion.md, "Measurement and field
// names"). A DataKit user switching to pushgate must find the same measurements and fields.
#ifndef PUSHGATE_LIBS_NAMING_NAMING_H_
#define PUSHGATE_LIBS_NAMING_NAMING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace pushgate {

struct NamingOptions {
  // When non-empty, every point goes to this measurement. Wins over job_as_measurement.
  std::string measurement_name;
  // The push's (decoded) job is the measurement.
  bool job_as_measurement = false;
  // In the default split, the field keeps the whole name (minus leading '_') instead of only
  // the part after the first '_'.
  bool keep_exist_metric_name = true;
};

struct MetricName {
  std::string measurement;
  std::string field;
};

// Returns the measurement and the base field name for a metric family. `family_name` is the
// family's name (for a histogram `rpc_latency`, not `rpc_latency_bucket`); callers append
// `_count`, `_sum` and `_bucket` themselves. `job` is the push's decoded job and is used only
// with job_as_measurement.
//
// - measurement_name set: {measurement_name, family_name}.
// - else job_as_measurement: {job, family_name}.
//   Either name is first made one that line protocol can carry: trailing backslashes are cut
//   (they would escape the separator after them), an empty name becomes "unknown", and a name
//   starting with '#' (a comment line) or a tab (skipped at a line's start) gets a leading '_'.
//   A job can be any string (job@base64), so without this a push could write lines a backend
//   drops or refuses.
// - else, on the name without its leading '_'s:
//   fewer than two characters left -> {"unknown", "unknown"};
//   no '_' -> {rest, rest}; the only '_' is the last character -> both are rest without it;
//   otherwise the measurement is the text before the first '_' and the field is the whole
//   rest (keep_exist_metric_name) or the text after the first '_'. The measurement is then
//   made carriable as above, and the field loses its trailing backslashes ("unknown" if
//   nothing is left): a family named by a producer streaming to the aggregator may be any
//   string, where names that came through the front are valid Prometheus names, which these
//   steps leave alone.
MetricName NameMetric(const NamingOptions& options, absl::string_view family_name,
                      absl::string_view job);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_NAMING_NAMING_H_
