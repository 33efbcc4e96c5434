// The process_* metrics, from /proc/self (Linux), as Prometheus' client libraries name them,
// so that dashboards and alerts written for any exporter work for pushgate's services too.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "libs/self_metrics/self_metrics.h"

namespace pushgate {
namespace {

// The fields of /proc/self/stat after the command (which may hold blanks), so that
// fields[0] is field 3 of proc(5), the state; empty if unreadable.
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  const size_t command_end = line.rfind(')');
  if (command_end == std::string::npos) return {};
  return absl::StrSplit(line.substr(command_end + 1), ' ', absl::SkipEmpty());
}

// Field `number` of proc(5) (from 1) as a double, or NaN.
double StatField(int number) {
  const std::vector<std::string> fields = StatFields();
  const size_t index = static_cast<size_t>(number - 3);
  double value;
  if (index >= fields.size() || !absl::SimpleAtod(fields[index], &value)) return std::nan("");
  return value;
}

double ClockTicksPerSecond() { return static_cast<double>(sysconf(_SC_CLK_TCK)); }

// The boot time in seconds since the epoch (`btime` in /proc/stat), or NaN.
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(1 << 20, '\n');
  }
  return std::nan("");
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nan("");
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory's own descriptor
}

}  // namespace

void RegisterProcessMetrics(MetricsRegistry* registry) {
  registry->CallbackCounter("process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.",
                            [] { return (StatField(14) + StatField(15)) / ClockTicksPerSecond(); });
  registry->CallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.", [] {
    return StatField(24) * static_cast<double>(sysconf(_SC_PAGESIZE));
  });
  registry->CallbackGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                          [] { return StatField(23); });
  // Read once: it does not change, and the boot time in /proc/stat is whole seconds.
  const double start_time = BootTime() + StatField(22) / ClockTicksPerSecond();
  registry->CallbackGauge("process_start_time_seconds",
                          "Start time of the process since unix epoch in seconds.",
                          [start_time] { return start_time; });
  registry->CallbackGauge("process_open_fds", "Number of open file descriptors.", OpenFds);
  registry->CallbackGauge("process_max_fds", "Maximum number of open file descriptors.", [] {
    rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nan("");
    return limit.rlim_cur == RLIM_INFINITY ? INFINITY : static_cast<double>(limit.rlim_cur);
  });
}

}  // namespace pushgate
