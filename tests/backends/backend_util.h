// Helpers for the integration tests against real third-party backends (InfluxDB, Prometheus,
// VictoriaMetrics) started by the tests themselves: config files, query URLs, JSON answers
// and polling until data is visible.
#ifndef PUSHGATE_TESTS_BACKENDS_BACKEND_UTIL_H_
#define PUSHGATE_TESTS_BACKENDS_BACKEND_UTIL_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "boost/json.hpp"

namespace pushgate::testing {

// Percent-encodes everything but unreserved characters, for a URL query component.
std::string UrlQueryEncode(absl::string_view text);

// Parses a JSON document. Integers keep their full 64-bit precision (nanosecond timestamps
// do not fit a double).
absl::StatusOr<boost::json::value> ParseJson(absl::string_view text);

// GETs (or, when `method` is given, sends with that method) `url` and parses the answer as
// JSON; an error for a transport failure, a status other than 2xx, or a body that is not JSON.
absl::StatusOr<boost::json::value> FetchJson(const std::string& url,
                                             const std::string& method = "GET");

// Writes `contents` to `path`, replacing it; dies on failure.
void WriteFileOrDie(const std::string& path, absl::string_view contents);

// The last `bytes` bytes of the file at `path` (a server's log, for failure messages).
std::string FileTail(const std::string& path, size_t bytes = 4000);

// Calls `done` every 100 ms until it returns true (returns true) or `timeout` passes (false).
bool PollUntil(absl::Duration timeout, const std::function<bool()>& done);

// Milliseconds since the epoch now.
int64_t NowMs();

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_BACKENDS_BACKEND_UTIL_H_
