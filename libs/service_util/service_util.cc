#include "libs/service_util/service_util.h"

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "libs/build_info/build_info.h"

namespace pushgate {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Flags named on the command line, with their values; absl does not expose this itself.
absl::flat_hash_map<std::string, std::vector<std::string>>& FlagsGiven() {
  static auto* given = new absl::flat_hash_map<std::string, std::vector<std::string>>;
  return *given;
}

const absl::CommandLineFlag& FindFlag(absl::string_view name) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  CHECK(flag != nullptr) << "no flag --" << name;
  return *flag;
}

}  // namespace

void InitService(int argc, char** argv, absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  const std::string program(absl::string_view(argv[0]).substr(
      absl::string_view(argv[0]).find_last_of('/') + 1));  // npos + 1 is 0: no slash
  absl::FlagsUsageConfig usage_config;
  usage_config.version_string = [program] { return VersionLine(program) + "\n"; };
  absl::SetFlagsUsageConfig(usage_config);
  const absl::Status parsed = ParseServiceFlags(argc, argv);
  if (!parsed.ok()) {
    fprintf(stderr, "%s: %s\n", argv[0], std::string(parsed.message()).c_str());
    std::exit(2);
  }
  // Debian's Abseil is built with mutex deadlock detection on; it costs a graph update on
  // every contended lock in the hot path and finds nothing the tests would not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  LOG(INFO) << VersionLine(program);
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

absl::Status ParseServiceFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
    size_t eq = arg.find('=');
    const absl::string_view name = arg.substr(0, eq);
    if (name == "flagfile" || name == "fromenv" || name == "tryfromenv") {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is not supported: give the flags on the command line"));
    }
    std::string value;
    if (eq != absl::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (i + 1 < argc && argv[i + 1][0] != '-') {
      value = argv[i + 1];  // "--flag value"; harmless for booleans, which absl parses itself
    }
    arg = arg.substr(0, eq);
    FlagsGiven()[std::string(arg)].push_back(value);
    if (absl::ConsumePrefix(&arg, "no")) FlagsGiven()[std::string(arg)].push_back("false");
  }
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument \"", rest[1],
        "\" (flags take their values as --flag=value; a boolean one as --flag=false)"));
  }
  return absl::OkStatus();
}

absl::Status CheckFlagInRange(absl::string_view flag_name, int64_t value, int64_t min,
                              int64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  if (max == INT64_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag_name, " must be at least ", min, ", not ", value));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag_name, " must be between ", min, " and ", max, ", not ", value));
}

absl::Status CheckDurationFlag(absl::string_view flag_name, absl::Duration value, bool zero_ok,
                               absl::Duration max) {
  if (value > max) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag_name, " must be at most ",
                                                   absl::FormatDuration(max), ", not ",
                                                   absl::FormatDuration(value)));
  }
  if (value > absl::ZeroDuration() || (zero_ok && value == absl::ZeroDuration())) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("--", flag_name, " must be ",
                                                 zero_ok ? "0 or more" : "more than 0", ", not ",
                                                 absl::FormatDuration(value)));
}

absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& status : checks) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

std::vector<std::string> FlagValuesGiven(absl::string_view flag_name) {
  auto it = FlagsGiven().find(flag_name);
  return it == FlagsGiven().end() ? std::vector<std::string>{} : it->second;
}

uint64_t RaiseOpenFileLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  rlim_t target = limit.rlim_max;
  if (target == RLIM_INFINITY) {
    // The kernel takes no more than fs.nr_open descriptors per process, whatever the limit.
    std::FILE* nr_open = std::fopen("/proc/sys/fs/nr_open", "r");
    unsigned long long most = 1 << 20;  // the kernel's default
    if (nr_open != nullptr) {
      if (std::fscanf(nr_open, "%llu", &most) != 1) most = 1 << 20;
      std::fclose(nr_open);
    }
    target = static_cast<rlim_t>(most);
  }
  if (limit.rlim_cur < target) {
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = before;
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

std::string WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  int signal = 0;
  sigwait(&set, &signal);
  return signal == SIGINT ? "SIGINT" : "SIGTERM";
}

std::string StringFlagOrEnv(absl::string_view flag_name, absl::string_view env_name) {
  const absl::CommandLineFlag& flag = FindFlag(flag_name);
  if (!FlagsGiven().contains(flag_name)) {
    // A variable set to nothing (`value: ""` in a manifest, `ENV=` in Compose) is as if unset,
    // as DataKit reads it: it must not turn a default-true option off.
    const char* env = std::getenv(std::string(env_name).c_str());
    if (env != nullptr && *env != '\0') return env;
  }
  return flag.CurrentValue();
}

absl::StatusOr<bool> BoolFlagOrEnv(absl::string_view flag_name, absl::string_view env_name) {
  absl::StatusOr<bool> value = ParseBool(StringFlagOrEnv(flag_name, env_name));
  if (!value.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag_name, " / ", env_name, ": ", value.status().message()));
  }
  return value;
}

absl::StatusOr<bool> ParseBool(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  // Go's strconv.ParseBool spellings (what DataKit reads), plus yes/no and on/off.
  if (lower == "true" || lower == "t" || lower == "1" || lower == "yes" || lower == "on") {
    return true;
  }
  if (lower == "false" || lower == "f" || lower == "0" || lower == "no" || lower == "off") {
    return false;
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a boolean"));
}

}  // namespace pushgate
