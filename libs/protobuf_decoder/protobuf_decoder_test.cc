#include "libs/protobuf_decoder/protobuf_decoder.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/prometheus_client.pb.h"
#include "tests/harness/allocation_counter.h"

namespace pushgate {
namespace {

namespace client = ::io::prometheus::client;
using Families = google::protobuf::RepeatedPtrField<v1::MetricFamily>;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr double kInf = std::numeric_limits<double>::infinity();

// --- Building bodies ---

std::string Delimited(const std::vector<client::MetricFamily>& families) {
  std::string body;
  {
    google::protobuf::io::StringOutputStream stream(&body);
    for (const client::MetricFamily& family : families) {
      EXPECT_TRUE(google::protobuf::util::SerializeDelimitedToZeroCopyStream(family, &stream));
    }
  }
  return body;
}

client::MetricFamily Family(const std::string& name, client::MetricType type,
                            const std::string& help = "") {
  client::MetricFamily family;
  family.set_name(name);
  family.set_type(type);
  if (!help.empty()) family.set_help(help);
  return family;
}

client::Metric* AddMetric(client::MetricFamily* family,
                          const std::vector<std::pair<std::string, std::string>>& labels) {
  client::Metric* metric = family->add_metric();
  for (const auto& [name, value] : labels) {
    client::LabelPair* pair = metric->add_label();
    pair->set_name(name);
    pair->set_value(value);
  }
  return metric;
}

client::MetricFamily Counter(const std::string& name, double value) {
  client::MetricFamily family = Family(name, client::COUNTER);
  AddMetric(&family, {})->mutable_counter()->set_value(value);
  return family;
}

// --- Reading results ---

std::vector<std::pair<std::string, std::string>> Labels(const v1::Series& series) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const v1::Label& label : series.labels()) out.emplace_back(label.name(), label.value());
  return out;
}

std::vector<std::pair<double, double>> Buckets(const v1::Histogram& histogram) {
  std::vector<std::pair<double, double>> out;
  for (const v1::Bucket& b : histogram.buckets()) {
    out.emplace_back(b.upper_bound(), b.cumulative_count());
  }
  return out;
}

// The families DecodeProtobufPushToWire writes after `prefix` (which it must keep), read back.
Families FromWire(const std::string& prefix, const std::string& wire) {
  EXPECT_EQ(wire.substr(0, prefix.size()), prefix);
  v1::PushRequest request;
  EXPECT_TRUE(request.ParseFromString(wire.substr(prefix.size())));
  return std::move(*request.mutable_families());
}

bool Equal(const Families& a, const Families& b);

// Every test's body goes through both outputs, which must agree.
Families MustDecode(const std::string& body, const TextParserLimits& limits = {}) {
  Families out;
  absl::Status status = DecodeProtobufPush(body, limits, &out);
  EXPECT_TRUE(status.ok()) << status;

  const std::string prefix = "\x08\x07";  // PushRequest.sequence, standing for what precedes
  std::string wire = prefix;
  size_t series = 12345;
  status = DecodeProtobufPushToWire(body, limits, &wire, &series);
  EXPECT_TRUE(status.ok()) << status;
  const Families from_wire = FromWire(prefix, wire);
  EXPECT_TRUE(Equal(from_wire, out)) << "the wire form decodes to other families";
  size_t expected_series = 0;
  for (const v1::MetricFamily& family : out) expected_series += family.series_size();
  EXPECT_EQ(series, expected_series);
  // Byte for byte what the C++ serializer writes for those families.
  v1::PushRequest request;
  *request.mutable_families() = out;
  EXPECT_EQ(wire.substr(prefix.size()), request.SerializeAsString());
  return out;
}

// A family that stands for whatever a caller had in `out` before a decode.
Families Sentinel() {
  Families out;
  v1::MetricFamily* family = out.Add();
  family->set_name("already_there");
  family->set_type(v1::GAUGE);
  family->add_series()->set_value(42);
  return out;
}

bool Equal(const Families& a, const Families& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(a[i], b[i])) return false;
  }
  return true;
}

// Decodes a body that must be refused: returns the error message, and checks that `out` kept
// exactly what it held before.
std::string Rejected(const std::string& body, const TextParserLimits& limits = {}) {
  Families out = Sentinel();
  absl::Status status = DecodeProtobufPush(body, limits, &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(Equal(out, Sentinel())) << "out was changed by a rejected push";

  const std::string prefix = "\x08\x07";
  std::string wire = prefix;
  absl::Status wire_status = DecodeProtobufPushToWire(body, limits, &wire);
  EXPECT_EQ(wire_status, status) << "the wire form fails otherwise";
  EXPECT_EQ(wire, prefix) << "the wire output was changed by a rejected push";
  return std::string(status.message());
}

// --- IsDelimitedProtobuf ---

TEST(IsDelimitedProtobufTest, AcceptsTheFormatHoweverItIsWritten) {
  for (const char* header : {
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
           "encoding=delimited",
           "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
           "encoding=delimited",
           "application/vnd.google.protobuf; encoding=delimited; "
           "proto=io.prometheus.client.MetricFamily",
           "  APPLICATION/Vnd.Google.Protobuf ;  PROTO = io.prometheus.client.MetricFamily ;\t"
           "Encoding=delimited  ",
           "application/vnd.google.protobuf; proto=\"io.prometheus.client.MetricFamily\"; "
           "encoding=\"delimited\"",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
           "encoding=delimited;",
           "application/vnd.google.protobuf; charset=utf-8; "
           "proto=io.prometheus.client.MetricFamily; other=\"a;b\"; encoding=delimited",
       }) {
    EXPECT_TRUE(IsDelimitedProtobuf(header)) << header;
  }
}

TEST(IsDelimitedProtobufTest, RefusesEverythingElse) {
  for (const char* header : {
           "",
           "text/plain; version=0.0.4",
           "application/openmetrics-text; version=1.0.0",
           "application/vnd.google.protobuf",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily",
           "application/vnd.google.protobuf; encoding=delimited",
           // Values are case-sensitive.
           "application/vnd.google.protobuf; proto=io.prometheus.client.metricfamily; "
           "encoding=delimited",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
           "encoding=Delimited",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
           "encoding=text",
           "application/x-protobuf; proto=io.prometheus.client.MetricFamily; "
           "encoding=delimited",
           "application/vnd.google.protobuf/x; proto=io.prometheus.client.MetricFamily; "
           "encoding=delimited",
           // Headers Go's mime.ParseMediaType refuses, so the Pushgateway reads text.
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
           "encoding=delimited; encoding=delimited",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
           "Encoding=delimited; ENCODING=delimited",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
           "encoding=delimited; x",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
           "encoding=",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily "
           "encoding=delimited",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
           "encoding=\"delimited",
           "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;; "
           "encoding=delimited",
       }) {
    EXPECT_FALSE(IsDelimitedProtobuf(header)) << header;
  }
}

// --- Decoding each type ---

TEST(DecodeProtobufPushTest, EmptyBodyIsAPushWithoutFamilies) {
  Families out = Sentinel();
  EXPECT_TRUE(DecodeProtobufPush("", {}, &out).ok());
  EXPECT_TRUE(Equal(out, Sentinel()));
}

TEST(DecodeProtobufPushTest, CounterGaugeAndUntyped) {
  client::MetricFamily counter = Family("http_requests_total", client::COUNTER, "Requests.");
  client::Metric* m = AddMetric(&counter, {{"code", "200"}, {"method", "get"}});
  m->mutable_counter()->set_value(10);
  m->set_timestamp_ms(1700000000123);
  AddMetric(&counter, {{"code", "500"}, {"empty", ""}})->mutable_counter()->set_value(2);
  client::MetricFamily gauge = Family("queue:depth", client::GAUGE);
  AddMetric(&gauge, {})->mutable_gauge()->set_value(-7.5);
  client::MetricFamily untyped = Family("_thing", client::UNTYPED);
  AddMetric(&untyped, {{"_a", "x"}})->mutable_untyped()->set_value(kInf);

  Families out = MustDecode(Delimited({counter, gauge, untyped}));
  ASSERT_EQ(out.size(), 3);

  EXPECT_EQ(out[0].name(), "http_requests_total");
  EXPECT_EQ(out[0].help(), "Requests.");
  EXPECT_EQ(out[0].type(), v1::COUNTER);
  ASSERT_EQ(out[0].series_size(), 2);
  EXPECT_THAT(Labels(out[0].series(0)), ElementsAre(Pair("code", "200"), Pair("method", "get")));
  EXPECT_EQ(out[0].series(0).value(), 10);
  ASSERT_TRUE(out[0].series(0).has_timestamp_ms());
  EXPECT_EQ(out[0].series(0).timestamp_ms(), 1700000000123);
  EXPECT_THAT(Labels(out[0].series(1)), ElementsAre(Pair("code", "500"), Pair("empty", "")));
  EXPECT_EQ(out[0].series(1).value(), 2);
  EXPECT_FALSE(out[0].series(1).has_timestamp_ms());

  EXPECT_EQ(out[1].name(), "queue:depth");
  EXPECT_EQ(out[1].type(), v1::GAUGE);
  ASSERT_EQ(out[1].series_size(), 1);
  EXPECT_THAT(Labels(out[1].series(0)), IsEmpty());
  EXPECT_EQ(out[1].series(0).data_case(), v1::Series::kValue);
  EXPECT_EQ(out[1].series(0).value(), -7.5);

  EXPECT_EQ(out[2].name(), "_thing");
  EXPECT_EQ(out[2].type(), v1::UNTYPED);
  EXPECT_EQ(out[2].series(0).value(), kInf);
}

TEST(DecodeProtobufPushTest, AbsentTypeIsCounter) {
  client::MetricFamily family;
  family.set_name("no_type");
  AddMetric(&family, {})->mutable_counter()->set_value(3);
  Families out = MustDecode(Delimited({family}));
  ASSERT_EQ(out.size(), 1);
  EXPECT_EQ(out[0].type(), v1::COUNTER);
  EXPECT_EQ(out[0].series(0).value(), 3);
}

TEST(DecodeProtobufPushTest, Summary) {
  client::MetricFamily family = Family("rpc_seconds", client::SUMMARY);
  client::Summary* s = AddMetric(&family, {{"method", "get"}})->mutable_summary();
  s->set_sample_count(4);
  s->set_sample_sum(1.2);
  client::Quantile* q = s->add_quantile();
  q->set_quantile(0.5);
  q->set_value(0.25);
  q = s->add_quantile();
  q->set_quantile(0.99);
  q->set_value(0.5);
  AddMetric(&family, {{"method", "put"}})->mutable_summary();  // all defaults

  Families out = MustDecode(Delimited({family}));
  ASSERT_EQ(out.size(), 1);
  EXPECT_EQ(out[0].type(), v1::SUMMARY);
  ASSERT_EQ(out[0].series_size(), 2);
  const v1::Series& series = out[0].series(0);
  EXPECT_THAT(Labels(series), ElementsAre(Pair("method", "get")));
  ASSERT_EQ(series.data_case(), v1::Series::kSummary);
  EXPECT_EQ(series.summary().count(), 4);
  EXPECT_EQ(series.summary().sum(), 1.2);
  ASSERT_EQ(series.summary().quantiles_size(), 2);
  EXPECT_EQ(series.summary().quantiles(0).quantile(), 0.5);
  EXPECT_EQ(series.summary().quantiles(0).value(), 0.25);
  EXPECT_EQ(series.summary().quantiles(1).quantile(), 0.99);
  EXPECT_EQ(series.summary().quantiles(1).value(), 0.5);
  ASSERT_EQ(out[0].series(1).data_case(), v1::Series::kSummary);
  EXPECT_EQ(out[0].series(1).summary().count(), 0);
  EXPECT_THAT(out[0].series(1).summary().quantiles(), IsEmpty());
}

TEST(DecodeProtobufPushTest, ClassicHistogramBucketsAreSortedAndEndWithInf) {
  client::MetricFamily family = Family("latency", client::HISTOGRAM);
  client::Metric* metric = AddMetric(&family, {{"path", "/"}});
  client::Histogram* h = metric->mutable_histogram();
  h->set_sample_count(3);
  h->set_sample_sum(1.5);
  for (auto [bound, count] :
       std::vector<std::pair<double, uint64_t>>{{kInf, 3}, {0.5, 1}, {1, 2}, {0.5, 7}}) {
    client::Bucket* b = h->add_bucket();
    b->set_upper_bound(bound);
    b->set_cumulative_count(count);
  }
  metric->set_timestamp_ms(1234);
  // The Go client never writes the +Inf bucket: it is the histogram's count, as the text
  // format, Prometheus' protobuf scrape and the Pushgateway's exposition show it.
  client::Histogram* partial = AddMetric(&family, {{"path", "/x"}})->mutable_histogram();
  partial->set_sample_count(9);
  partial->add_bucket()->set_upper_bound(0.1);
  partial->add_bucket()->set_upper_bound(-kInf);  // a bound, but not the one that ends them
  // Without a bucket or native field it is a classic histogram of one bucket, +Inf.
  AddMetric(&family, {{"path", "/y"}})->mutable_histogram()->set_sample_count(4);
  // Classic buckets beside native fields end with +Inf too; native fields alone get none
  // (NativeHistogramFieldsAreCarried).
  client::Histogram* mixed = AddMetric(&family, {{"path", "/z"}})->mutable_histogram();
  mixed->set_sample_count_float(2.5);
  mixed->set_schema(3);
  mixed->add_bucket()->set_upper_bound(1);

  Families out = MustDecode(Delimited({family}));
  ASSERT_EQ(out.size(), 1);
  EXPECT_EQ(out[0].type(), v1::HISTOGRAM);
  ASSERT_EQ(out[0].series_size(), 4);
  const v1::Series& series = out[0].series(0);
  ASSERT_EQ(series.data_case(), v1::Series::kHistogram);
  EXPECT_EQ(series.histogram().count(), 3);
  EXPECT_EQ(series.histogram().sum(), 1.5);
  // Sorted by bound; the two 0.5 buckets keep their pushed order.
  EXPECT_THAT(Buckets(series.histogram()),
              ElementsAre(Pair(0.5, 1), Pair(0.5, 7), Pair(1, 2), Pair(kInf, 3)));
  EXPECT_FALSE(series.histogram().has_native());
  EXPECT_EQ(series.timestamp_ms(), 1234);

  EXPECT_EQ(out[0].series(1).histogram().count(), 9);
  EXPECT_THAT(Buckets(out[0].series(1).histogram()),
              ElementsAre(Pair(-kInf, 0), Pair(0.1, 0), Pair(kInf, 9)));
  EXPECT_THAT(Buckets(out[0].series(2).histogram()), ElementsAre(Pair(kInf, 4)));
  EXPECT_THAT(Buckets(out[0].series(3).histogram()), ElementsAre(Pair(1, 0), Pair(kInf, 2.5)));
  EXPECT_TRUE(out[0].series(3).histogram().has_native());
}

TEST(DecodeProtobufPushTest, FloatCountsWinWhenPresent) {
  client::MetricFamily family = Family("float_hist", client::HISTOGRAM);
  client::Histogram* h = AddMetric(&family, {})->mutable_histogram();
  h->set_sample_count(100);  // ignored: the float count is present
  h->set_sample_count_float(2.5);
  h->set_sample_sum(4);
  client::Bucket* b = h->add_bucket();
  b->set_upper_bound(1);
  b->set_cumulative_count_float(1.25);
  b = h->add_bucket();
  b->set_upper_bound(kInf);
  b->set_cumulative_count(2);

  Families out = MustDecode(Delimited({family}));
  ASSERT_EQ(out.size(), 1);
  EXPECT_EQ(out[0].series(0).histogram().count(), 2.5);
  EXPECT_THAT(Buckets(out[0].series(0).histogram()), ElementsAre(Pair(1, 1.25), Pair(kInf, 2)));
}

TEST(DecodeProtobufPushTest, NativeHistogramFieldsAreCarried) {
  client::MetricFamily family = Family("native", client::HISTOGRAM);
  client::Histogram* h = AddMetric(&family, {})->mutable_histogram();
  h->set_sample_count(5);
  h->set_sample_sum(2.5);
  h->set_schema(-3);
  h->set_zero_threshold(1e-128);
  h->set_zero_count(1);
  client::BucketSpan* span = h->add_positive_span();
  span->set_offset(-2);
  span->set_length(2);
  span = h->add_positive_span();
  span->set_offset(3);
  span->set_length(1);
  for (int64_t d : {2, -1, 0}) h->add_positive_delta(d);
  span = h->add_negative_span();
  span->set_offset(0);
  span->set_length(1);
  h->add_negative_delta(1);

  client::MetricFamily floats = Family("native_float", client::HISTOGRAM);
  h = AddMetric(&floats, {})->mutable_histogram();
  h->set_sample_count_float(3.5);
  h->set_schema(0);
  h->set_zero_count(7);  // ignored: the float zero count is present
  h->set_zero_count_float(0.5);
  span = h->add_positive_span();
  span->set_length(2);
  h->add_positive_count(1.5);
  h->add_positive_count(1.5);
  h->add_negative_count(0.25);

  Families out = MustDecode(Delimited({family, floats}));
  ASSERT_EQ(out.size(), 2);
  const v1::Histogram& hist = out[0].series(0).histogram();
  EXPECT_EQ(hist.count(), 5);
  EXPECT_EQ(hist.sum(), 2.5);
  EXPECT_THAT(hist.buckets(), IsEmpty());
  ASSERT_TRUE(hist.has_native());
  const v1::NativeHistogram& n = hist.native();
  EXPECT_EQ(n.schema(), -3);
  EXPECT_EQ(n.zero_threshold(), 1e-128);
  EXPECT_EQ(n.zero_count(), 1);
  ASSERT_EQ(n.positive_spans_size(), 2);
  EXPECT_EQ(n.positive_spans(0).offset(), -2);
  EXPECT_EQ(n.positive_spans(0).length(), 2u);
  EXPECT_EQ(n.positive_spans(1).offset(), 3);
  EXPECT_EQ(n.positive_spans(1).length(), 1u);
  EXPECT_THAT(n.positive_deltas(), ElementsAre(2, -1, 0));
  ASSERT_EQ(n.negative_spans_size(), 1);
  EXPECT_EQ(n.negative_spans(0).length(), 1u);
  EXPECT_THAT(n.negative_deltas(), ElementsAre(1));
  EXPECT_THAT(n.positive_counts(), IsEmpty());

  const v1::Histogram& fhist = out[1].series(0).histogram();
  EXPECT_EQ(fhist.count(), 3.5);
  ASSERT_TRUE(fhist.has_native());
  EXPECT_EQ(fhist.native().schema(), 0);
  EXPECT_EQ(fhist.native().zero_count(), 0.5);
  EXPECT_THAT(fhist.native().positive_counts(), ElementsAre(1.5, 1.5));
  EXPECT_THAT(fhist.native().negative_counts(), ElementsAre(0.25));
  EXPECT_THAT(fhist.native().positive_deltas(), IsEmpty());
}

TEST(DecodeProtobufPushTest, GaugeHistogram) {
  client::MetricFamily family = Family("inflight", client::GAUGE_HISTOGRAM);
  client::Histogram* h = AddMetric(&family, {{"pool", "a"}})->mutable_histogram();
  h->set_sample_count(2);
  h->set_sample_sum(1);
  client::Bucket* b = h->add_bucket();
  b->set_upper_bound(1);
  b->set_cumulative_count(1);
  b = h->add_bucket();
  b->set_upper_bound(kInf);
  b->set_cumulative_count(2);

  Families out = MustDecode(Delimited({family}));
  ASSERT_EQ(out.size(), 1);
  EXPECT_EQ(out[0].type(), v1::GAUGE_HISTOGRAM);
  ASSERT_EQ(out[0].series(0).data_case(), v1::Series::kHistogram);
  EXPECT_EQ(out[0].series(0).histogram().count(), 2);
  EXPECT_THAT(Buckets(out[0].series(0).histogram()), ElementsAre(Pair(1, 1), Pair(kInf, 2)));
}

TEST(DecodeProtobufPushTest, TimestampsAreKeptWheneverPresent) {
  client::MetricFamily family = Family("ts", client::GAUGE);
  for (int64_t ts : {int64_t{0}, int64_t{-5}, int64_t{1700000000000}}) {
    client::Metric* m = AddMetric(&family, {});
    m->mutable_gauge()->set_value(1);
    m->set_timestamp_ms(ts);
  }
  AddMetric(&family, {})->mutable_gauge()->set_value(1);

  Families out = MustDecode(Delimited({family}));
  ASSERT_EQ(out[0].series_size(), 4);
  EXPECT_TRUE(out[0].series(0).has_timestamp_ms());
  EXPECT_EQ(out[0].series(0).timestamp_ms(), 0);
  EXPECT_EQ(out[0].series(1).timestamp_ms(), -5);
  EXPECT_EQ(out[0].series(2).timestamp_ms(), 1700000000000);
  EXPECT_FALSE(out[0].series(3).has_timestamp_ms());
}

TEST(DecodeProtobufPushTest, AppendsAfterWhatOutAlreadyHolds) {
  Families out = Sentinel();
  ASSERT_TRUE(DecodeProtobufPush(Delimited({Counter("a", 1), Counter("b", 2)}), {}, &out).ok());
  ASSERT_EQ(out.size(), 3);
  EXPECT_EQ(out[0].name(), "already_there");
  EXPECT_EQ(out[1].name(), "a");
  EXPECT_EQ(out[2].name(), "b");
}

TEST(DecodeProtobufPushTest, FamilyWithoutMetricsIsKept) {
  Families out = MustDecode(Delimited({Family("empty_family", client::GAUGE, "Help.")}));
  ASSERT_EQ(out.size(), 1);
  EXPECT_EQ(out[0].name(), "empty_family");
  EXPECT_EQ(out[0].help(), "Help.");
  EXPECT_THAT(out[0].series(), IsEmpty());
}

TEST(DecodeProtobufPushTest, ALaterFamilyOfTheSameNameReplacesTheEarlierOne) {
  client::MetricFamily second = Family("x", client::GAUGE);
  AddMetric(&second, {{"v", "2"}})->mutable_gauge()->set_value(2);
  Families out = MustDecode(Delimited({Counter("x", 1), Counter("y", 5), second}));
  ASSERT_EQ(out.size(), 2);
  EXPECT_EQ(out[0].name(), "x");
  EXPECT_EQ(out[0].type(), v1::GAUGE);
  ASSERT_EQ(out[0].series_size(), 1);
  EXPECT_EQ(out[0].series(0).value(), 2);
  EXPECT_EQ(out[1].name(), "y");

  // A third one replaces the replacement.
  out = MustDecode(Delimited({Counter("x", 1), Counter("y", 5), second, Counter("x", 3)}));
  ASSERT_EQ(out.size(), 2);
  EXPECT_EQ(out[0].type(), v1::COUNTER);
  EXPECT_EQ(out[0].series(0).value(), 3);
}

TEST(DecodeProtobufPushTest, ReplacementsOfFamiliesAfterAnEarlierReplacementLandInPlace) {
  // The second "a" is longer than the first, so everything after it moves in the wire form;
  // "b" and "c" are replaced after that.
  client::MetricFamily long_a = Family("a", client::GAUGE);
  for (int i = 0; i < 5; ++i) {
    AddMetric(&long_a, {{"instance", absl::StrCat("host-", i)}})->mutable_gauge()->set_value(i);
  }
  Families out = MustDecode(Delimited({Counter("a", 1), Counter("b", 2), Counter("c", 3), long_a,
                                       Counter("c", 30), Counter("b", 20), Counter("a", 10)}));
  ASSERT_EQ(out.size(), 3);
  EXPECT_EQ(out[0].name(), "a");
  EXPECT_EQ(out[0].series(0).value(), 10);
  EXPECT_EQ(out[1].name(), "b");
  EXPECT_EQ(out[1].series(0).value(), 20);
  EXPECT_EQ(out[2].name(), "c");
  EXPECT_EQ(out[2].series(0).value(), 30);
}

// --- The conformance vectors ---

std::string TestdataBody(const std::string& file) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  EXPECT_NE(srcdir, nullptr);
  if (srcdir == nullptr) return "";
  const std::string path = std::string(srcdir) + "/pushgate/libs/protobuf_decoder/testdata/" + file;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream text;
  text << in.rdbuf();
  const std::string json = text.str();
  const std::string key = "\"body_b64\": \"";
  const size_t start = json.find(key);
  EXPECT_NE(start, std::string::npos) << path;
  if (start == std::string::npos) return "";
  const size_t end = json.find('"', start + key.size());
  std::string body;
  EXPECT_TRUE(
      absl::Base64Unescape(json.substr(start + key.size(), end - start - key.size()), &body));
  return body;
}

const v1::MetricFamily* Find(const Families& families, const std::string& name) {
  for (const v1::MetricFamily& family : families) {
    if (family.name() == name) return &family;
  }
  return nullptr;
}

TEST(ConformanceTest, H9ProtobufBody) {
  Families out = MustDecode(TestdataBody("h9_protobuf_body.json"));
  ASSERT_EQ(out.size(), 6);

  const v1::MetricFamily* requests = Find(out, "pb_requests_total");
  ASSERT_NE(requests, nullptr);
  EXPECT_EQ(requests->type(), v1::COUNTER);
  EXPECT_EQ(requests->help(), "Requests.");
  ASSERT_EQ(requests->series_size(), 2);
  EXPECT_THAT(Labels(requests->series(0)), ElementsAre(Pair("code", "200")));
  EXPECT_EQ(requests->series(0).value(), 10);
  EXPECT_EQ(requests->series(0).timestamp_ms(), 1700000000123);
  EXPECT_THAT(Labels(requests->series(1)), ElementsAre(Pair("code", "500")));
  EXPECT_EQ(requests->series(1).value(), 2);
  EXPECT_FALSE(requests->series(1).has_timestamp_ms());

  const v1::MetricFamily* depth = Find(out, "pb_queue_depth");
  ASSERT_NE(depth, nullptr);
  EXPECT_EQ(depth->type(), v1::GAUGE);
  EXPECT_EQ(depth->series(0).value(), 7);

  const v1::MetricFamily* rpc = Find(out, "pb_rpc_seconds");
  ASSERT_NE(rpc, nullptr);
  EXPECT_EQ(rpc->type(), v1::SUMMARY);
  EXPECT_THAT(Labels(rpc->series(0)), ElementsAre(Pair("method", "get")));
  const v1::Summary& summary = rpc->series(0).summary();
  EXPECT_EQ(summary.count(), 4);
  EXPECT_EQ(summary.sum(), 1.2);
  ASSERT_EQ(summary.quantiles_size(), 2);
  EXPECT_EQ(summary.quantiles(0).quantile(), 0.5);
  EXPECT_EQ(summary.quantiles(0).value(), 0.25);
  EXPECT_EQ(summary.quantiles(1).quantile(), 0.99);
  EXPECT_EQ(summary.quantiles(1).value(), 0.5);

  const v1::MetricFamily* latency = Find(out, "pb_latency");
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(latency->type(), v1::HISTOGRAM);
  EXPECT_EQ(latency->series(0).histogram().count(), 3);
  EXPECT_EQ(latency->series(0).histogram().sum(), 1.5);
  EXPECT_THAT(Buckets(latency->series(0).histogram()), ElementsAre(Pair(0.5, 1), Pair(kInf, 3)));
  EXPECT_FALSE(latency->series(0).histogram().has_native());

  const v1::MetricFamily* native = Find(out, "pb_native");
  ASSERT_NE(native, nullptr);
  EXPECT_EQ(native->type(), v1::HISTOGRAM);
  EXPECT_EQ(native->series(0).histogram().count(), 5);
  EXPECT_EQ(native->series(0).histogram().sum(), 2.5);
  EXPECT_THAT(native->series(0).histogram().buckets(), IsEmpty());
  EXPECT_TRUE(native->series(0).histogram().has_native());

  const v1::MetricFamily* inflight = Find(out, "pb_inflight");
  ASSERT_NE(inflight, nullptr);
  EXPECT_EQ(inflight->type(), v1::GAUGE_HISTOGRAM);
  EXPECT_EQ(inflight->series(0).histogram().count(), 2);
}

TEST(ConformanceTest, RejectTruncatedProtobuf) {
  const std::string message = Rejected(TestdataBody("reject_truncated_protobuf.json"));
  EXPECT_THAT(message, HasSubstr("family 2 at byte 29"));
  EXPECT_THAT(message, HasSubstr("exceeds the 15 bytes left"));
}

// --- Bodies that cannot be decoded ---

TEST(DecodeProtobufPushTest, EveryTruncationInsideAMessageIsRejected) {
  client::MetricFamily hist = Family("h", client::HISTOGRAM, "Some help.");
  client::Histogram* h = AddMetric(&hist, {{"a", "b"}})->mutable_histogram();
  h->set_sample_count(2);
  h->add_bucket()->set_upper_bound(1);
  // Long enough that its length prefix takes two bytes.
  client::MetricFamily counter = Counter("c", 1);
  counter.set_help(std::string(200, 'h'));
  const std::vector<client::MetricFamily> families = {Counter("a", 1), hist, counter};

  // The offsets where a message ends: cutting there leaves a shorter valid body.
  std::vector<size_t> ends;
  std::string body;
  for (const client::MetricFamily& family : families) {
    body += Delimited({family});
    ends.push_back(body.size());
  }
  ASSERT_EQ(MustDecode(body).size(), 3);

  for (size_t cut = 1; cut < body.size(); ++cut) {
    const std::string truncated = body.substr(0, cut);
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    if (complete > 0 && ends[complete - 1] == cut) {
      Families out = MustDecode(truncated);
      EXPECT_EQ(out.size(), static_cast<int>(complete)) << "cut at " << cut;
      continue;
    }
    const std::string message = Rejected(truncated);
    EXPECT_THAT(message, HasSubstr("family " + std::to_string(complete + 1) + " at byte "))
        << "cut at " << cut;
  }
}

TEST(DecodeProtobufPushTest, LengthPrefixProblems) {
  // The second message's two-byte prefix is cut after its first byte.
  std::string body = Delimited({Counter("a", 1)});
  const size_t first = body.size();
  EXPECT_THAT(Rejected(body + "\x80"),
              HasSubstr("family 2 at byte " + std::to_string(first) + ": truncated length"));
  EXPECT_THAT(Rejected(std::string(11, '\xff')), HasSubstr("family 1 at byte 0: malformed"));
  EXPECT_THAT(Rejected(std::string("\x05\x0a\x01x")),
              HasSubstr("message length 5 exceeds the 3 bytes left in the body"));
  // A length that does not fit in 32 bits.
  EXPECT_THAT(Rejected(std::string("\xff\xff\xff\xff\x1f\x0a")), HasSubstr("exceeds the 1 bytes"));
}

TEST(DecodeProtobufPushTest, BadWireDataIsRejected) {
  // Field 1 with wire type 7, which does not exist.
  EXPECT_THAT(Rejected(std::string("\x02\x0f\x00", 3)), HasSubstr("not a valid MetricFamily"));
  // A name whose length runs past the message's end (the body has bytes to spare).
  std::string body = std::string("\x03\x0a\x05xy", 5) + Delimited({Counter("a", 1)});
  EXPECT_THAT(Rejected(body), HasSubstr("family 1 at byte 0"));
  // A nested Metric that is cut short inside its family.
  EXPECT_THAT(Rejected(std::string("\x05\x0a\x01x\x22\x09", 6)),
              HasSubstr("not a valid MetricFamily"));
}

// --- Checks ---

TEST(DecodeProtobufPushTest, FamilyNamesAreChecked) {
  EXPECT_THAT(Rejected(Delimited({Counter("", 1)})), HasSubstr("without a name"));
  EXPECT_THAT(Rejected(std::string("\x00", 1)), HasSubstr("without a name"));
  for (const char* name : {"1abc", "a-b", "a b", "é", "a.b"}) {
    EXPECT_THAT(Rejected(Delimited({Counter("ok", 1), Counter(name, 1)})),
                HasSubstr("family 2 at byte"))
        << name;
    EXPECT_THAT(Rejected(Delimited({Counter(name, 1)})), HasSubstr("invalid metric name")) << name;
  }
}

TEST(DecodeProtobufPushTest, HelpThatIsNotUtf8IsRepairedNotRejected) {
  client::MetricFamily bad_help = Counter("x", 1);
  bad_help.set_help("caf\xe9 \xff\xfe!");
  google::protobuf::RepeatedPtrField<v1::MetricFamily> out;
  ASSERT_TRUE(DecodeProtobufPush(Delimited({bad_help}), {}, &out).ok());
  ASSERT_EQ(out.size(), 1);
  EXPECT_EQ(out[0].help(), "caf\xEF\xBF\xBD \xEF\xBF\xBD!");
}

TEST(DecodeProtobufPushTest, LabelsAreChecked) {
  for (const char* name : {"", "1a", "a-b", "a:b", "é", "__name__"}) {
    client::MetricFamily family = Family("m", client::GAUGE);
    AddMetric(&family, {{"ok", "1"}})->mutable_gauge();
    AddMetric(&family, {{"ok", "1"}, {name, "v"}})->mutable_gauge();
    EXPECT_THAT(Rejected(Delimited({family})), HasSubstr("(\"m\"), metric 2:")) << name;
  }
  client::MetricFamily family = Family("m", client::GAUGE);
  AddMetric(&family, {{"a", "1"}, {"b", "2"}, {"a", "3"}})->mutable_gauge();
  EXPECT_THAT(Rejected(Delimited({family})), HasSubstr("duplicate label name \"a\""));

  family = Family("m", client::GAUGE);
  AddMetric(&family, {{"a", "ok \xc3\xa9"}, {"b", "\xc3("}})->mutable_gauge();
  EXPECT_THAT(Rejected(Delimited({family})), HasSubstr("label \"b\" is not valid UTF-8"));
  for (const char* bad : {"\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    family = Family("m", client::GAUGE);
    AddMetric(&family, {{"a", bad}})->mutable_gauge();
    EXPECT_THAT(Rejected(Delimited({family})), HasSubstr("not valid UTF-8"));
  }
  family = Family("m", client::GAUGE);
  AddMetric(&family, {{"a", "\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9"}})->mutable_gauge();
  EXPECT_EQ(MustDecode(Delimited({family})).size(), 1);
}

// Found while writing the fuzz target: the duplicate label check compared every pair of labels, so
// without a max_labels_per_series limit one metric with many labels took minutes (a 500 KB body
// with 40,000 labels: 78 s in the sanitizer build).
TEST(DecodeProtobufPushTest, ManyLabelsAreCheckedWithoutQuadraticCost) {
  constexpr int kLabels = 200000;  // pairwise: 2e10 comparisons
  client::MetricFamily family = Family("wide", client::GAUGE);
  client::Metric* metric = AddMetric(&family, {});
  metric->mutable_gauge()->set_value(1);
  for (int i = 0; i < kLabels; ++i) {
    client::LabelPair* pair = metric->add_label();
    pair->set_name(absl::StrCat("l", i));
    pair->set_value("v");
  }
  const absl::Time start = absl::Now();
  const Families out = MustDecode(Delimited({family}));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  ASSERT_EQ(out.size(), 1);
  EXPECT_EQ(out[0].series(0).labels_size(), kLabels);

  // Duplicates are still found among many labels, and the first repeat is named.
  client::LabelPair* again = metric->add_label();
  again->set_name("l1234");
  metric->add_label()->set_name("l7");
  EXPECT_THAT(Rejected(Delimited({family})), HasSubstr("duplicate label name \"l1234\""));
}

TEST(DecodeProtobufPushTest, AMetricMustCarryItsFamilysType) {
  struct Case {
    client::MetricType type;
    const char* missing;
  };
  for (const Case& c :
       {Case{client::COUNTER, "counter"}, Case{client::GAUGE, "gauge"},
        Case{client::UNTYPED, "untyped"}, Case{client::SUMMARY, "summary"},
        Case{client::HISTOGRAM, "histogram"}, Case{client::GAUGE_HISTOGRAM, "histogram"}}) {
    client::MetricFamily family = Family("m", c.type);
    // Every other kind of value, but not the one the type asks for.
    client::Metric* metric = AddMetric(&family, {});
    if (c.type != client::COUNTER) metric->mutable_counter()->set_value(1);
    if (c.type != client::GAUGE) metric->mutable_gauge()->set_value(1);
    if (c.type != client::UNTYPED) metric->mutable_untyped()->set_value(1);
    if (c.type != client::SUMMARY) metric->mutable_summary();
    if (c.type != client::HISTOGRAM && c.type != client::GAUGE_HISTOGRAM) {
      metric->mutable_histogram();
    }
    EXPECT_THAT(Rejected(Delimited({family})), HasSubstr(std::string("no ") + c.missing))
        << client::MetricType_Name(c.type);
  }
}

TEST(DecodeProtobufPushTest, UnknownTypeIsRejected) {
  // name "x", type 9
  EXPECT_THAT(Rejected(std::string("\x05\x0a\x01x\x18\x09", 6)),
              HasSubstr("unknown metric type 9"));
}

// As a text bucket `le="NaN"` is: the bucket goes, the series and its other buckets stay.
TEST(DecodeProtobufPushTest, ABucketWithANaNBoundIsDropped) {
  client::MetricFamily family = Family("h", client::HISTOGRAM);
  client::Histogram* h = AddMetric(&family, {{"a", "b"}})->mutable_histogram();
  h->set_sample_count(3);
  h->set_sample_sum(1.5);
  for (double bound : {1.0, std::nan(""), 0.5}) {
    client::Bucket* b = h->add_bucket();
    b->set_upper_bound(bound);
    b->set_cumulative_count(bound == 1.0 ? 3 : 2);
  }
  const Families families = MustDecode(Delimited({family}));
  ASSERT_EQ(families.size(), 1);
  ASSERT_EQ(families[0].series_size(), 1);
  const v1::Histogram& out = families[0].series(0).histogram();
  EXPECT_THAT(Buckets(out), ElementsAre(Pair(0.5, 2), Pair(1.0, 3), Pair(kInf, 3)));
  EXPECT_EQ(out.count(), 3);
  EXPECT_EQ(out.sum(), 1.5);
}

// --- Limits ---

client::MetricFamily Gauges(const std::string& name, int n) {
  client::MetricFamily family = Family(name, client::GAUGE);
  for (int i = 0; i < n; ++i) {
    AddMetric(&family, {{"i", std::to_string(i)}})->mutable_gauge()->set_value(i);
  }
  return family;
}

TEST(LimitsTest, MaxSeriesCountsThePushAcrossFamilies) {
  TextParserLimits limits;
  limits.max_series = 5;
  EXPECT_EQ(MustDecode(Delimited({Gauges("a", 2), Gauges("b", 3)}), limits).size(), 2);
  EXPECT_THAT(Rejected(Delimited({Gauges("a", 2), Gauges("b", 4)}), limits),
              HasSubstr("family 2 at byte"));
  EXPECT_THAT(Rejected(Delimited({Gauges("a", 6)}), limits),
              HasSubstr("exceeds --max_series_per_push (5)"));
  // A replaced family no longer counts.
  EXPECT_EQ(MustDecode(Delimited({Gauges("a", 4), Gauges("a", 5)}), limits).size(), 1);
  // 0 is unlimited.
  EXPECT_EQ(MustDecode(Delimited({Gauges("a", 50)}), {}).size(), 1);
}

TEST(LimitsTest, LabelLimits) {
  client::MetricFamily family = Family("m", client::GAUGE);
  AddMetric(&family, {{"abc", "12345"}, {"b", "x"}})->mutable_gauge();

  TextParserLimits limits;
  limits.max_labels_per_series = 2;
  limits.max_label_name_length = 3;
  limits.max_label_value_length = 5;
  EXPECT_EQ(MustDecode(Delimited({family}), limits).size(), 1);

  TextParserLimits tighter = limits;
  tighter.max_labels_per_series = 1;
  EXPECT_THAT(Rejected(Delimited({family}), tighter),
              HasSubstr("exceeds --max_labels_per_series (1)"));
  tighter = limits;
  tighter.max_label_name_length = 2;
  EXPECT_THAT(Rejected(Delimited({family}), tighter),
              HasSubstr("label name \"abc\" exceeds --max_label_name_length (2)"));
  tighter = limits;
  tighter.max_label_value_length = 4;
  EXPECT_THAT(Rejected(Delimited({family}), tighter),
              HasSubstr("value of label \"abc\" exceeds --max_label_value_length (4)"));
}

// `bytes` as a length-delimited field whose tag byte is `tag` (or, with tag 0, as one
// delimited message of a body).
std::string Wrap(char tag, const std::string& bytes) {
  std::string out;
  if (tag != 0) out.push_back(tag);
  for (uint64_t n = bytes.size();; n >>= 7) {
    out.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
    if (n < 0x80) break;
  }
  return out + bytes;
}

std::string Repeat(const std::string& element, size_t count) {
  std::string out;
  out.reserve(element.size() * count);
  for (size_t i = 0; i < count; ++i) out += element;
  return out;
}

// A few megabytes of empty metrics, labels or buckets (two bytes each on the wire, a few KB
// gzip'd) once took gigabytes before the limit's error: both decoders built them first. Now
// the counts come off the wire and the error comes before anything is built.
TEST(ProtobufDecoderTest, PushesOverALimitAreRefusedBeforeTheyAreBuilt) {
  TextParserLimits limits;
  limits.max_series = 1000;
  limits.max_labels_per_series = 64;
  limits.max_samples = 100000;
  const size_t kElements = 3000000;
  const std::string empty_metric = Wrap('\x22', "");
  const std::string gauge = std::string("\x0a\x01\x61\x18\x01", 5);      // name "a", GAUGE
  const std::string histogram = std::string("\x0a\x01\x61\x18\x04", 5);  // name "a", HISTOGRAM
  const std::string counter = std::string("\x0a\x01\x61\x18\x00", 5);    // name "a", COUNTER
  const struct {
    const char* what;
    std::string body;
    const char* error;
  } cases[] = {
      {"empty metrics", Wrap(0, gauge + Repeat(empty_metric, kElements)),
       "number of series exceeds --max_series_per_push (1000)"},
      {"empty labels",
       Wrap(0, gauge + Wrap('\x22', Repeat(Wrap('\x0a', ""), kElements) + Wrap('\x12', ""))),
       "metric 1: label count 3000000 exceeds --max_labels_per_series (64)"},
      {"empty buckets",
       Wrap(0, histogram + Wrap('\x22', Wrap('\x3a', Repeat(Wrap('\x1a', ""), kElements)))),
       "number of samples exceeds --max_samples_per_push (100000)"},
      // Native histograms' spans, deltas and counts are carried; exemplars and their labels are
      // built before they are dropped. Each counts as a sample.
      {"empty native spans",
       Wrap(0, histogram + Wrap('\x22', Wrap('\x3a', Repeat(Wrap('\x62', ""), kElements)))),
       "number of samples exceeds --max_samples_per_push (100000)"},
      {"packed native deltas",
       Wrap(0,
            histogram + Wrap('\x22', Wrap('\x3a', Wrap('\x6a', std::string(kElements, '\x02'))))),
       "number of samples exceeds --max_samples_per_push (100000)"},
      {"packed native counts",
       Wrap(0,
            histogram + Wrap('\x22', Wrap('\x3a', Wrap('\x72', std::string(8 * kElements, '\0'))))),
       "number of samples exceeds --max_samples_per_push (100000)"},
      {"empty histogram exemplars",  // field 16: a two-byte tag
       Wrap(0, histogram +
                   Wrap('\x22', Wrap('\x3a', Repeat(std::string("\x82\x01\x00", 3), kElements)))),
       "number of samples exceeds --max_samples_per_push (100000)"},
      {"labels of a bucket's exemplar",
       Wrap(0,
            histogram + Wrap('\x22', Wrap('\x3a', Wrap('\x1a', Wrap('\x1a', Repeat(Wrap('\x0a', ""),
                                                                                   kElements)))))),
       "number of samples exceeds --max_samples_per_push (100000)"},
      {"labels of a counter's exemplar",
       Wrap(0, counter +
                   Wrap('\x22', Wrap('\x1a', Wrap('\x12', Repeat(Wrap('\x0a', ""), kElements))))),
       "number of samples exceeds --max_samples_per_push (100000)"},
      // Protobuf's parser keeps every field it does not know, at any depth, building each.
      {"empty unknown fields", Wrap(0, gauge + Repeat(std::string("\x7a\x00", 2), kElements)),
       "number of samples exceeds --max_samples_per_push (100000)"},
      {"unknown fields inside a label",
       Wrap(0, gauge + Wrap('\x22', Wrap('\x0a', Repeat(std::string("\x7a\x00", 2), kElements)))),
       "number of samples exceeds --max_samples_per_push (100000)"},
      {"a histogram written as a varint, again and again",
       Wrap(0, histogram + Wrap('\x22', Repeat(std::string("\x38\x00", 2), kElements))),
       "number of samples exceeds --max_samples_per_push (100000)"},
      {"types outside the enumeration",
       Wrap(0, std::string("\x0a\x01\x61", 3) + Repeat(std::string("\x18\x63", 2), kElements)),
       "number of samples exceeds --max_samples_per_push (100000)"},
      {"an unknown group holding fields",
       Wrap(0, gauge + "\x7b" + Repeat(std::string("\x08\x00", 2), kElements) + "\x7c"),
       "number of samples exceeds --max_samples_per_push (100000)"},
      // Protobuf's parser keeps a message field of another wire type as an unknown field and
      // goes on; so does the count.
      {"native spans after a counter written as a varint",
       Wrap(0, histogram + Wrap('\x22', std::string("\x18\x00", 2) +
                                            Wrap('\x3a', Repeat(Wrap('\x62', ""), kElements)))),
       "number of samples exceeds --max_samples_per_push (100000)"},
  };
  for (const auto& c : cases) {
    std::string out;
    const size_t before = BytesAllocatedSoFar();
    const absl::Status status = DecodeProtobufPushToWire(c.body, limits, &out);
    const size_t allocated = BytesAllocatedSoFar() - before;
    EXPECT_THAT(status.message(), HasSubstr(c.error)) << c.what;
    EXPECT_LT(allocated, size_t{16} << 20) << c.what << ": " << allocated << " bytes";
    EXPECT_TRUE(out.empty());
  }
}

// The sample limit counts a value per counter, gauge or untyped metric, and a summary's
// quantiles or a histogram's buckets plus 2; both decoders agree on where it falls.
TEST(ProtobufDecoderTest, TheSampleLimitCountsEachValueBucketQuantileSumAndCount) {
  client::MetricFamily gauges = Family("g", client::GAUGE);
  for (int i = 0; i < 3; ++i)
    AddMetric(&gauges, {{"i", absl::StrCat(i)}})->mutable_gauge()->set_value(i);
  client::MetricFamily histograms = Family("h", client::HISTOGRAM);
  client::Histogram* h = histograms.add_metric()->mutable_histogram();
  h->set_sample_count(2);
  for (double bound : {0.1, 1.0}) {
    client::Bucket* b = h->add_bucket();
    b->set_upper_bound(bound);
    b->set_cumulative_count(1);
  }
  const std::string body = Delimited({gauges, histograms});  // 3 + (2 + 2) = 7 samples
  TextParserLimits limits;
  for (size_t max : {7, 6}) {
    limits.max_samples = max;
    std::string wire;
    Families families;
    const absl::Status to_wire = DecodeProtobufPushToWire(body, limits, &wire);
    const absl::Status messages = DecodeProtobufPush(body, limits, &families);
    EXPECT_EQ(to_wire.ok(), max == 7) << max << ": " << to_wire;
    EXPECT_EQ(to_wire, messages) << max;
  }
}

}  // namespace
}  // namespace pushgate
