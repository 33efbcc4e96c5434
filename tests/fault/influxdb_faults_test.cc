// Fault tests against a real backend, Debian's InfluxDB 1.x: it is stopped in the middle of a
// stream of pushes and started again on the same data; or the aggregator is killed with
// SIGKILL mid-stream and restarted. Every push the front answered 200 must then be in
// InfluxDB. Each push carries a unique `seq` tag, so a lost push
// is a missing tag value. (InfluxDB merges identical points, so duplicates cannot be counted
// here; tests/fault:durability_test counts them with a receiver that keeps every upload.)
#include <iostream>
#include <set>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "tests/backends/backend_util.h"
#include "tests/backends/influxdb_server.h"
#include "tests/fault/seq_pusher.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

using ::pushgate::testing::InfluxDbServer;
using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;
using ::pushgate::testing::SeqPusher;

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

// Waits until every acknowledged seq is in InfluxDB; reports and checks the figures.
void ExpectAllStored(const std::string& scenario, SeqPusher& pusher, InfluxDbServer& influx,
                     size_t acked_during_fault) {
  const std::set<int> acked = pusher.acked();
  // Everything counts as lost until a query of InfluxDB says otherwise: if no query ever
  // answers, the check below fails instead of passing on nothing.
  std::vector<int> lost(acked.begin(), acked.end());
  absl::Status last_query;
  testing::PollUntil(absl::Seconds(60), [&] {
    auto stored = StoredSeqs(influx);
    last_query = stored.status();
    if (!stored.ok()) return false;
    lost.clear();
    for (int seq : acked) {
      if (!stored->count(seq)) lost.push_back(seq);
    }
    return lost.empty();
  });
  EXPECT_TRUE(last_query.ok()) << "the last query of InfluxDB failed: " << last_query;
  std::cout << "FAULT " << scenario << ": pushes_acked=" << acked.size() << " (before recovery "
            << acked_during_fault << ") pushes_refused=" << pusher.refused()
            << " losses=" << lost.size() << " refusals: " << pusher.RefusalSummary() << std::endl;
  EXPECT_GT(acked_during_fault, 50u);
  EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged pushes missing from InfluxDB, e.g. "
                            << lost.front() << "\n"
                            << influx.log();
}

class InfluxDbFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(influx_.Start().ok()) << influx_.log();
    ASSERT_TRUE(influx_.Query("CREATE DATABASE faults", "POST").ok()) << influx_.log();
  }
  InfluxDbServer influx_;
};

TEST_F(InfluxDbFaultTest, PushesAcknowledgedWhileInfluxDbIsDownAllArrive) {
  Pushgate pushgate(PushgateOptions{influx_.url("/write?db=faults"), {}, {}});
  SeqPusher pusher(pushgate.front_url(), 4);
  absl::SleepFor(absl::Milliseconds(700));
  const size_t acked_before_outage = pusher.acked().size();
  influx_.Stop();
  absl::SleepFor(absl::Seconds(2));
  const size_t acked_while_down = pusher.acked().size();
  // The front keeps accepting while the backend is down: the spool holds the pushes.
  EXPECT_GT(acked_while_down, acked_before_outage) << "no push was accepted during the outage";
  ASSERT_TRUE(influx_.Start().ok()) << influx_.log();
  absl::SleepFor(absl::Milliseconds(500));
  pusher.Stop();
  ExpectAllStored("influxdb-outage", pusher, influx_, acked_while_down);
}

TEST_F(InfluxDbFaultTest, AggregatorKilledMidStreamLosesNothingInInfluxDb) {
  Pushgate pushgate(PushgateOptions{influx_.url("/write?db=faults"), {}, {}});
  SeqPusher pusher(pushgate.front_url(), 4);
  absl::SleepFor(absl::Seconds(1));
  // InfluxDB goes away just before the kill: pushes acknowledged after that can only be in the
  // spool when the aggregator dies, so the restarted one must replay them.
  influx_.Stop();
  const size_t acked_at_outage = pusher.acked().size();
  absl::SleepFor(absl::Milliseconds(300));
  const size_t acked_before_kill = pusher.acked().size();
  pushgate.RestartAggregator();  // SIGKILL, then start again on the same spool
  ASSERT_TRUE(influx_.Start().ok()) << influx_.log();
  EXPECT_GT(acked_before_kill, acked_at_outage) << "the kill found nothing to replay";
  absl::SleepFor(absl::Seconds(1.5));
  pusher.Stop();
  EXPECT_GT(pusher.acked().size(), acked_before_kill) << "no push was accepted after restart";
  ExpectAllStored("kill-9-aggregator-influxdb", pusher, influx_, acked_before_kill);
}

}  // namespace
}  // namespace pushgate
