// The front's limits and back-pressure, seen from a client: bodies and decompressed bodies
// over their limits get 413 without the front's memory following the claimed size, unknown
// encodings 415, per-push limits 400 naming the limit (the aggregator's limit on what a push
// converts to among them), many large uploads at once and a stalled aggregator 503 with
// Retry-After instead of an unbounded queue.
#include <signal.h>
#include <sys/socket.h>
#include <zlib.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"
#include "tests/harness/raw_client.h"

namespace pushgate {
namespace {

using ::pushgate::testing::HttpRequestTo;
using ::pushgate::testing::HttpResult;
using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;
using ::pushgate::testing::UploadReceiver;
using ::testing::HasSubstr;

// gzip of `zeros` zero bytes, compressed in chunks so the test never holds them.
std::string GzipOfZeros(size_t zeros) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  const std::string chunk(1 << 20, '\0');
  std::string out;
  char buffer[1 << 16];
  for (size_t done = 0; done < zeros; done += chunk.size()) {
    const bool last = done + chunk.size() >= zeros;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
    z.avail_in = static_cast<uInt>(std::min(chunk.size(), zeros - done));
    do {
      z.next_out = reinterpret_cast<Bytef*>(buffer);
      z.avail_out = sizeof(buffer);
      deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
      out.append(buffer, sizeof(buffer) - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

// Peak resident memory of a process (VmHWM), in bytes.
size_t PeakRss(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      size_t kb = 0;
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kb)) return kb * 1024;
    }
  }
  return 0;
}

class FrontLimitsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> front_flags) {
    pushgate_ =
        std::make_unique<Pushgate>(PushgateOptions{receiver_.url(), std::move(front_flags), {}});
  }
  HttpResult Put(const std::string& body, std::vector<std::string> headers = {}) {
    return HttpRequestTo("PUT", pushgate_->front_url() + "/metrics/job/limits", body, headers);
  }
  // The value of an unlabelled series on the front's /metrics; -1 when it is not there.
  double FrontMetric(absl::string_view name) {
    const std::string metrics = HttpRequestTo("GET", pushgate_->front_url() + "/metrics", "").body;
    for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
      double value;
      if (absl::ConsumePrefix(&line, name) && absl::ConsumePrefix(&line, " ") &&
          absl::SimpleAtod(line, &value)) {
        return value;
      }
    }
    return -1;
  }
  UploadReceiver receiver_;
  std::unique_ptr<Pushgate> pushgate_;
};

TEST_F(FrontLimitsTest, GzipBombOfOneGibibyteIs413AndMemoryStaysSmall) {
  Start({});
  const std::string bomb = GzipOfZeros(size_t{1} << 30);
  ASSERT_LT(bomb.size(), 2u << 20);  // about 1 MiB on the wire
  HttpResult result = Put(bomb, {"Content-Encoding: gzip"});
  EXPECT_EQ(result.status, 413);
  EXPECT_THAT(result.body, HasSubstr("exceeds"));
  const size_t peak = PeakRss(pushgate_->front_pid());
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, 100u << 20) << "front peak RSS " << (peak >> 20) << " MiB";
  std::cout << "front peak RSS after a 1 GiB gzip bomb: " << (peak >> 20) << " MiB" << std::endl;
}

TEST_F(FrontLimitsTest, SizesEncodingsAndPerPushLimitsGetClearErrors) {
  Start({"--max_body_bytes=1000", "--max_decompressed_bytes=2000", "--max_labels_per_series=2",
         "--max_series_per_push=3", "--max_label_value_length=10", "--max_samples_per_push=5"});
  // Exactly at every limit is accepted (a comment line pads the body to 1000 bytes).
  std::string at_body = "# " + std::string(1000 - 2 - 1 - 7, 'x') + "\nat_b 1\n";
  ASSERT_EQ(at_body.size(), 1000u);
  EXPECT_EQ(Put(at_body).status, 200);
  EXPECT_EQ(Put(GzipOfZeros(2000), {"Content-Encoding: gzip"}).status, 400);  // not 413
  EXPECT_EQ(Put("at_l{a=\"1\",b=\"2\"} 1\n").status, 200);
  EXPECT_EQ(Put("at_s1 1\nat_s2 1\nat_s3 1\n").status, 200);
  EXPECT_EQ(Put("at_v{a=\"1234567890\"} 1\n").status, 200);
  EXPECT_EQ(Put("# TYPE at_h histogram\nat_h_bucket{le=\"1\"} 1\nat_h_bucket{le=\"+Inf\"} 1\n"
                "at_h_sum 1\nat_h_count 1\nat_g 1\n")
                .status,
            200);
  // One series of six samples: over the sample limit, within the series limit.
  HttpResult samples =
      Put("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 1\n"
          "h_bucket{le=\"3\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n");
  EXPECT_EQ(samples.status, 400);
  EXPECT_THAT(samples.body, HasSubstr("max_samples_per_push"));
  // One byte, label, series or sample over each is refused.
  EXPECT_EQ(Put(std::string(1001, '#')).status, 413);
  // Answered by the HTTP layer before the push handler, and still counted as a push.
  EXPECT_THAT(HttpRequestTo("GET", pushgate_->front_url() + "/metrics", "").body,
              HasSubstr("pushgate_front_requests_total{route=\"push\",method=\"PUT\","
                        "code=\"413\"} 1\n"));
  HttpResult inflated = Put(GzipOfZeros(2001), {"Content-Encoding: gzip"});
  EXPECT_EQ(inflated.status, 413);
  EXPECT_THAT(inflated.body, HasSubstr("2000"));
  HttpResult brotli = Put("x 1\n", {"Content-Encoding: br"});
  EXPECT_EQ(brotli.status, 415);
  EXPECT_THAT(brotli.body, HasSubstr("br"));

  HttpResult labels = Put("m{a=\"1\",b=\"2\",c=\"3\"} 1\n");
  EXPECT_EQ(labels.status, 400);
  EXPECT_THAT(labels.body, HasSubstr("max_labels_per_series"));
  HttpResult series = Put("a 1\nb 1\nc 1\nd 1\n");
  EXPECT_EQ(series.status, 400);
  EXPECT_THAT(series.body, HasSubstr("max_series"));
  HttpResult value = Put("m{a=\"12345678901\"} 1\n");
  EXPECT_EQ(value.status, 400);
  EXPECT_THAT(value.body, HasSubstr("max_label_value_length"));
  // Each error is one line of text.
  for (const HttpResult* r : {&inflated, &brotli, &labels, &series, &value}) {
    EXPECT_EQ(std::count(r->body.begin(), r->body.end(), '\n'), 1) << r->body;
  }
  EXPECT_EQ(Put("a 1\nb 2\n").status, 200);
  // What was accepted at the limits was delivered, not only answered 200.
  for (const char* field : {"at_b=1", "at_l=1", "at_s3=1", "at_v=1", "at_h_count=1", "at_g=1"}) {
    bool arrived = false;
    for (int i = 0; i < 100 && !arrived; ++i) {
      arrived = absl::StrContains(receiver_.Received(), field);
      if (!arrived) absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_TRUE(arrived) << field << " never reached the backend";
  }
}

// Gzip of `text`.
std::string Gzip(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(&out[0]);
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Within every front limit, a push can still expand: an info series' labels (here 1 MiB)
// tag every point of the push (2,000 counters), which would be 2 GB of line protocol from
// a body of a few kilobytes gzip'd. The aggregator refuses it before storing it, where it
// would be converted again after every restart, and its memory does not follow.
TEST_F(FrontLimitsTest, PushThatWouldExpandToGigabytesIs400AndTheAggregatorStaysSmall) {
  Start({});
  std::string body = "# TYPE build info\nbuild_info{";
  for (int i = 0; i < 64; ++i) {
    absl::StrAppend(&body, i == 0 ? "" : ",", "l", i, "=\"", std::string(16000, 'v'), "\"");
  }
  absl::StrAppend(&body, "} 1\n# TYPE c counter\n");
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&body, "c{n=\"", i, "\"} 1\n");
  const std::string gzipped = Gzip(body);
  ASSERT_LT(gzipped.size(), 64u << 10);
  HttpResult result = Put(gzipped, {"Content-Encoding: gzip"});
  EXPECT_EQ(result.status, 400);
  EXPECT_THAT(result.body, HasSubstr("--max_converted_bytes_per_push"));
  EXPECT_EQ(std::count(result.body.begin(), result.body.end(), '\n'), 1) << result.body;

  EXPECT_EQ(Put("after 1\n").status, 200);
  bool arrived = false;
  for (int i = 0; i < 100 && !arrived; ++i) {
    arrived = absl::StrContains(receiver_.Received(), "after=1");
    if (!arrived) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(arrived) << "the push after the refused one never reached the backend";
  // None of the refused push's points (each would carry the info label l0) was delivered.
  EXPECT_THAT(receiver_.Received(), ::testing::Not(HasSubstr("l0=")));
  const size_t peak = PeakRss(pushgate_->aggregator().pid());
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, 200u << 20) << "aggregator peak RSS " << (peak >> 20) << " MiB";
}

// Many clients uploading large pushes at once: what the front holds of their bodies is bounded
// by --max_receiving_bytes. Those that do not fit get 503 with Retry-After before their body
// is read (it is read and dropped), and the one let in is taken whole.
TEST_F(FrontLimitsTest, ManyLargeUploadsAtOnceAre503AndTheFrontStaysSmall) {
  Start({"--max_receiving_bytes=16777216"});
  const int port = std::stoi(pushgate_->front_url().substr(pushgate_->front_url().rfind(':') + 1));
  constexpr size_t kBody = 12 << 20;
  std::string body = "# " + std::string(kBody - 2 - 1 - 5, 'x') + "\nok 1\n";
  ASSERT_EQ(body.size(), kBody);
  const std::string header = absl::StrCat(
      "PUT /metrics/job/limits HTTP/1.1\r\nHost: t\r\nContent-Length: ", kBody, "\r\n");

  RawClient first(port);
  ASSERT_TRUE(first.SendAll(header + "\r\n"));
  ASSERT_TRUE(first.SendAll(absl::string_view(body).substr(0, kBody - (1 << 20))));
  // Once the front holds those 11 MiB, no other 12 MiB body fits beside them.
  bool holding = false;
  for (int i = 0; i < 500 && !holding; ++i) {
    holding = FrontMetric("pushgate_front_receiving_bytes") == kBody - (1 << 20);
    if (!holding) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(holding) << "the front never counted the first body's 11 MiB";
  // Twenty more, all but the last megabyte each: 220 MB the front would hold without the limit.
  std::vector<std::unique_ptr<RawClient>> others;
  for (int i = 0; i < 20; ++i) {
    others.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(others.back()->SendAll(header + "\r\n"));
    others.back()->SendAll(absl::string_view(body).substr(0, kBody - (1 << 20)));
  }
  const size_t peak = PeakRss(pushgate_->front_pid());
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, 100u << 20) << "front peak RSS " << (peak >> 20) << " MiB";
  std::cout << "front peak RSS with 21 uploads of 12 MiB at once: " << (peak >> 20) << " MiB"
            << std::endl;
  for (auto& other : others) {
    const std::string answer = other->ReadUntil("(--max_receiving_bytes)");
    EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 503"));
    EXPECT_THAT(answer, HasSubstr("Retry-After: 1"));
    EXPECT_THAT(answer, HasSubstr("its body, 12582912 bytes, does not fit beside the 11534336 "
                                  "bytes of other request bodies being received (the limit is "
                                  "16777216 bytes, --max_receiving_bytes)"));
  }
  ASSERT_TRUE(first.SendAll(absl::string_view(body).substr(kBody - (1 << 20))));
  EXPECT_THAT(first.ReadUntil("\r\n\r\n"), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(FrontMetric("pushgate_front_receiving_refused_total"), 20);
  EXPECT_EQ(FrontMetric("pushgate_front_receiving_bytes"), 0);
}

// Clients that open connections and never finish a header (a slow or hostile client, or just
// very many) each hold up to a header's worth of the front's memory. --max_connections bounds
// how many it holds: the rest wait in the listen queue, those stalled for a second are closed
// for them, and a push gets through as soon as connections close.
TEST_F(FrontLimitsTest, StalledHeadersBeyondMaxConnectionsWaitAndTheFrontStaysSmall) {
  Start({"--max_connections=64"});
  const int port = std::stoi(pushgate_->front_url().substr(pushgate_->front_url().rfind(':') + 1));
  const std::string partial_header =
      "PUT /metrics/job/limits HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(60 << 10, 'a');
  std::vector<std::unique_ptr<RawClient>> stalled;
  for (int i = 0; i < 1000; ++i) {
    stalled.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(stalled.back()->SendAll(partial_header));
  }
  // For the front to read what it accepted, and to close the first 64 for 64 waiting.
  absl::SleepFor(absl::Milliseconds(1500));
  const size_t peak = PeakRss(pushgate_->front_pid());
  std::cout << "front peak RSS with 1,000 stalled 60 KiB headers, 64 connections at most: "
            << (peak >> 20) << " MiB" << std::endl;
  // Without the limit these headers took it to 84 MiB.
  EXPECT_LT(peak, 45u << 20) << "front peak RSS " << (peak >> 20) << " MiB";
  stalled.clear();
  EXPECT_EQ(Put("ok 1\n").status, 200);
  EXPECT_EQ(FrontMetric("pushgate_front_max_connections"), 64);
  EXPECT_GE(FrontMetric("pushgate_front_connection_limit_reached_total"), 1);
  EXPECT_GE(FrontMetric("pushgate_front_connections_closed_for_room_total"), 64);
}

// --idle_timeout bounds how long a client may take over a request, however steadily it
// trickles the bytes (the connection limit only closes stalled ones for room).
TEST_F(FrontLimitsTest, IdleTimeoutClosesATricklingClient) {
  Start({"--idle_timeout=1s"});
  const int port = std::stoi(pushgate_->front_url().substr(pushgate_->front_url().rfind(':') + 1));
  RawClient trickling(port);
  const absl::Time start = absl::Now();
  trickling.Send("PUT /metrics/job/limits HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
  bool open = true;
  for (int i = 0; i < 100 && open; ++i) {  // a byte every 100 ms: 10 s for the body
    absl::SleepFor(absl::Milliseconds(100));
    open = send(trickling.fd(), "x", 1, MSG_NOSIGNAL) == 1;
  }
  EXPECT_EQ(trickling.ReadUntilClosed(), "");
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Seconds(1));
  EXPECT_LT(took, absl::Seconds(5)) << "the default would have been 120 s";
}

TEST_F(FrontLimitsTest, StalledAggregatorGets503WithRetryAfterNotAQueue) {
  Start({"--max_inflight_pushes=1", "--ack_timeout=2s"});
  kill(pushgate_->aggregator().pid(), SIGSTOP);  // alive but not answering
  std::thread first([&] {
    HttpResult r = Put("slow 1\n");
    // Never 200 for a push the aggregator did not acknowledge.
    EXPECT_EQ(r.status, 503);
  });
  // Until the first push holds the one slot (a fixed sleep could lose that race on a busy
  // machine, and the second push would then take the slot and wait out the ack timeout).
  bool holding = false;
  for (int i = 0; i < 100 && !holding; ++i) {
    holding = absl::StrContains(HttpRequestTo("GET", pushgate_->front_url() + "/metrics", "").body,
                                "\npushgate_front_inflight_pushes 1\n");
    if (!holding) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(holding) << "the first push never went in flight";
  absl::Time start = absl::Now();
  HttpResult second = Put("second 1\n");
  EXPECT_EQ(second.status, 503);
  EXPECT_THAT(second.headers, HasSubstr("Retry-After:"));
  EXPECT_THAT(second.body, HasSubstr("in flight"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "refused at once, not queued";
  first.join();
  kill(pushgate_->aggregator().pid(), SIGCONT);
  HttpResult later;
  for (int i = 0; i < 50 && later.status != 200; ++i) {
    later = Put("after 1\n");
    if (later.status != 200) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(later.status, 200) << later.body;
}

}  // namespace
}  // namespace pushgate
