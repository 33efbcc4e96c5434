// Fault tests of the promise "a push answered 200 reaches the backend": the aggregator is
// killed with SIGKILL mid-stream, the backend goes away for a while, and the spool's tail is
// damaged. Every push carries a unique `seq` label; the test counts what the backend got.
// Duplicates are allowed (a crash replays unreleased pushes) and reported; losses fail.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/line_protocol/line_protocol.h"
#include "tests/fault/seq_pusher.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

using ::pushgate::testing::HttpRequestTo;
using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;
using ::pushgate::testing::SeqPusher;
using ::pushgate::testing::UploadReceiver;

// seq -> times the backend received it.
std::map<int, int> ReceivedSeqs(UploadReceiver& receiver) {
  std::map<int, int> seqs;
  auto points = ParseLineProtocol(receiver.Received());
  EXPECT_TRUE(points.ok()) << points.status();
  if (!points.ok()) return seqs;
  for (const Point& point : *points) {
    for (const auto& [key, value] : point.tags) {
      if (key == "seq") ++seqs[std::stoi(value)];
    }
  }
  return seqs;
}

// Waits until every acked seq arrived (or a timeout), then reports and checks the figures.
void ExpectNoLoss(const std::string& scenario, SeqPusher& pusher, UploadReceiver& receiver) {
  std::set<int> acked = pusher.acked();
  std::map<int, int> received;
  std::vector<int> lost;
  for (int i = 0; i < 300; ++i) {
    received = ReceivedSeqs(receiver);
    lost.clear();
    for (int seq : acked) {
      if (!received.count(seq)) lost.push_back(seq);
    }
    if (lost.empty()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  int delivered = 0, duplicates = 0;
  for (const auto& [seq, count] : received) {
    delivered += count;
    duplicates += count - 1;
  }
  // The figures the issue asks for; CI logs keep them.
  std::cout << "FAULT " << scenario << ": pushes_acked=" << acked.size()
            << " pushes_refused=" << pusher.refused() << " points_delivered=" << delivered
            << " duplicates=" << duplicates << " losses=" << lost.size()
            << " refusals: " << pusher.RefusalSummary() << std::endl;
  EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged pushes never arrived, first seq "
                            << lost.front();
}

// Expects the aggregator's metrics to report `bytes` of damaged spool bytes found at start.
void ExpectSpoolCorruptBytes(Pushgate& pushgate, int bytes) {
  auto metrics = HttpRequestTo("GET", pushgate.aggregator_metrics_url());
  EXPECT_NE(metrics.body.find(
                absl::StrCat("pushgate_aggregator_spool_corrupt_bytes_total ", bytes, "\n")),
            std::string::npos)
      << metrics.body;
}

std::string LastSegment(const std::string& spool_dir) {
  std::string last;
  DIR* dir = opendir(spool_dir.c_str());
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".wal" && name > last) last = name;
  }
  closedir(dir);
  return last.empty() ? "" : spool_dir + "/" + last;
}

TEST(DurabilityTest, AggregatorKilledMidStreamLosesNoAcknowledgedPush) {
  UploadReceiver receiver;
  Pushgate pushgate(PushgateOptions{receiver.url()});
  SeqPusher pusher(pushgate.front_url(), 4);
  absl::SleepFor(absl::Seconds(1));
  // The backend goes away just before the kill, so that the kill finds acknowledged pushes
  // that were spooled but not delivered: only the spool's replay can bring those back.
  receiver.Pause();
  absl::SleepFor(absl::Milliseconds(300));
  const std::set<int> acked_at_kill = pusher.acked();
  const std::map<int, int> received_at_kill = ReceivedSeqs(receiver);
  pushgate.RestartAggregator();  // SIGKILL, then start again on the same spool and ports
  receiver.Resume();
  absl::SleepFor(absl::Seconds(1.5));
  pusher.Stop();
  const size_t acked_before_kill = acked_at_kill.size();
  size_t undelivered_at_kill = 0;
  for (int seq : acked_at_kill) undelivered_at_kill += received_at_kill.count(seq) == 0;
  std::cout << "FAULT kill-9-aggregator: acknowledged but not delivered at the kill: "
            << undelivered_at_kill << std::endl;
  EXPECT_GT(undelivered_at_kill, 0u) << "the kill found nothing to replay";
  EXPECT_GT(acked_before_kill, 20u);
  EXPECT_GT(pusher.acked().size(), acked_before_kill) << "no push was accepted after restart";
  ExpectNoLoss("kill-9-aggregator", pusher, receiver);
}

// Whether the spool's last segment is a released one reused: its records ended by 20 zero
// bytes, with the old records after them.
bool EndsInAReusedSegment(const std::string& spool_dir) {
  const std::string segment = LastSegment(spool_dir);
  const int fd = segment.empty() ? -1 : open(segment.c_str(), O_RDONLY);
  if (fd < 0) return false;
  std::string content(static_cast<size_t>(lseek(fd, 0, SEEK_END)), '\0');
  const bool read =
      pread(fd, content.data(), content.size(), 0) == static_cast<ssize_t>(content.size());
  close(fd);
  const size_t end_mark = content.find(std::string(20, '\0'));
  return read && end_mark != std::string::npos &&
         content.find_first_not_of('\0', end_mark) != std::string::npos;
}

// Small segments, delivered as they fill, so that the spool writes into released segments
// reused without zeroing: after a SIGKILL the old records in the active one are neither
// replayed nor reported as damage, and every acknowledged push arrives.
TEST(DurabilityTest, AggregatorKilledWhileWritingIntoAReusedSegmentLosesNoAcknowledgedPush) {
  UploadReceiver receiver;
  Pushgate pushgate(PushgateOptions{
      receiver.url(), {}, {"--spool_segment_bytes=65536", "--spool_prefill_bytes=16384"}});
  const std::string spool_dir = pushgate.data_dir() + "/spool";
  SeqPusher pusher(pushgate.front_url(), 0);
  // One push at a time, so that no roll comes between the check and the kill.
  bool reused = false;
  for (int i = 0; i < 20000 && !reused; ++i) {
    pusher.Push(0);
    if (i % 20 == 19) reused = EndsInAReusedSegment(spool_dir);
  }
  ASSERT_TRUE(reused) << "no segment was reused after " << pusher.acked().size() << " pushes";
  receiver.Pause();
  pushgate.aggregator().Stop(SIGKILL);
  ASSERT_TRUE(EndsInAReusedSegment(spool_dir));

  receiver.Resume();
  pushgate.RestartAggregator();
  ExpectNoLoss("kill-9-reused-segment", pusher, receiver);
  ExpectSpoolCorruptBytes(pushgate, 0);
}

TEST(DurabilityTest, BackendOutageLosesNoAcknowledgedPush) {
  UploadReceiver receiver;
  Pushgate pushgate(PushgateOptions{receiver.url()});
  SeqPusher pusher(pushgate.front_url(), 4);
  absl::SleepFor(absl::Milliseconds(500));
  const size_t acked_before_outage = pusher.acked().size();
  receiver.Pause();
  absl::SleepFor(absl::Seconds(1.5));
  const size_t acked_during_outage = pusher.acked().size();
  EXPECT_GT(acked_during_outage, acked_before_outage) << "no push was accepted during the outage";
  receiver.Resume();
  absl::SleepFor(absl::Milliseconds(500));
  pusher.Stop();
  EXPECT_GT(acked_during_outage, 20u);
  ExpectNoLoss("backend-outage", pusher, receiver);
}

TEST(DurabilityTest, CorruptSpoolTailKeepsEveryCompleteRecord) {
  UploadReceiver receiver;
  receiver.Pause();  // Nothing leaves the spool, so everything is in it when we damage it.
  Pushgate pushgate(PushgateOptions{receiver.url()});
  SeqPusher pusher(pushgate.front_url(), 0);
  for (int i = 0; i < 200; ++i) pusher.Push(0);
  ASSERT_EQ(pusher.acked().size(), 200u);
  pushgate.aggregator().Stop(SIGKILL);

  // A torn write: half a record's worth of garbage right after the last complete record,
  // which is where the zeros prefilled after the records begin (a record ends with its push's
  // sequence, a varint that is not 0, so its last byte is not a zero).
  std::string segment = LastSegment(pushgate.data_dir() + "/spool");
  ASSERT_FALSE(segment.empty());
  int fd = open(segment.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::string content(static_cast<size_t>(lseek(fd, 0, SEEK_END)), '\0');
  ASSERT_EQ(pread(fd, content.data(), content.size(), 0), static_cast<ssize_t>(content.size()));
  const size_t records_end = content.find_last_not_of('\0') + 1;
  std::string garbage(37, '\x5a');
  ASSERT_EQ(pwrite(fd, garbage.data(), garbage.size(), static_cast<off_t>(records_end)),
            static_cast<ssize_t>(garbage.size()));
  close(fd);

  receiver.Resume();
  pushgate.RestartAggregator();
  ExpectNoLoss("corrupt-spool-tail", pusher, receiver);
  // The damage was seen and reported, not silently read as data.
  ExpectSpoolCorruptBytes(pushgate, 37);
  // New pushes after recovery are stored and delivered too, once the front has reconnected
  // (a client retries after the 503s it gets meanwhile).
  for (int i = 0; i < 100; ++i) {
    if (HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/probe", "probe 1\n").status ==
        200) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (int i = 0; i < 20; ++i) pusher.Push(0);
  EXPECT_EQ(pusher.acked().size(), 220u);
  ExpectNoLoss("after-recovery", pusher, receiver);
}

TEST(DurabilityTest, FullSpoolRefusesNewPushesAndKeepsTheOldOnes) {
  UploadReceiver receiver;
  receiver.Pause();  // The backend is down, so the spool only fills.
  Pushgate pushgate(PushgateOptions{receiver.url(), {}, {"--spool_max_bytes=20000"}});
  SeqPusher pusher(pushgate.front_url(), 0);
  // A push that could never fit is a client error, not a reason to retry.
  std::string huge;
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&huge, "fault_huge{i=\"", i, "\"} 1\n");
  auto too_large =
      HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/fault/instance/huge", huge);
  EXPECT_EQ(too_large.status, 400);
  EXPECT_NE(too_large.body.find("too large"), std::string::npos) << too_large.body;
  int first_refusal = -1;
  for (int i = 0; i < 1000 && first_refusal < 0; ++i) {
    auto result = HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/fault/instance/full",
                                absl::StrCat("fault_fill{fill=\"", i, "\"} ", i, "\n"));
    if (result.status == 503) {
      first_refusal = i;
      EXPECT_NE(result.headers.find("Retry-After:"), std::string::npos) << result.headers;
      EXPECT_NE(result.body.find("spool is full"), std::string::npos) << result.body;
    } else {
      ASSERT_EQ(result.status, 200) << result.body;
    }
  }
  ASSERT_GT(first_refusal, 10) << "the spool should hold some pushes before refusing";
  std::cout << "FAULT spool-full: " << first_refusal << " pushes acknowledged before the first 503"
            << std::endl;

  // Once the backend is back the spool drains and pushes are accepted again; everything
  // acknowledged, before and after, arrives.
  receiver.Resume();
  bool accepted = false;
  for (int i = 0; i < 100 && !accepted; ++i) {
    accepted = HttpRequestTo("PUT", pushgate.front_url() + "/metrics/job/fault/instance/full",
                             "fault_after_resume 1\n")
                   .status == 200;
    if (!accepted) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(accepted);
  for (int i = 0; i < 20; ++i) pusher.Push(0);
  ExpectNoLoss("spool-full", pusher, receiver);
  std::string received = receiver.Received();
  for (int i = 0; i < first_refusal; ++i) {
    EXPECT_NE(received.find(absl::StrCat("fill=", i, " ")), std::string::npos) << i;
  }
}

}  // namespace
}  // namespace pushgate
