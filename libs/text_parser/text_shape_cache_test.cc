#include "libs/text_parser/text_shape_cache.h"

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/text_parser/text_parser.h"

namespace pushgate {
namespace {

// A push like a service's: counters, a gauge and a histogram, with these values.
std::string ServiceBody(double requests, double errors, double in_flight, double bucket,
                        absl::string_view metric = "http_requests_total") {
  return absl::StrCat(
      "# HELP ", metric, " Requests served.\n# TYPE ", metric, " counter\n", metric,
      "{code=\"200\",method=\"GET\"} ", requests, "\n", metric, "{code=\"500\",method=\"GET\"} ",
      errors, "\n# TYPE in_flight gauge\nin_flight ", in_flight,
      "\n# TYPE latency_seconds histogram\nlatency_seconds_bucket{le=\"0.1\"} ", bucket,
      "\nlatency_seconds_bucket{le=\"+Inf\"} ", bucket + 1, "\nlatency_seconds_sum ", bucket * 0.05,
      "\nlatency_seconds_count ", bucket + 1, "\n");
}

// Parses `body` through `cache` and checks it against ParseTextToWire.
void ExpectSameAsParser(TextShapeCache* cache, absl::string_view group, absl::string_view body) {
  std::string direct = "head";
  std::string cached = "head";
  size_t direct_series = 0;
  size_t cached_series = 0;
  const absl::Status direct_status = ParseTextToWire(body, {}, &direct, &direct_series);
  EXPECT_EQ(cache->ParseToWire(group, body, &cached, &cached_series), direct_status);
  EXPECT_TRUE(cached == direct) << "the wire bytes differ for " << group << ":\n" << body;
  EXPECT_EQ(cached_series, direct_series);
}

TEST(TextShapeCacheTest, AGroupsLaterPushesAreWrittenFromItsShape) {
  TextShapeCache cache({}, 1 << 20);
  // The first push is parsed; the second is parsed and its shape made.
  ExpectSameAsParser(&cache, "job/a", ServiceBody(10, 1, 3, 7));
  ExpectSameAsParser(&cache, "job/a", ServiceBody(11, 1, 4, 8));
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_EQ(cache.stats().misses, 2u);
  EXPECT_EQ(cache.stats().shapes, 1u);
  // Then new values, NaN and infinities included, come from the shape.
  ExpectSameAsParser(&cache, "job/a", ServiceBody(12, 2, 5, 9));
  ExpectSameAsParser(&cache, "job/a", ServiceBody(1e300, 2.5e-9, -1, 123456789));
  ExpectSameAsParser(&cache, "job/a",
                     ServiceBody(std::numeric_limits<double>::quiet_NaN(), 0.5,
                                 std::numeric_limits<double>::infinity(), 3));
  EXPECT_EQ(cache.stats().hits, 3u);
  EXPECT_EQ(cache.stats().misses, 2u);
}

TEST(TextShapeCacheTest, AValueThatBecomesZeroIsParsedAndTheShapeRemade) {
  // A histogram's 0 count is left out of the encoding, so 0 changes the layout.
  TextShapeCache cache({}, 1 << 20);
  ExpectSameAsParser(&cache, "job/a", ServiceBody(10, 1, 3, 7));
  ExpectSameAsParser(&cache, "job/a", ServiceBody(10, 1, 3, 7));
  ExpectSameAsParser(&cache, "job/a", ServiceBody(10, 1, 3, 0));
  EXPECT_EQ(cache.stats().hits, 0u);
  ExpectSameAsParser(&cache, "job/a", ServiceBody(10, 1, 3, 0));
  ExpectSameAsParser(&cache, "job/a", ServiceBody(20, 0, 0, 0));  // value series: any value
  EXPECT_EQ(cache.stats().hits, 2u);
  EXPECT_EQ(cache.stats().shapes, 1u);
}

TEST(TextShapeCacheTest, GroupsPushingTheSameMetricsShareOneShape) {
  TextShapeCache cache({}, 1 << 20);
  ExpectSameAsParser(&cache, "job/svc/instance/0", ServiceBody(1, 1, 1, 1));
  ExpectSameAsParser(&cache, "job/svc/instance/0", ServiceBody(2, 1, 1, 1));
  // Other groups' pushes are written from that shape from their first push on; a group is
  // kept with it from its second (one that comes once takes no room).
  for (int i = 1; i <= 50; ++i) {
    ExpectSameAsParser(&cache, absl::StrCat("job/svc/instance/", i), ServiceBody(i, 2, 3, i));
  }
  EXPECT_EQ(cache.stats().hits, 50u);
  EXPECT_EQ(cache.stats().groups, 1u);
  for (int i = 1; i <= 50; ++i) {
    ExpectSameAsParser(&cache, absl::StrCat("job/svc/instance/", i), ServiceBody(i, 3, 4, i));
  }
  const TextShapeCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.hits, 100u);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.groups, 51u);
  EXPECT_EQ(stats.shapes, 1u);
}

TEST(TextShapeCacheTest, GroupsOfTwoServicesInTurnShareTwoShapes) {
  // Each group's push is tried against the shape used last, which here is mostly the other
  // service's: the shapes made then are found to be those already kept, and shared.
  TextShapeCache cache({}, 16 << 20);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      const std::string metric = i % 2 ? "api_requests_total" : "worker_jobs_total";
      ExpectSameAsParser(&cache, absl::StrCat("job/svc/instance/", i),
                         ServiceBody(round * 10 + i, 1, i, 3, metric));
    }
  }
  const TextShapeCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.groups, 100u);
  EXPECT_EQ(stats.shapes, 2u);
  EXPECT_EQ(stats.hits, 100u);  // every group's third push
  EXPECT_LT(stats.bytes, 64u << 10);
}

TEST(TextShapeCacheTest, AChangedTextIsParsedAndItsShapeMade) {
  TextShapeCache cache({}, 1 << 20);
  ExpectSameAsParser(&cache, "job/a", ServiceBody(1, 1, 1, 1));
  ExpectSameAsParser(&cache, "job/a", ServiceBody(1, 1, 1, 1));
  // A label value, a name, a line more: parsed, and the group's shape replaced.
  ExpectSameAsParser(&cache, "job/a", ServiceBody(1, 1, 1, 1, "http_requests"));
  ExpectSameAsParser(&cache, "job/a", ServiceBody(2, 1, 1, 1, "http_requests"));
  ExpectSameAsParser(&cache, "job/a", ServiceBody(3, 1, 1, 1, "http_requests") + "extra 1\n");
  ExpectSameAsParser(&cache, "job/a", ServiceBody(4, 1, 1, 1, "http_requests") + "extra 2\n");
  const TextShapeCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.hits, 2u);    // the second push of each new text
  EXPECT_EQ(stats.shapes, 1u);  // the group's earlier shapes are let go
}

TEST(TextShapeCacheTest, ErrorsAreTheParsersAndLeaveTheOutputAlone) {
  TextShapeCache cache({}, 1 << 20);
  ExpectSameAsParser(&cache, "job/a", ServiceBody(1, 1, 1, 1));
  ExpectSameAsParser(&cache, "job/a", ServiceBody(2, 1, 1, 1));
  std::string body = ServiceBody(3, 1, 1, 1);
  body.replace(body.find("} 3"), 3, "} three");
  ExpectSameAsParser(&cache, "job/a", body);
  ExpectSameAsParser(&cache, "job/a", body.substr(0, body.size() / 2));
  ExpectSameAsParser(&cache, "job/a", "");
  EXPECT_EQ(cache.stats().hits, 0u);
}

TEST(TextShapeCacheTest, LimitsApplyAsInTheParser) {
  TextParserLimits limits;
  limits.max_series = 3;
  TextShapeCache cache(limits, 1 << 20);
  std::string direct;
  const absl::Status expected = ParseTextToWire(ServiceBody(1, 1, 1, 1), limits, &direct);
  ASSERT_FALSE(expected.ok());
  for (int i = 0; i < 3; ++i) {
    std::string cached;
    EXPECT_EQ(cache.ParseToWire("job/a", ServiceBody(1, 1, 1, 1), &cached), expected);
    EXPECT_EQ(cached, "");
  }
}

TEST(TextShapeCacheTest, StaysWithinItsBytesAndLetsFewNewShapesInOnceFull) {
  // Every group its own metric names, so its own shape, of about 2 KB.
  constexpr size_t kMaxBytes = 64 << 10;
  TextShapeCache cache({}, kMaxBytes);
  const auto push = [&](int group, int round) {
    ExpectSameAsParser(&cache, absl::StrCat("job/", group),
                       ServiceBody(round, 1, 1, 1, absl::StrCat("requests_", group, "_total")));
  };
  for (int group = 0; group < 100; ++group) {
    push(group, 0);
    push(group, 1);
    EXPECT_LE(cache.stats().bytes, kMaxBytes);
  }
  const TextShapeCache::Stats full = cache.stats();
  EXPECT_GT(full.evictions, 0u);
  EXPECT_GT(full.shapes, 10u);
  // Full, each new shape pushes out another: only one in 16 is made.
  for (int group = 100; group < 260; ++group) {
    push(group, 0);
    push(group, 1);
  }
  const TextShapeCache::Stats later = cache.stats();
  // (Letting every one in would push out 160 groups; one in 16 about 10, plus those let in
  // whenever an eviction happened to leave room for a whole shape.)
  EXPECT_LE(later.evictions - full.evictions, 160u / 4);
  EXPECT_LE(later.bytes, kMaxBytes);
  // The groups kept are still written from their shapes (but for those pushed out meanwhile
  // by the one in 16 new shapes of the groups not kept).
  const uint64_t hits = later.hits;
  for (int group = 0; group < 260; ++group) push(group, 2);
  EXPECT_GE(cache.stats().hits - hits, later.groups / 2);
}

TEST(TextShapeCacheTest, ABodyTooLargeToKeepAShapeOfIsParsed) {
  // A shape may take a sixteenth of the cache, and holds about 2.5 times its body.
  const std::string body = ServiceBody(1, 1, 1, 1);
  TextShapeCache small(TextParserLimits{}, body.size() * 16 * 2);
  TextShapeCache large(TextParserLimits{}, body.size() * 16 * 4);
  for (int i = 0; i < 3; ++i) {
    ExpectSameAsParser(&small, "job/a", ServiceBody(i, 1, 1, 1));
    ExpectSameAsParser(&large, "job/a", ServiceBody(i, 1, 1, 1));
  }
  EXPECT_EQ(small.stats().hits, 0u);
  EXPECT_EQ(small.stats().bytes, 0u);
  EXPECT_EQ(large.stats().hits, 1u);
}

TEST(TextShapeCacheTest, ZeroBytesKeepsNothing) {
  TextShapeCache cache({}, 0);
  for (int i = 0; i < 4; ++i) ExpectSameAsParser(&cache, "job/a", ServiceBody(i, 1, 1, 1));
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(TextShapeCacheTest, ThreadsShareTheCache) {
  TextShapeCache cache({}, 256 << 10);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      std::mt19937 random(t);
      for (int i = 0; i < 500; ++i) {
        const int group = static_cast<int>(random() % 40);
        // Half the groups have a shape of their own.
        const std::string metric =
            group % 2 ? absl::StrCat("requests_", group, "_total") : "requests_total";
        ExpectSameAsParser(&cache, absl::StrCat("job/", group),
                           ServiceBody(random() % 1000, random() % 3, 1, 1 + random() % 9, metric));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_GT(cache.stats().hits, 1000u);
}

}  // namespace
}  // namespace pushgate
