#include "libs/conversion/conversion.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "libs/line_protocol/line_protocol.h"
#include "libs/push_view/push_view.h"
#include "libs/remote_write/remote_write.h"
#include "proto/ingest.pb.h"

namespace pushgate {
namespace {

constexpr int64_t kReceiveTimeNs = 1800000000000000000;

// A push to /metrics/job/j (plus `grouping_labels`) received at kReceiveTimeNs, with the
// families given in text format.
v1::PushRequest Push(absl::string_view families_text, absl::string_view grouping_text = "") {
  v1::PushRequest push;
  const std::string text = absl::StrCat("grouping_key { job: \"j\" ", grouping_text, " } ",
                                        families_text, " receive_time_ns: ", kReceiveTimeNs);
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &push)) << text;
  return push;
}

struct Result {
  std::vector<Point> points;
  ConversionStats stats;
};

// Every test also runs the aggregator's entry point, ConvertPushToLineProtocol: it must
// append exactly the lines the encoder writes for ConvertPush's points, count them, and
// count the same dropped values.
Result Convert(const v1::PushRequest& push, const ConversionOptions& options = {}) {
  Result result;
  ConvertPush(push, options, &result.points, &result.stats);

  LineProtocolEncoder encoder;
  std::string expected_lines = "earlier\n";
  for (const Point& point : result.points) encoder.Append(point, &expected_lines);
  std::string lines = "earlier\n";
  ConversionStats stats;
  const size_t count = ConvertPushToLineProtocol(push, options, &encoder, &lines, &stats);
  EXPECT_EQ(lines, expected_lines);
  EXPECT_EQ(count, result.points.size());
  EXPECT_EQ(stats.dropped_non_finite, result.stats.dropped_non_finite);

  // The bound the aggregator checks before accepting a push holds what either upload format
  // makes of it.
  PushView view;
  view.Fill(push);
  const uint64_t bound = ConvertedBytesBound(view, options);
  EXPECT_GE(bound, lines.size() - absl::string_view("earlier\n").size());
  std::string remote_write;
  RemoteWriteOptions remote_write_options;
  remote_write_options.honor_timestamps = options.honor_timestamps;
  AppendRemoteWrite(push, remote_write_options, &remote_write);
  EXPECT_GE(bound, remote_write.size());

  // And the cache the aggregator puts in front of it: the first time from the points, the
  // second while making templates, the third from the templates (unless a value was
  // non-finite), every time the same lines.
  ConversionCache cache(1 << 20);
  for (int round = 0; round < 3; ++round) {
    std::string cached = "earlier\n";
    ConversionStats cached_stats;
    EXPECT_EQ(cache.Convert(view, options, &encoder, &cached, &cached_stats), result.points.size());
    EXPECT_EQ(cached, expected_lines) << "round " << round;
    EXPECT_EQ(cached_stats.dropped_non_finite, result.stats.dropped_non_finite);
  }
  EXPECT_EQ(cache.stats().hits, result.stats.dropped_non_finite == 0 ? 1u : 0u);
  return result;
}

// Checks `actual` against line-protocol lines where NOW stands for the receive time.
void ExpectPoints(const std::vector<Point>& actual, absl::string_view expected_lines) {
  absl::StatusOr<std::vector<Point>> expected = ParseLineProtocol(expected_lines);
  ASSERT_TRUE(expected.ok()) << expected.status();
  const absl::Status status = ComparePoints(*expected, actual, kReceiveTimeNs, kReceiveTimeNs);
  EXPECT_TRUE(status.ok()) << status.message();
}

ConversionOptions KeepFalse() {
  ConversionOptions options;
  options.naming.keep_exist_metric_name = false;
  return options;
}

TEST(ConvertPushTest, CounterGaugeUntypedGiveOnePointPerSeries) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "promhttp_metric_handler_errors_total"
      type: COUNTER
      series {
        labels { name: "cause" value: "encoding" }
        value: 0
      }
      series {
        labels { name: "cause" value: "gathering" }
        value: 2
      }
    }
    families {
      name: "go_goroutines"
      type: GAUGE
      series { value: 42.5 }
    }
    families {
      name: "up"
      type: UNTYPED
      series { value: 1 }
    }
  )pb");
  const Result result = Convert(push);
  ExpectPoints(result.points, R"(
promhttp,cause=encoding,job=j promhttp_metric_handler_errors_total=0 NOW
promhttp,cause=gathering,job=j promhttp_metric_handler_errors_total=2 NOW
go,job=j go_goroutines=42.5 NOW
up,job=j up=1 NOW
)");
  EXPECT_EQ(result.stats.dropped_non_finite, 0);
}

TEST(ConvertPushTest, KeepExistMetricNameFalseShortensFields) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "etcd_write_bytes_total"
      type: COUNTER
      series { value: 1 }
    }
    families {
      name: "rpc_latency_seconds"
      type: HISTOGRAM
      series {
        histogram {
          count: 1
          sum: 2
          buckets { upper_bound: inf cumulative_count: 1 }
        }
      }
    }
  )pb");
  ExpectPoints(Convert(push, KeepFalse()).points, R"(
etcd,job=j write_bytes_total=1 NOW
rpc,job=j latency_seconds_count=1,latency_seconds_sum=2 NOW
rpc,job=j,le=+Inf latency_seconds_bucket=1 NOW
)");
}

TEST(ConvertPushTest, MeasurementNameAndJobAsMeasurement) {
  v1::PushRequest push = Push(R"pb(
    families {
      name: "go_gc_duration_seconds"
      type: SUMMARY
      series {
        summary {
          count: 3
          sum: 0.5
          quantiles { quantile: 0.5 value: 0.1 }
        }
      }
    }
  )pb");
  push.mutable_grouping_key()->set_job("my job");
  ConversionOptions by_job = KeepFalse();
  by_job.naming.job_as_measurement = true;
  ExpectPoints(Convert(push, by_job).points, R"(
my\ job,job=my\ job go_gc_duration_seconds_count=3,go_gc_duration_seconds_sum=0.5 NOW
my\ job,job=my\ job,quantile=0.5 go_gc_duration_seconds=0.1 NOW
)");
  ConversionOptions by_name = by_job;
  by_name.naming.measurement_name = "prom_pushgateway";
  ExpectPoints(Convert(push, by_name).points, R"(
prom_pushgateway,job=my\ job go_gc_duration_seconds_count=3,go_gc_duration_seconds_sum=0.5 NOW
prom_pushgateway,job=my\ job,quantile=0.5 go_gc_duration_seconds=0.1 NOW
)");
}

TEST(ConvertPushTest, SummaryCountSumPointAndQuantilePoints) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "rpc_duration_seconds"
      type: SUMMARY
      series {
        labels { name: "service" value: "a" }
        summary {
          count: 7
          sum: 1.25
          quantiles { quantile: 0.50 value: 0.1 }
          quantiles { quantile: 0.999 value: 1e21 }
          quantiles { quantile: 1e-05 value: 1e-7 }
          quantiles { quantile: 1000000 value: 3 }
        }
      }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
rpc,job=j,service=a rpc_duration_seconds_count=7,rpc_duration_seconds_sum=1.25 NOW
rpc,job=j,quantile=0.5,service=a rpc_duration_seconds=0.1 NOW
rpc,job=j,quantile=0.999,service=a rpc_duration_seconds=1000000000000000000000 NOW
rpc,job=j,quantile=1e-05,service=a rpc_duration_seconds=0.0000001 NOW
rpc,job=j,quantile=1e+06,service=a rpc_duration_seconds=3 NOW
)");
}

TEST(ConvertPushTest, SummaryWithoutCountAndSumStillGetsZeroes) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "s"
      type: SUMMARY
      series { summary { quantiles { quantile: 0 value: 0 } } }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
unknown,job=j unknown_count=0,unknown_sum=0 NOW
unknown,job=j,quantile=0 unknown=0 NOW
)");
}

TEST(ConvertPushTest, HistogramCountSumPointAndBucketPoints) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "http_request_duration_seconds"
      type: HISTOGRAM
      series {
        labels { name: "method" value: "GET" }
        histogram {
          count: 6
          sum: 123456789.125
          buckets { upper_bound: 1e-05 cumulative_count: 1 }
          buckets { upper_bound: 0.0001 cumulative_count: 2 }
          buckets { upper_bound: 0.50 cumulative_count: 3 }
          buckets { upper_bound: 100000 cumulative_count: 4 }
          buckets { upper_bound: 1000000 cumulative_count: 5 }
          buckets { upper_bound: inf cumulative_count: 6 }
        }
      }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
http,job=j,method=GET http_request_duration_seconds_count=6,http_request_duration_seconds_sum=123456789.125 NOW
http,job=j,le=1e-05,method=GET http_request_duration_seconds_bucket=1 NOW
http,job=j,le=0.0001,method=GET http_request_duration_seconds_bucket=2 NOW
http,job=j,le=0.5,method=GET http_request_duration_seconds_bucket=3 NOW
http,job=j,le=100000,method=GET http_request_duration_seconds_bucket=4 NOW
http,job=j,le=1e+06,method=GET http_request_duration_seconds_bucket=5 NOW
http,job=j,le=+Inf,method=GET http_request_duration_seconds_bucket=6 NOW
)");
}

TEST(ConvertPushTest, BoundTagsFollowEachSeriesOwnBounds) {
  // Series whose bounds differ at the same position, including 0 against -0.
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "a_seconds"
      type: HISTOGRAM
      series {
        labels { name: "s" value: "1" }
        histogram {
          buckets { upper_bound: 0 cumulative_count: 1 }
          buckets { upper_bound: 0.5 cumulative_count: 2 }
        }
      }
      series {
        labels { name: "s" value: "2" }
        histogram {
          buckets { upper_bound: -0 cumulative_count: 3 }
          buckets { upper_bound: 1000000 cumulative_count: 4 }
          buckets { upper_bound: inf cumulative_count: 5 }
        }
      }
    }
    families {
      name: "q_seconds"
      type: SUMMARY
      series { summary { quantiles { quantile: 0.5 value: 6 } } }
      series { summary { quantiles { quantile: 0.9 value: 7 } } }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
a,job=j,s=1 a_seconds_count=0,a_seconds_sum=0 NOW
a,job=j,le=0,s=1 a_seconds_bucket=1 NOW
a,job=j,le=0.5,s=1 a_seconds_bucket=2 NOW
a,job=j,s=2 a_seconds_count=0,a_seconds_sum=0 NOW
a,job=j,le=-0,s=2 a_seconds_bucket=3 NOW
a,job=j,le=1e+06,s=2 a_seconds_bucket=4 NOW
a,job=j,le=+Inf,s=2 a_seconds_bucket=5 NOW
q,job=j q_seconds_count=0,q_seconds_sum=0 NOW
q,job=j,quantile=0.5 q_seconds=6 NOW
q,job=j q_seconds_count=0,q_seconds_sum=0 NOW
q,job=j,quantile=0.9 q_seconds=7 NOW
)");
}

TEST(ConvertPushTest, HistogramWithoutCountAndSumStillGetsZeroes) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "hh"
      type: HISTOGRAM
      series { histogram { buckets { upper_bound: 0.003 cumulative_count: 2 } } }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
hh,job=j hh_count=0,hh_sum=0 NOW
hh,job=j,le=0.003 hh_bucket=2 NOW
)");
}

TEST(ConvertPushTest, NativeHistogramGivesOnlyCountSumAndClassicBuckets) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "pb_native"
      type: HISTOGRAM
      series {
        histogram {
          count: 5
          sum: 2.5
          native {
            schema: 3
            zero_threshold: 1e-128
            zero_count: 1
            positive_spans { offset: 0 length: 2 }
            positive_deltas: 4
            positive_deltas: -4
          }
        }
      }
    }
    families {
      name: "pb_mixed"
      type: HISTOGRAM
      series {
        histogram {
          count: 3
          sum: 1.5
          buckets { upper_bound: 0.5 cumulative_count: 1 }
          buckets { upper_bound: inf cumulative_count: 3 }
          native {
            schema: 1
            positive_spans { offset: 1 length: 1 }
            positive_deltas: 3
          }
        }
      }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
pb,job=j pb_native_count=5,pb_native_sum=2.5 NOW
pb,job=j pb_mixed_count=3,pb_mixed_sum=1.5 NOW
pb,job=j,le=0.5 pb_mixed_bucket=1 NOW
pb,job=j,le=+Inf pb_mixed_bucket=3 NOW
)");
}

TEST(ConvertPushTest, GaugeHistogramGivesNoPoints) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "pb_inflight"
      type: GAUGE_HISTOGRAM
      series {
        histogram {
          count: 2
          sum: 1
          buckets { upper_bound: 1 cumulative_count: 1 }
          buckets { upper_bound: inf cumulative_count: 2 }
        }
      }
    }
  )pb");
  EXPECT_THAT(Convert(push).points, ::testing::IsEmpty());
}

TEST(ConvertPushTest, InfoLabelsTagEveryPointButBuckets) {
  // The info family comes last: its labels still apply to the points before it.
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "m_total"
      type: COUNTER
      series {
        labels { name: "x" value: "1" }
        value: 1
      }
    }
    families {
      name: "h_seconds"
      type: HISTOGRAM
      series {
        histogram {
          count: 1
          sum: 1
          buckets { upper_bound: inf cumulative_count: 1 }
        }
      }
    }
    families {
      name: "s_seconds"
      type: SUMMARY
      series {
        summary {
          count: 1
          sum: 1
          quantiles { quantile: 0.5 value: 1 }
        }
      }
    }
    families {
      name: "target_info"
      type: INFO
      series {
        labels { name: "service_name" value: "svc" }
        value: 1
      }
    }
  )pb");
  const Result result = Convert(push);
  ExpectPoints(result.points, R"(
m,job=j,service_name=svc,x=1 m_total=1 NOW
h,job=j,service_name=svc h_seconds_count=1,h_seconds_sum=1 NOW
h,job=j,le=+Inf h_seconds_bucket=1 NOW
s,job=j,service_name=svc s_seconds_count=1,s_seconds_sum=1 NOW
s,job=j,quantile=0.5,service_name=svc s_seconds=1 NOW
)");
}

TEST(ConvertPushTest, LaterInfoSamplesOverwriteEarlierLabels) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "foo_info"
      type: INFO
      series {
        labels { name: "name" value: "pretty name" }
        labels { name: "version" value: "8.2.7" }
        value: 1
      }
    }
    families {
      name: "foo_info"
      type: INFO
      series {
        labels { name: "entity" value: "controller" }
        labels { name: "name" value: "pretty name" }
        value: 1
      }
      series {
        labels { name: "entity" value: "replica" }
        labels { name: "name" value: "prettier name" }
        labels { name: "version" value: "8.1.9" }
        value: 1
      }
    }
    families {
      name: "up"
      type: UNTYPED
      series { value: 1 }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
up,entity=replica,job=j,name=prettier\ name,version=8.1.9 up=1 NOW
)");
}

TEST(ConvertPushTest, InfoLabelsBeatUrlLabelsWhichBeatSampleLabels) {
  const v1::PushRequest push = Push(
      R"pb(
        families {
          name: "target_info"
          type: INFO
          series {
            labels { name: "job" value: "infojob" }
            value: 1
          }
        }
        families {
          name: "foo_total"
          type: COUNTER
          series {
            labels { name: "job" value: "samplejob" }
            labels { name: "instance" value: "sampleinst" }
            labels { name: "other" value: "x" }
            value: 1
          }
        }
        families {
          name: "lat"
          type: HISTOGRAM
          series {
            labels { name: "instance" value: "sampleinst" }
            labels { name: "job" value: "samplejob" }
            histogram {
              count: 3
              sum: 4
              buckets { upper_bound: 1 cumulative_count: 2 }
            }
          }
        }
      )pb",
      R"pb(labels { name: "instance" value: "urlinst" })pb");
  ExpectPoints(Convert(push).points, R"(
foo,instance=urlinst,job=infojob,other=x foo_total=1 NOW
lat,instance=urlinst,job=infojob lat_count=3,lat_sum=4 NOW
lat,instance=urlinst,job=j,le=1 lat_bucket=2 NOW
)");
}

// The same precedence when the push carries too many info and URL labels to scan (they are
// then looked up by key): info over URL over the series' own, the first of a repeated series
// label, and bucket points without info labels.
TEST(ConvertPushTest, PrecedenceHoldsWithManyInfoAndUrlLabels) {
  std::string info = R"pb(labels { name: "job" value: "infojob" })pb";
  std::string url = R"pb(labels { name: "instance" value: "urlinst" })pb";
  std::string info_tags, url_tags;
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&info, " labels { name: \"i", i, "\" value: \"v\" }");
    absl::StrAppend(&url, " labels { name: \"u", i, "\" value: \"w\" }");
    absl::StrAppend(&info_tags, ",i", i, "=v");
    absl::StrAppend(&url_tags, ",u", i, "=w");
  }
  const v1::PushRequest push =
      Push(absl::StrCat(R"pb(families { name: "target_info" type: INFO series {)pb", info, R"pb(                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                value: 1
                          }
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                }
                        families {
                          name: "foo_total"
                          type: COUNTER
                          series {
                            labels { name: "job" value: "samplejob" }
                            labels { name: "other" value: "x" }
                            labels { name: "i5" value: "sample" }
                            labels { name: "u7" value: "sample" }
                            labels { name: "other" value: "y" }
                            value: 1
                          }
                        }
                        families {
                          name: "lat"
                          type: HISTOGRAM
                          series {
                            labels { name: "i5" value: "s" }
                            labels { name: "u7" value: "s" }
                            histogram {
                              count: 3
                              sum: 4
                              buckets { upper_bound: 1 cumulative_count: 2 }
                            }
                          }
                        })pb"),
           url);
  ExpectPoints(Convert(push).points,
               absl::StrCat("foo,instance=urlinst,job=infojob,other=x", info_tags, url_tags,
                            " foo_total=1 NOW\n",                                     //
                            "lat,instance=urlinst,job=infojob", info_tags, url_tags,  //
                            " lat_count=3,lat_sum=4 NOW\n",                           //
                            "lat,instance=urlinst,job=j,le=1,i5=s", url_tags,         //
                            " lat_bucket=2 NOW\n"));
}

// A producer streaming to the aggregator is not held to the front's label limit: a series of
// many labels, some repeated, keeps the first of each, as a short one does.
TEST(ConvertPushTest, AWideSeriesKeepsTheFirstOfEachRepeatedLabel) {
  std::string labels;
  std::map<std::string, std::string> first;
  for (int i = 0; i < 60; ++i) {
    const std::string name = absl::StrCat("l", i % 45);  // l0..l14 come twice
    const std::string value = absl::StrCat("v", i);
    absl::StrAppend(&labels, " labels { name: \"", name, "\" value: \"", value, "\" }");
    first.emplace(name, value);
  }
  const v1::PushRequest push =
      Push(absl::StrCat(R"pb(families { name: "wide" type: GAUGE series {)pb", labels,
                        R"pb(                              value: 1 }
                                                           })pb"));
  std::string tags;
  for (const auto& [name, value] : first) absl::StrAppend(&tags, ",", name, "=", value);
  ExpectPoints(Convert(push).points, absl::StrCat("wide,job=j", tags, " wide=1 NOW\n"));
}

TEST(ConvertPushTest, UrlLeAndQuantileBeatBoundTags) {
  const v1::PushRequest push = Push(
      R"pb(
        families {
          name: "hh_lat"
          type: HISTOGRAM
          series {
            histogram {
              count: 2
              sum: 3
              buckets { upper_bound: 1 cumulative_count: 1 }
            }
          }
        }
        families {
          name: "ss_lat"
          type: SUMMARY
          series {
            summary {
              count: 3
              sum: 2
              quantiles { quantile: 0.5 value: 1 }
            }
          }
        }
      )pb",
      R"pb(labels { name: "le" value: "urlle" }
           labels { name: "quantile" value: "urlq" })pb");
  ExpectPoints(Convert(push).points, R"(
hh,job=j,le=urlle,quantile=urlq hh_lat_count=2,hh_lat_sum=3 NOW
hh,job=j,le=urlle,quantile=urlq hh_lat_bucket=1 NOW
ss,job=j,le=urlle,quantile=urlq ss_lat_count=3,ss_lat_sum=2 NOW
ss,job=j,le=urlle,quantile=urlq ss_lat=1 NOW
)");
}

TEST(ConvertPushTest, SampleLabelsBeatBoundTags) {
  // The normalized model never carries these labels for summaries and histograms, but if a
  // producer sent them, the precedence order still decides.
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "ss_lat"
      type: SUMMARY
      series {
        labels { name: "quantile" value: "mine" }
        summary {
          count: 1
          sum: 1
          quantiles { quantile: 0.5 value: 1 }
        }
      }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
ss,job=j,quantile=mine ss_lat_count=1,ss_lat_sum=1 NOW
ss,job=j,quantile=mine ss_lat=1 NOW
)");
}

TEST(ConvertPushTest, UntypedLeLabelIsKeptAsWritten) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "http_request_duration_seconds_bucket"
      type: UNTYPED
      series {
        labels { name: "le" value: "0.10" }
        value: 2
      }
    }
  )pb");
  ExpectPoints(Convert(push, KeepFalse()).points, R"(
http,job=j,le=0.10 request_duration_seconds_bucket=2 NOW
)");
}

TEST(ConvertPushTest, EmptyValuesGiveNoTag) {
  const v1::PushRequest push = Push(
      R"pb(
        families {
          name: "m_a"
          type: UNTYPED
          series {
            labels { name: "empty" value: "" }
            labels { name: "emptyurl" value: "from-sample" }
            labels { name: "k" value: "v" }
            value: 1
          }
        }
      )pb",
      R"pb(labels { name: "emptyurl" value: "" })pb");
  // An empty grouping label still overrides the sample's label of the same name, as the
  // Pushgateway does: the group has no such label.
  ExpectPoints(Convert(push).points, "m,job=j,k=v m_a=1 NOW\n");
}

TEST(ConvertPushTest, EmptyInfoLabelHidesTheUrlLabel) {
  const v1::PushRequest push = Push(
      R"pb(
        families {
          name: "target_info"
          type: INFO
          series {
            labels { name: "zone" value: "" }
            value: 1
          }
        }
        families {
          name: "up"
          type: UNTYPED
          series { value: 1 }
        }
      )pb",
      R"pb(labels { name: "zone" value: "eu" })pb");
  ExpectPoints(Convert(push).points, "up,job=j up=1 NOW\n");
}

TEST(ConvertPushTest, TagValuesLoseNewlinesAndTrailingBackslashes) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "m_b"
      type: UNTYPED
      series {
        labels { name: "sp" value: "a b" }
        labels { name: "cm" value: "a,b" }
        labels { name: "eq" value: "a=b" }
        labels { name: "bs" value: "a\\b" }
        labels { name: "nl" value: "a\nb" }
        labels { name: "tail" value: "x\\\\" }
        labels { name: "only" value: "\\" }
        labels { name: "q" value: "say \"hi\"" }
        value: 2
      }
    }
  )pb");
  const Result result = Convert(push);
  ExpectPoints(result.points, R"(
m,bs=a\b,cm=a\,b,eq=a\=b,job=j,nl=a\ b,q=say\ "hi",sp=a\ b,tail=x m_b=2 NOW
)");
  ASSERT_EQ(result.points.size(), 1u);
  for (const auto& tag : result.points[0].tags) {
    if (tag.first == "nl") {
      EXPECT_EQ(tag.second, "a b");
    }
    if (tag.first == "tail") {
      EXPECT_EQ(tag.second, "x");
    }
  }
}

TEST(ConvertPushTest, TimestampsHonoredWhenPositive) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "cc_total"
      type: COUNTER
      series {
        labels { name: "a" value: "1" }
        value: 5
        timestamp_ms: 1700000000123
      }
      series {
        labels { name: "a" value: "2" }
        value: 6
      }
      series {
        labels { name: "a" value: "3" }
        value: 7
        timestamp_ms: 0
      }
      series {
        labels { name: "a" value: "4" }
        value: 8
        timestamp_ms: -5
      }
      series {
        labels { name: "a" value: "5" }
        value: 9
        timestamp_ms: 9223372036854776
      }
    }
    families {
      name: "ss_lat"
      type: SUMMARY
      series {
        summary {
          count: 3
          sum: 2
          quantiles { quantile: 0.5 value: 1 }
        }
        timestamp_ms: 1700000000123
      }
    }
    families {
      name: "hh_lat"
      type: HISTOGRAM
      series {
        histogram {
          count: 2
          sum: 3
          buckets { upper_bound: inf cumulative_count: 2 }
        }
        timestamp_ms: 1700000000124
      }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
cc,a=1,job=j cc_total=5 1700000000123000000
cc,a=2,job=j cc_total=6 NOW
cc,a=3,job=j cc_total=7 NOW
cc,a=4,job=j cc_total=8 NOW
cc,a=5,job=j cc_total=9 NOW
ss,job=j ss_lat_count=3,ss_lat_sum=2 1700000000123000000
ss,job=j,quantile=0.5 ss_lat=1 1700000000123000000
hh,job=j hh_lat_count=2,hh_lat_sum=3 1700000000124000000
hh,job=j,le=+Inf hh_lat_bucket=2 1700000000124000000
)");

  ConversionOptions ignore;
  ignore.honor_timestamps = false;
  const Result ignored = Convert(push, ignore);
  ASSERT_EQ(ignored.points.size(), 9u);
  for (const Point& point : ignored.points) EXPECT_EQ(point.timestamp_ns, kReceiveTimeNs);
}

TEST(ConvertPushTest, NonFiniteValuesAreDroppedAndCounted) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "gg_val"
      type: GAUGE
      series {
        labels { name: "k" value: "nan" }
        value: nan
      }
      series {
        labels { name: "k" value: "pinf" }
        value: inf
      }
      series {
        labels { name: "k" value: "ninf" }
        value: -inf
      }
      series {
        labels { name: "k" value: "ok" }
        value: 1.5
      }
    }
    families {
      name: "ss_lat"
      type: SUMMARY
      series {
        summary {
          count: 0
          sum: nan
          quantiles { quantile: 0.5 value: nan }
          quantiles { quantile: 0.9 value: inf }
          quantiles { quantile: 0.99 value: 2 }
          quantiles { quantile: 0.999 value: -inf }
        }
      }
    }
    families {
      name: "hh_lat"
      type: HISTOGRAM
      series {
        histogram {
          count: 1
          sum: inf
          buckets { upper_bound: 1 cumulative_count: nan }
          buckets { upper_bound: inf cumulative_count: 1 }
        }
      }
    }
    families {
      name: "both_bad"
      type: HISTOGRAM
      series { histogram { count: inf sum: nan } }
    }
    families {
      name: "x_info"
      type: INFO
      series {
        labels { name: "a" value: "b" }
        value: nan
      }
    }
  )pb");
  const Result result = Convert(push);
  ExpectPoints(result.points, R"(
gg,a=b,job=j,k=ok gg_val=1.5 NOW
hh,a=b,job=j hh_lat_count=1 NOW
hh,job=j,le=+Inf hh_lat_bucket=1 NOW
ss,a=b,job=j ss_lat_count=0 NOW
ss,a=b,job=j,quantile=0.99 ss_lat=2 NOW
)");
  // 3 gauge samples, the summary sum and 3 quantiles, the histogram sum and one bucket, and
  // both values of both_bad; the info sample's value is never a point.
  EXPECT_EQ(result.stats.dropped_non_finite, 11);
}

TEST(ConvertPushTest, DuplicateSeriesAreAllKept) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "d_x"
      type: UNTYPED
      series {
        labels { name: "a" value: "1" }
        value: 1
      }
      series {
        labels { name: "a" value: "1" }
        value: 2
      }
    }
    families {
      name: "d_x"
      type: UNTYPED
      series {
        labels { name: "a" value: "1" }
        value: 2
      }
    }
  )pb");
  ExpectPoints(Convert(push).points, R"(
d,a=1,job=j d_x=1 NOW
d,a=1,job=j d_x=2 NOW
d,a=1,job=j d_x=2 NOW
)");
}

TEST(ConvertPushTest, AppendsToExistingPointsAndStats) {
  const v1::PushRequest push = Push(R"pb(
    families {
      name: "up"
      type: UNTYPED
      series { value: 1 }
      series { value: nan }
    }
  )pb");
  std::vector<Point> points(1);
  points[0].measurement = "earlier";
  ConversionStats stats;
  stats.dropped_non_finite = 4;
  ConvertPush(push, {}, &points, &stats);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].measurement, "earlier");
  EXPECT_EQ(points[1].measurement, "up");
  EXPECT_EQ(stats.dropped_non_finite, 5);
  ConvertPush(push, {}, &points, nullptr);  // stats are optional
  EXPECT_EQ(points.size(), 3u);
}

TEST(ConvertPushToLineProtocolTest, WritesCanonicalLinesAndCountsThem) {
  const v1::PushRequest push = Push(R"pb(
                                      families {
                                        name: "rpc_seconds"
                                        type: HISTOGRAM
                                        series {
                                          labels { name: "method" value: "Get\nAll" }
                                          histogram {
                                            count: 3
                                            sum: 0.75
                                            buckets { upper_bound: 0.25 cumulative_count: 1 }
                                            buckets { upper_bound: inf cumulative_count: 3 }
                                          }
                                        }
                                      }
                                      families {
                                        name: "up"
                                        type: GAUGE
                                        series { value: 1 }
                                        series { value: inf }
                                      }
                                    )pb",
                                    R"pb(labels { name: "instance" value: "i1" })pb");
  LineProtocolEncoder encoder;
  std::string lines;
  ConversionStats stats;
  EXPECT_EQ(ConvertPushToLineProtocol(push, {}, &encoder, &lines, &stats), 4u);
  const std::string now = std::to_string(kReceiveTimeNs);
  EXPECT_EQ(lines,
            absl::StrCat(
                "rpc,instance=i1,job=j,method=Get\\ All rpc_seconds_count=3,"
                "rpc_seconds_sum=0.75 ",
                now, "\n", "rpc,instance=i1,job=j,le=0.25,method=Get\\ All rpc_seconds_bucket=1 ",
                now, "\n", "rpc,instance=i1,job=j,le=+Inf,method=Get\\ All rpc_seconds_bucket=3 ",
                now, "\n", "up,instance=i1,job=j up=1 ", now, "\n"));
  EXPECT_EQ(stats.dropped_non_finite, 1);
  // Stats are optional, and lines are appended.
  EXPECT_EQ(ConvertPushToLineProtocol(push, {}, &encoder, &lines, nullptr), 4u);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 8);
}

// What the aggregator converts: a view parsed from the push's wire bytes. It must give what the
// message gives, also where a series holds another member of the oneof than its family's type
// reads (the message then reads a zero count and sum, as for an absent summary).
TEST(ConvertPushToLineProtocolTest, AViewParsedFromTheWireGivesTheLinesOfTheMessage) {
  const v1::PushRequest push = Push(R"pb(
                                      families {
                                        name: "build_info"
                                        type: INFO
                                        series {
                                          labels { name: "version" value: "1.2" }
                                          value: 1
                                        }
                                      }
                                      families {
                                        name: "rpc_seconds"
                                        type: SUMMARY
                                        series {
                                          labels { name: "method" value: "Get" }
                                          summary {
                                            count: 3
                                            sum: 0.75
                                            quantiles { quantile: 0.5 value: 0.2 }
                                          }
                                          timestamp_ms: 1700000000000
                                        }
                                        series { histogram { count: 9 sum: 9 } }
                                      }
                                      families {
                                        name: "lat_seconds"
                                        type: HISTOGRAM
                                        series {
                                          histogram {
                                            count: 1
                                            sum: 0.1
                                            buckets { upper_bound: 0.25 cumulative_count: 1 }
                                          }
                                        }
                                        series { value: 5 }
                                      }
                                    )pb",
                                    R"pb(labels { name: "instance" value: "i1" })pb");
  LineProtocolEncoder encoder;
  std::string from_message;
  ConvertPushToLineProtocol(push, {}, &encoder, &from_message, nullptr);

  const std::string wire = push.SerializeAsString();
  PushView view;
  ASSERT_TRUE(view.Parse(wire).ok());
  std::string from_view;
  EXPECT_EQ(ConvertPushToLineProtocol(view, {}, &encoder, &from_view, nullptr), 6u);
  EXPECT_EQ(from_view, from_message);
  EXPECT_THAT(from_view, ::testing::HasSubstr("rpc_seconds_count=0,rpc_seconds_sum=0"));
  EXPECT_THAT(from_view, ::testing::HasSubstr("lat_seconds_count=0,lat_seconds_sum=0"));
}

// The aggregator's default body in miniature: every point type, a grouping label, bounds.
v1::PushRequest CacheTestPush(double scale, absl::string_view instance = "i1") {
  v1::PushRequest push =
      Push(R"pb(
             families {
               name: "requests_total"
               type: COUNTER
               series {
                 labels { name: "code" value: "200" }
                 value: 10
               }
               series {
                 labels { name: "code" value: "500" }
                 value: 2
                 timestamp_ms: 1700000000000
               }
             }
             families {
               name: "rpc_seconds"
               type: HISTOGRAM
               series {
                 histogram {
                   count: 3
                   sum: 0.75
                   buckets { upper_bound: 0.25 cumulative_count: 1 }
                   buckets { upper_bound: inf cumulative_count: 3 }
                 }
               }
             }
             families {
               name: "gc_seconds"
               type: SUMMARY
               series {
                 summary {
                   count: 4
                   sum: 1.5
                   quantiles { quantile: 0.5 value: 0.25 }
                 }
               }
             }
           )pb",
           absl::StrCat("labels { name: \"instance\" value: \"", instance, "\" }"));
  for (auto& family : *push.mutable_families()) {
    for (auto& series : *family.mutable_series()) {
      if (series.has_value()) series.set_value(series.value() * scale);
      if (series.has_histogram()) {
        auto* histogram = series.mutable_histogram();
        histogram->set_sum(histogram->sum() * scale);
        for (auto& bucket : *histogram->mutable_buckets()) {
          bucket.set_cumulative_count(bucket.cumulative_count() * scale);
        }
      }
      if (series.has_summary()) {
        for (auto& quantile : *series.mutable_summary()->mutable_quantiles()) {
          quantile.set_value(quantile.value() * scale);
        }
      }
    }
  }
  return push;
}

// What ConvertPushToLineProtocol appends for `push`, and what `cache` appends.
struct BothLines {
  std::string direct;
  std::string cached;
  size_t direct_count = 0;
  size_t cached_count = 0;
  int64_t direct_dropped = 0;
  int64_t cached_dropped = 0;
};

BothLines ConvertBothWays(const v1::PushRequest& push, ConversionCache* cache) {
  PushView view;
  view.Fill(push);
  LineProtocolEncoder encoder;
  BothLines both;
  ConversionStats direct_stats, cached_stats;
  both.direct_count = ConvertPushToLineProtocol(view, {}, &encoder, &both.direct, &direct_stats);
  both.cached_count = cache->Convert(view, {}, &encoder, &both.cached, &cached_stats);
  both.direct_dropped = direct_stats.dropped_non_finite;
  both.cached_dropped = cached_stats.dropped_non_finite;
  return both;
}

// Converts `push` twice, which makes its shape known (kept if it fits).
void Remember(const v1::PushRequest& push, ConversionCache* cache) {
  for (int i = 0; i < 2; ++i) {
    const BothLines both = ConvertBothWays(push, cache);
    EXPECT_EQ(both.cached, both.direct);
  }
}

TEST(ConversionCacheTest, ShapeIsKeptTheSecondTimeItComes) {
  ConversionCache cache(1 << 20);
  ConvertBothWays(CacheTestPush(1), &cache);
  EXPECT_EQ(cache.stats().shapes, 0u);
  ConvertBothWays(CacheTestPush(1), &cache);
  EXPECT_EQ(cache.stats().shapes, 1u);
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_EQ(cache.stats().misses, 2u);
}

TEST(ConversionCacheTest, PushOfAKnownShapeIsWrittenFromTemplatesWithItsOwnValues) {
  ConversionCache cache(1 << 20);
  Remember(CacheTestPush(1), &cache);
  const BothLines first = ConvertBothWays(CacheTestPush(1), &cache);
  EXPECT_EQ(first.cached, first.direct);
  EXPECT_EQ(cache.stats().hits, 1u);

  v1::PushRequest again = CacheTestPush(2.5);
  again.set_receive_time_ns(kReceiveTimeNs + 15000000000);
  const BothLines second = ConvertBothWays(again, &cache);
  EXPECT_EQ(second.cached, second.direct);
  EXPECT_EQ(second.cached_count, 7u);
  EXPECT_EQ(second.cached_count, second.direct_count);
  EXPECT_NE(second.cached, first.cached);
  EXPECT_THAT(second.cached, ::testing::HasSubstr("requests_total=25 1800000015000000000\n"));
  EXPECT_THAT(second.cached, ::testing::HasSubstr("requests_total=5 1700000000000000000\n"));
  EXPECT_EQ(cache.stats().hits, 2u);
  EXPECT_EQ(cache.stats().shapes, 1u);
  EXPECT_GT(cache.stats().bytes, 0u);
}

TEST(ConversionCacheTest, NonFiniteValueIsLeftOutAsWithoutTheCache) {
  ConversionCache cache(1 << 20);
  Remember(CacheTestPush(1), &cache);
  v1::PushRequest push = CacheTestPush(1);
  push.mutable_families(1)->mutable_series(0)->mutable_histogram()->set_sum(std::nan(""));
  push.mutable_families(0)->mutable_series(1)->set_value(-INFINITY);
  const BothLines both = ConvertBothWays(push, &cache);
  EXPECT_EQ(both.cached, both.direct);
  EXPECT_EQ(both.cached_count, 6u);
  EXPECT_EQ(both.cached_dropped, 2);
  EXPECT_EQ(both.direct_dropped, 2);
  EXPECT_EQ(cache.stats().hits, 0u);
  // The shape stays known: the next finite push is a hit.
  const BothLines after = ConvertBothWays(CacheTestPush(3), &cache);
  EXPECT_EQ(after.cached, after.direct);
  EXPECT_EQ(cache.stats().hits, 1u);
}

TEST(ConversionCacheTest, NonFiniteValueWhileTheShapeIsNewKeepsItUnknown) {
  ConversionCache cache(1 << 20);
  v1::PushRequest push = CacheTestPush(1);
  push.mutable_families(0)->mutable_series(0)->set_value(std::nan(""));
  Remember(push, &cache);
  EXPECT_EQ(cache.stats().shapes, 0u);
  const BothLines finite = ConvertBothWays(CacheTestPush(1), &cache);
  EXPECT_EQ(finite.cached, finite.direct);
  EXPECT_EQ(cache.stats().shapes, 1u);
}

TEST(ConversionCacheTest, ShapesDifferByEveryStringAndBound) {
  ConversionCache cache(1 << 20);
  std::vector<v1::PushRequest> pushes;
  pushes.push_back(CacheTestPush(1));
  pushes.push_back(CacheTestPush(1, "i2"));  // another group
  v1::PushRequest push = CacheTestPush(1);
  push.mutable_families(0)->mutable_series(0)->mutable_labels(0)->set_value("201");
  pushes.push_back(push);
  push = CacheTestPush(1);
  push.mutable_families(1)
      ->mutable_series(0)
      ->mutable_histogram()
      ->mutable_buckets(0)
      ->set_upper_bound(0.5);
  pushes.push_back(push);
  push = CacheTestPush(1);
  push.mutable_families(2)
      ->mutable_series(0)
      ->mutable_summary()
      ->mutable_quantiles(0)
      ->set_quantile(-0.0);
  pushes.push_back(push);
  push = CacheTestPush(1);
  push.mutable_families(0)->set_type(v1::GAUGE);
  pushes.push_back(push);
  push = CacheTestPush(1);
  push.mutable_grouping_key()->set_job("k");
  pushes.push_back(push);
  // The same bytes split differently between a label's name and value.
  push = CacheTestPush(1);
  push.mutable_families(0)->mutable_series(0)->mutable_labels(0)->set_name("cod");
  push.mutable_families(0)->mutable_series(0)->mutable_labels(0)->set_value("e200");
  pushes.push_back(push);
  push = CacheTestPush(1);
  auto* info = push.add_families();
  info->set_name("build_info");
  info->set_type(v1::INFO);
  auto* label = info->add_series()->add_labels();
  label->set_name("version");
  label->set_value("1.2");
  pushes.push_back(push);

  for (int round = 0; round < 3; ++round) {
    for (const v1::PushRequest& p : pushes) {
      const BothLines both = ConvertBothWays(p, &cache);
      EXPECT_EQ(both.cached, both.direct) << "round " << round;
    }
    EXPECT_EQ(cache.stats().hits, round < 2 ? 0u : pushes.size());
  }
  EXPECT_EQ(cache.stats().shapes, pushes.size());
}

TEST(ConversionCacheTest, LeastRecentlyUsedShapesGoFirstToStayWithinTheLimit) {
  ConversionCache probe(1 << 20);
  Remember(CacheTestPush(1, "i0"), &probe);
  const size_t one_shape = probe.stats().bytes;
  ASSERT_GT(one_shape, 0u);

  ConversionCache cache(one_shape * 2 + one_shape / 2);  // room for two shapes
  Remember(CacheTestPush(1, "i1"), &cache);
  Remember(CacheTestPush(1, "i2"), &cache);
  ConvertBothWays(CacheTestPush(1, "i1"), &cache);  // i1 is now the most recent
  EXPECT_EQ(cache.stats().hits, 1u);
  // The cache is full: a new shape gets in only once in 16 tries (after it came once), and
  // then pushes out i2, the least recently used.
  for (int i = 0; i < 16; ++i) ConvertBothWays(CacheTestPush(1, "i3"), &cache);
  EXPECT_EQ(cache.stats().evictions, 0u);
  ConvertBothWays(CacheTestPush(1, "i3"), &cache);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(cache.stats().shapes, 2u);
  EXPECT_LE(cache.stats().bytes, one_shape * 2 + one_shape / 2);
  ConvertBothWays(CacheTestPush(1, "i1"), &cache);
  ConvertBothWays(CacheTestPush(1, "i3"), &cache);
  EXPECT_EQ(cache.stats().hits, 3u);
  const BothLines dropped = ConvertBothWays(CacheTestPush(1, "i2"), &cache);
  EXPECT_EQ(dropped.cached, dropped.direct);
  EXPECT_EQ(cache.stats().hits, 3u);

  // A shape larger than the whole limit is never kept.
  ConversionCache tiny(one_shape / 2);
  Remember(CacheTestPush(1), &tiny);
  const BothLines again = ConvertBothWays(CacheTestPush(1), &tiny);
  EXPECT_EQ(again.cached, again.direct);
  EXPECT_EQ(tiny.stats().shapes, 0u);
  EXPECT_EQ(tiny.stats().hits, 0u);
}

// More groups recur than the cache holds: admitting every new shape would push each one out
// before its group came back (least recently used, in a cycle), so no push would ever hit.
TEST(ConversionCacheTest, GroupsThatDoNotAllFitStillHitForThoseKept) {
  ConversionCache probe(1 << 20);
  Remember(CacheTestPush(1, "i0"), &probe);
  const size_t one_shape = probe.stats().bytes;
  ConversionCache cache(one_shape * 2 + one_shape / 2);  // room for two shapes of four
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    for (const char* group : {"i1", "i2", "i3", "i4"}) {
      const BothLines both = ConvertBothWays(CacheTestPush(round, group), &cache);
      ASSERT_EQ(both.cached, both.direct) << group << " in round " << round;
    }
  }
  const ConversionCache::Stats stats = cache.stats();
  EXPECT_GT(stats.hits, kRounds * 4 / 4)
      << "hits " << stats.hits << ", evictions " << stats.evictions;
  EXPECT_LT(stats.evictions, kRounds * 4 / 8);
  EXPECT_LE(stats.shapes, 2u);
}

TEST(ConversionCacheTest, ZeroBytesKeepsNothing) {
  ConversionCache cache(0);
  for (int i = 0; i < 3; ++i) {
    const BothLines both = ConvertBothWays(CacheTestPush(1), &cache);
    EXPECT_EQ(both.cached, both.direct);
  }
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_EQ(cache.stats().misses, 3u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

// A push whose bound is over the cache's size might not fit it: it is converted point by point
// without making templates to throw away; one whose bound is at the size is kept.
TEST(ConversionCacheTest, ShapeThatMightNotFitIsNotMade) {
  const v1::PushRequest push = CacheTestPush(1);
  PushView view;
  view.Fill(push);
  const uint64_t bound = ConvertedBytesBound(view, {});
  ConversionCache too_small(bound - 1);
  ConversionCache just_enough(bound);
  for (int i = 0; i < 3; ++i) {
    for (ConversionCache* cache : {&too_small, &just_enough}) {
      const BothLines both = ConvertBothWays(push, cache);
      EXPECT_EQ(both.cached, both.direct);
    }
  }
  EXPECT_EQ(too_small.stats().too_large, 2u);  // the second and third time it came
  EXPECT_EQ(too_small.stats().hits, 0u);
  EXPECT_EQ(too_small.stats().shapes, 0u);
  EXPECT_EQ(just_enough.stats().too_large, 0u);
  EXPECT_EQ(just_enough.stats().hits, 1u);
}

TEST(ConvertPushTest, EmptyPushHasNoPoints) {
  EXPECT_THAT(Convert(Push("")).points, ::testing::IsEmpty());
}

// An info label is copied onto every point of the push, a series' labels onto each of its
// buckets: the bound counts them once per point, so that the aggregator can refuse a small push
// that would expand to gigabytes before it has accepted it.
TEST(ConvertedBytesBoundTest, CountsEachLabelOncePerPointItIsCopiedOnto) {
  const std::string long_value(10000, 'v');
  // Built from plain strings: a raw string would be re-indented by clang-format, spaces inside
  // the label values included.
  std::string families = absl::StrCat(
      "families { name: \"build_info\" type: INFO series { labels { name: \"commit\" value: \"",
      long_value, "\" } value: 1 } } families { name: \"jobs_total\" type: COUNTER");
  for (int i = 0; i < 100; ++i) {
    absl::StrAppend(&families, " series { labels { name: \"n\" value: \"", i, "\" } value: 1 }");
  }
  absl::StrAppend(&families,
                  " } families { name: \"latency_seconds\" type: HISTOGRAM series { labels { "
                  "name: \"route\" value: \"",
                  long_value, "\" } histogram {");
  for (int i = 0; i < 200; ++i) {
    absl::StrAppend(&families, " buckets { upper_bound: ", i, " cumulative_count: ", i, " }");
  }
  absl::StrAppend(&families, "} } }");
  const v1::PushRequest push = Push(families);
  PushView view;
  view.Fill(push);
  // The info label tags the 100 counters and the histogram's count/sum point; the route label
  // tags its 200 buckets as well.
  const uint64_t copied = (100 + 1) * long_value.size() + (1 + 200) * long_value.size();
  EXPECT_GE(ConvertedBytesBound(view, {}), copied);
  EXPECT_LT(ConvertedBytesBound(view, {}), 2 * copied);
  // And it holds what is really written.
  LineProtocolEncoder encoder;
  std::string lines;
  EXPECT_EQ(ConvertPushToLineProtocol(view, {}, &encoder, &lines, nullptr), 100u + 1 + 200);
  EXPECT_GE(lines.size(), copied);
  EXPECT_GE(ConvertedBytesBound(view, {}), lines.size());
  std::string remote_write;
  AppendRemoteWrite(push, {}, &remote_write);
  EXPECT_GE(ConvertedBytesBound(view, {}), remote_write.size());
}

// Line protocol writes values without an exponent, so an extreme value takes hundreds of
// characters: the bound counts them.
TEST(ConvertedBytesBoundTest, HoldsValuesWrittenInHundredsOfDigits) {
  for (const char* value :
       {"1e308", "-1.7976931348623157e308", "5e-324", "-2.2250738585072014e-308"}) {
    const v1::PushRequest push = Push(absl::StrCat(
        R"pb(families { name: "a_b" type: GAUGE
                        series { value:)pb",
        value, R"pb(}
                    }
                                                        families {
                                                          name: "h"
                                                          type: HISTOGRAM
                                                          series {
                                                            histogram {
                                                              count: )pb",
        value, " sum: ", value, " buckets { upper_bound: 1 cumulative_count: ", value, " } } } }"));
    const Result result = Convert(push);  // checks the bound against both formats' output
    EXPECT_EQ(result.points.size(), 3u) << value;
  }
}

// The bound is near the real size for an ordinary push, so that a limit on it is a limit on
// the memory a conversion takes.
TEST(ConvertedBytesBoundTest, StaysWithinAFewTimesTheLinesOfAnOrdinaryPush) {
  const v1::PushRequest push = CacheTestPush(1);
  PushView view;
  view.Fill(push);
  LineProtocolEncoder encoder;
  std::string lines;
  ConvertPushToLineProtocol(view, {}, &encoder, &lines, nullptr);
  EXPECT_GE(ConvertedBytesBound(view, {}), lines.size());
  EXPECT_LE(ConvertedBytesBound(view, {}), 4 * lines.size());
}

}  // namespace
}  // namespace pushgate
