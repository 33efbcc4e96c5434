#include "libs/remote_write/remote_write.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/remote_write.pb.h"

namespace pushgate {
namespace {

using pushgate::v1::PushRequest;

PushRequest ParsePush(const std::string& text) {
  PushRequest push;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &push));
  return push;
}

// AppendRemoteWrite, checking that what it wrote is exactly what protobuf's serializer writes
// for the WriteRequest it parses to (fields in order, zeros left out), from a message and from
// a view of its wire form alike.
size_t Append(const PushRequest& push, const RemoteWriteOptions& options, std::string* out) {
  const size_t start = out->size();
  const size_t samples = AppendRemoteWrite(push, options, out);
  const std::string written = out->substr(start);
  prometheus::WriteRequest request;
  EXPECT_TRUE(request.ParseFromString(written));
  EXPECT_EQ(request.SerializeAsString(), written);
  const std::string wire = push.SerializeAsString();
  PushView view;
  EXPECT_TRUE(view.Parse(wire).ok());
  std::string from_view;
  EXPECT_EQ(AppendRemoteWrite(view, options, &from_view), samples);
  EXPECT_EQ(from_view, written);
  return samples;
}

// "name{a=1,b=2} value@ts" per series, for readable assertions.
std::vector<std::string> Describe(const prometheus::WriteRequest& request) {
  std::vector<std::string> out;
  for (const auto& ts : request.timeseries()) {
    std::string s;
    for (const auto& label : ts.labels()) {
      if (label.name() == "__name__") {
        s = label.value() + "{" + s;
      } else {
        s += label.name() + "=" + label.value() + ",";
      }
    }
    s += "}";
    for (const auto& sample : ts.samples()) {
      s += " " + std::to_string(sample.value()) + "@" + std::to_string(sample.timestamp());
    }
    out.push_back(s);
  }
  return out;
}

TEST(RemoteWriteTest, KeepsPrometheusNamesAndSortedLabelsWithGroupingOverride) {
  PushRequest push = ParsePush(R"pb(
    grouping_key {
      job: "batch"
      labels { name: "instance" value: "i1" }
    }
    receive_time_ns: 5000000000
    families {
      name: "jobs_total"
      type: COUNTER
      series {
        labels { name: "zone" value: "eu" }
        labels { name: "instance" value: "from-sample" }
        labels { name: "empty" value: "" }
        value: 3
        timestamp_ms: 1234
      }
    }
    families {
      name: "rpc"
      type: SUMMARY
      series {
        summary {
          count: 4
          sum: 2.5
          quantiles { quantile: 0.5 value: 0.1 }
        }
      }
    }
    families {
      name: "lat"
      type: HISTOGRAM
      series {
        histogram {
          count: 2
          sum: 0.3
          buckets { upper_bound: 0.1 cumulative_count: 1 }
          buckets { upper_bound: inf cumulative_count: 2 }
        }
      }
    }
  )pb");
  std::string body;
  EXPECT_EQ(Append(push, {}, &body), 8);
  prometheus::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(body));
  EXPECT_THAT(Describe(request),
              ::testing::ElementsAre("jobs_total{instance=i1,job=batch,zone=eu,} 3.000000@1234",
                                     "rpc{instance=i1,job=batch,quantile=0.5,} 0.100000@5000",
                                     "rpc_sum{instance=i1,job=batch,} 2.500000@5000",
                                     "rpc_count{instance=i1,job=batch,} 4.000000@5000",
                                     "lat_bucket{instance=i1,job=batch,le=0.1,} 1.000000@5000",
                                     "lat_bucket{instance=i1,job=batch,le=+Inf,} 2.000000@5000",
                                     "lat_sum{instance=i1,job=batch,} 0.300000@5000",
                                     "lat_count{instance=i1,job=batch,} 2.000000@5000"));
  EXPECT_EQ(request.timeseries(0).labels(0).name(), "__name__");
}

// Remote write requires each series' labels sorted by name, __name__ included: upper-case
// names sort before it. A __name__ label inside the push is the metric's own name.
TEST(RemoteWriteTest, LabelsAreSortedWithTheNameAmongThem) {
  PushRequest push = ParsePush(R"pb(
    grouping_key { job: "j" }
    families {
      name: "up"
      type: GAUGE
      series {
        labels { name: "zone" value: "eu" }
        labels { name: "Host" value: "h1" }
        labels { name: "__name__" value: "other" }
        labels { name: "ZONE" value: "EU" }
        value: 1
      }
    }
  )pb");
  std::string body;
  ASSERT_EQ(Append(push, {}, &body), 1);
  prometheus::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(body));
  std::vector<std::string> labels;
  for (const auto& label : request.timeseries(0).labels()) {
    labels.push_back(label.name() + "=" + label.value());
  }
  EXPECT_THAT(labels,
              ::testing::ElementsAre("Host=h1", "ZONE=EU", "__name__=up", "job=j", "zone=eu"));
}

// Receivers refuse a series that names a label twice. A producer streaming to the aggregator
// may repeat one (in a series, or as a grouping label named job); each name is written once,
// the job first, then the grouping labels, the bucket's le, then the series' own in order.
TEST(RemoteWriteTest, EachLabelNameIsWrittenOnceByPrecedence) {
  PushRequest push = ParsePush(R"pb(
    grouping_key {
      job: "j"
      labels { name: "job" value: "from-the-url" }
      labels { name: "zone" value: "url" }
    }
    families {
      name: "h"
      type: HISTOGRAM
      series {
        labels { name: "zone" value: "series" }
        labels { name: "host" value: "first" }
        labels { name: "host" value: "second" }
        labels { name: "le" value: "own" }
        histogram {
          count: 1
          buckets { upper_bound: 1 cumulative_count: 1 }
        }
      }
    }
  )pb");
  std::string body;
  ASSERT_EQ(Append(push, {}, &body), 3);  // the bucket, _count and _sum
  prometheus::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(body));
  EXPECT_THAT(Describe(request)[0],
              ::testing::StartsWith("h_bucket{host=first,job=j,le=1,zone=url,}"));
  for (const auto& series : request.timeseries()) {
    std::set<std::string> names;
    for (const auto& label : series.labels()) {
      EXPECT_TRUE(names.insert(label.name()).second) << label.name() << " repeated";
    }
  }
}

TEST(RemoteWriteTest, TimestampsFollowHonorTimestampsAndNonFiniteValuesAreKept) {
  PushRequest push = ParsePush(R"pb(
    grouping_key { job: "j" }
    receive_time_ns: 7000000000
    families {
      name: "g"
      type: GAUGE
      series { value: nan timestamp_ms: 99 }
    }
  )pb");
  std::string body;
  RemoteWriteOptions options;
  options.honor_timestamps = false;
  Append(push, options, &body);
  prometheus::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(body));
  ASSERT_EQ(request.timeseries_size(), 1);
  EXPECT_TRUE(std::isnan(request.timeseries(0).samples(0).value()));
  EXPECT_EQ(request.timeseries(0).samples(0).timestamp(), 7000);
}

TEST(RemoteWriteTest, ConcatenatedPushesParseAsOneRequest) {
  std::string body;
  Append(ParsePush(R"pb(grouping_key { job: "a" }
                        families {
                          name: "x"
                          series { value: 1 }
                        })pb"),
         {}, &body);
  Append(ParsePush(R"pb(grouping_key { job: "b" }
                        families {
                          name: "y"
                          series { value: 2 }
                        })pb"),
         {}, &body);
  prometheus::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(body));
  EXPECT_EQ(request.timeseries_size(), 2);
}

}  // namespace
}  // namespace pushgate
