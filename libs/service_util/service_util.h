// Small pieces both pushgate services' main() share: start-up flag handling with environment
// fallbacks, and waiting for a termination signal.
#ifndef PUSHGATE_LIBS_SERVICE_UTIL_SERVICE_UTIL_H_
#define PUSHGATE_LIBS_SERVICE_UTIL_SERVICE_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pushgate {

// Parses flags (absl), initialises glog to stderr and logs the binary's VersionLine
// (libs/build_info), and blocks SIGINT/SIGTERM in every thread started afterwards so
// WaitForTerminationSignal() receives them. Call first in main(). `--version` prints the
// VersionLine and exits with status 0. Exits with status 2 and a message if the command line
// is refused (see ParseServiceFlags).
void InitService(int argc, char** argv, absl::string_view usage);

// The flag-parsing part of InitService: parses argv with absl and remembers which flags were
// given on the command line, for the *FlagOrEnv functions below. InvalidArgument for what
// would otherwise be ignored without a word: a word that is not a flag (such as the value in
// `--upload_gzip false`: a boolean flag takes its value as `--flag=false`), and --flagfile,
// --fromenv or --tryfromenv, whose flags would not count as given (so environment variables
// and the default sink would take their place). absl's own errors (an unknown flag, a value
// that does not parse) exit as usual.
absl::Status ParseServiceFlags(int argc, char** argv);

// Range checks for numeric flags: OK, or InvalidArgument naming the flag and its value.
absl::Status CheckFlagInRange(absl::string_view flag_name, int64_t value, int64_t min,
                              int64_t max = INT64_MAX);
// A duration flag above zero, or (`zero_ok`) at least zero, and at most `max`.
absl::Status CheckDurationFlag(absl::string_view flag_name, absl::Duration value, bool zero_ok,
                               absl::Duration max = absl::InfiniteDuration());
// The first error among `checks` (such as the above), or OK.
absl::Status FirstError(std::initializer_list<absl::Status> checks);

// Blocks until SIGINT or SIGTERM; returns the signal's name.
std::string WaitForTerminationSignal();

// Raises the soft limit on open file descriptors (RLIMIT_NOFILE) to the hard limit, as Go
// programs such as the Pushgateway do at start: the soft limit is often 1,024, far below what
// a server's connections need. Returns the soft limit in force afterwards (unchanged when it
// could not be raised).
uint64_t RaiseOpenFileLimit();

// The effective value of a string/bool flag for which an environment variable may stand in:
// the flag when given on the command line, else the variable when set and not empty, else the
// flag's default. Flags win over env; env wins over defaults.
std::string StringFlagOrEnv(absl::string_view flag_name, absl::string_view env_name);
absl::StatusOr<bool> BoolFlagOrEnv(absl::string_view flag_name, absl::string_view env_name);

// Every value given for --`flag_name` on the command line, in order (absl keeps only the
// last), for flags that may be repeated such as --upload_url.
std::vector<std::string> FlagValuesGiven(absl::string_view flag_name);

// Parses true/t/1/yes/on and false/f/0/no/off (case-insensitive, blanks around ignored);
// anything else, the empty text included, is InvalidArgument.
absl::StatusOr<bool> ParseBool(absl::string_view text);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_SERVICE_UTIL_SERVICE_UTIL_H_
