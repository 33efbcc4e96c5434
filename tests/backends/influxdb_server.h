// A real InfluxDB 1.x (Debian's influxd) for tests: its own config, directories and loopback
// ports under the test's scratch directory, stopped (and restartable on the same data) by the
// test.
#ifndef PUSHGATE_TESTS_BACKENDS_INFLUXDB_SERVER_H_
#define PUSHGATE_TESTS_BACKENDS_INFLUXDB_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "boost/json.hpp"
#include "tests/harness/harness.h"

namespace pushgate::testing {

class InfluxDbServer {
 public:
  // Writes the config; Start() starts influxd and waits until it answers.
  InfluxDbServer();
  // Starts (again) on the same ports and data and waits until queries work.
  absl::Status Start();
  // Stops the server (SIGTERM); its data stays for the next Start().
  void Stop();

  std::string url(const std::string& path) const;
  std::string log() const;

  // Runs InfluxQL `q` (in `db` when given); the "results" array of the answer, or an error
  // naming the first result's error.
  absl::StatusOr<boost::json::array> Query(const std::string& q, const std::string& method = "GET",
                                           const std::string& db = "");

 private:
  std::string dir_;
  int http_port_;
  std::unique_ptr<Process> process_;
};

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_BACKENDS_INFLUXDB_SERVER_H_
