// The backend-outage fault test against a real backend: Debian's InfluxDB 1.x is stopped in
// the middle of a stream of pushes and started again on the same data; every push the front
// answered 200 must then be in InfluxDB. Each push carries a unique `seq` tag, so a lost push
// is a missing tag value. (InfluxDB merges identical points, so duplicates cannot be counted
// here; tests/fault:durability_test counts them with a receiver that keeps every upload.)
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/backends/backend_util.h"
#include "tests/backends/influxdb_server.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

using ::pushgate::testing::HttpRequestTo;
using ::pushgate::testing::InfluxDbServer;
using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;

// The seq tag values InfluxDB holds for the fault measurement.
absl::StatusOr<std::set<int>> StoredSeqs(InfluxDbServer& influx) {
  auto results = influx.Query("SHOW TAG VALUES FROM fault WITH KEY = \"seq\"", "GET", "faults");
  if (!results.ok()) return results.status();
  std::set<int> seqs;
  for (const auto& result : *results) {
    const auto* series = result.as_object().if_contains("series");
    if (series == nullptr) continue;
    for (const auto& s : series->as_array()) {
      for (const auto& row : s.as_object().at("values").as_array()) {
        int seq;
        if (absl::SimpleAtoi(std::string(row.as_array().at(1).as_string()), &seq)) {
          seqs.insert(seq);
        }
      }
    }
  }
  return seqs;
}

TEST(InfluxDbOutageTest, PushesAcknowledgedWhileInfluxDbIsDownAllArrive) {
  InfluxDbServer influx;
  ASSERT_TRUE(influx.Start().ok()) << influx.log();
  ASSERT_TRUE(influx.Query("CREATE DATABASE faults", "POST").ok()) << influx.log();
  Pushgate pushgate(PushgateOptions{influx.url("/write?db=faults"), {}, {}});

  absl::Mutex mu;
  std::set<int> acked;
  int refused = 0;
  std::atomic<bool> stop{false};
  std::atomic<int> next{0};
  std::vector<std::thread> pushers;
  for (int t = 0; t < 4; ++t) {
    pushers.emplace_back([&, t] {
      while (!stop) {
        const int seq = next++;
        auto result = HttpRequestTo(
            "PUT", absl::StrCat(pushgate.front_url(), "/metrics/job/fault/instance/t", t),
            absl::StrCat("fault_seq{seq=\"", seq, "\"} ", seq, "\n"));
        absl::MutexLock lock(&mu);
        if (result.status == 200) {
          acked.insert(seq);
        } else {
          ++refused;
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(700));
  influx.Stop();
  absl::SleepFor(absl::Seconds(2));
  size_t acked_while_down;
  {
    absl::MutexLock lock(&mu);
    acked_while_down = acked.size();
  }
  ASSERT_TRUE(influx.Start().ok()) << influx.log();
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  for (auto& t : pushers) t.join();

  std::vector<int> lost;
  testing::PollUntil(absl::Seconds(60), [&] {
    auto stored = StoredSeqs(influx);
    if (!stored.ok()) return false;
    lost.clear();
    for (int seq : acked) {
      if (!stored->count(seq)) lost.push_back(seq);
    }
    return lost.empty();
  });
  std::cout << "FAULT influxdb-outage: pushes_acked=" << acked.size()
            << " (of which before the restart " << acked_while_down
            << ") pushes_refused=" << refused << " losses=" << lost.size() << std::endl;
  EXPECT_GT(acked_while_down, 50u);
  EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged pushes missing from InfluxDB, e.g. "
                            << lost.front() << "\n"
                            << influx.log();
}

}  // namespace
}  // namespace pushgate
