#include "tests/backends/influxdb_server.h"

#include "absl/strings/str_cat.h"
#include "tests/backends/backend_util.h"

namespace pushgate::testing {

InfluxDbServer::InfluxDbServer() : dir_(ScratchDir("influxdb")), http_port_(FreePort()) {
  // Debian's influxdb 1.6 patches the upstream `reporting-disabled` key into an opt-in
  // `reporting-enabled` (see `influxd config`); both spellings are given so that no version
  // phones home. The monitor's _internal database and the query log are off to keep the
  // server quiet; everything binds to loopback.
  WriteFileOrDie(
      dir_ + "/influxdb.conf",
      absl::StrCat("reporting-enabled = false\n"
                   "reporting-disabled = true\n"
                   "bind-address = \"127.0.0.1:",
                   FreePort(), "\"\n", "[meta]\n  dir = \"", dir_, "/meta\"\n",
                   "[data]\n  dir = \"", dir_, "/data\"\n", "  wal-dir = \"", dir_, "/wal\"\n",
                   "  query-log-enabled = false\n"
                   "[monitor]\n  store-enabled = false\n"
                   "[continuous_queries]\n  enabled = false\n"
                   "[http]\n  enabled = true\n  bind-address = \"127.0.0.1:",
                   http_port_, "\"\n", "  log-enabled = false\n  pprof-enabled = false\n"));
}

absl::Status InfluxDbServer::Start() {
  process_ = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/influxd", "run", "-config", dir_ + "/influxdb.conf"},
      dir_ + "/influxd.log");
  return WaitForHttp200(url("/query?q=SHOW%20DATABASES"), absl::Seconds(30));
}

void InfluxDbServer::Stop() {
  if (process_) process_->Stop();
}

std::string InfluxDbServer::url(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", http_port_, path);
}

std::string InfluxDbServer::log() const { return FileTail(dir_ + "/influxd.log"); }

absl::StatusOr<boost::json::array> InfluxDbServer::Query(const std::string& q,
                                                         const std::string& method,
                                                         const std::string& db) {
  std::string path = absl::StrCat("/query?epoch=ns&q=", UrlQueryEncode(q));
  if (!db.empty()) absl::StrAppend(&path, "&db=", db);
  absl::StatusOr<boost::json::value> answer = FetchJson(url(path), method);
  if (!answer.ok()) return answer.status();
  const boost::json::array* results = answer->as_object().at("results").if_array();
  if (results == nullptr) return absl::InternalError("no results array");
  for (const auto& result : *results) {
    if (result.as_object().contains("error")) {
      return absl::InvalidArgumentError(boost::json::serialize(result));
    }
  }
  return *results;
}

}  // namespace pushgate::testing
