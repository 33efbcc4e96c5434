#include "libs/protobuf_decoder/internal/fast_path.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "libs/protobuf_decoder/protobuf_decoder.h"
#include "proto/ingest.pb.h"
#include "proto/prometheus_client.pb.h"

namespace pushgate {
namespace protobuf_decoder_internal {
namespace {

namespace client = ::io::prometheus::client;

std::string Delimited(const std::vector<client::MetricFamily>& families) {
  std::string body;
  for (const client::MetricFamily& family : families) {
    std::string message = family.SerializeAsString();
    for (uint64_t n = message.size();; n >>= 7) {
      if (n < 0x80) {
        body.push_back(static_cast<char>(n));
        break;
      }
      body.push_back(static_cast<char>(n | 0x80));
    }
    body += message;
  }
  return body;
}

// What the general path makes of `body`: PushRequest.families in wire form, or its error.
std::string GeneralPath(const std::string& body, const TextParserLimits& limits,
                        absl::Status* status) {
  v1::PushRequest request;
  *status = DecodeProtobufPush(body, limits, request.mutable_families());
  return status->ok() ? request.SerializeAsString() : "";
}

// The fast path must take `body` and write exactly the general path's bytes after what `out`
// held.
void ExpectTaken(const std::string& body, const TextParserLimits& limits = {}) {
  absl::Status status;
  const std::string expected = GeneralPath(body, limits, &status);
  ASSERT_TRUE(status.ok()) << status;
  const std::string prefix = "\x08\x07";
  std::string out = prefix;
  size_t series = 0;
  ASSERT_TRUE(TranscodeCommonPush(body, limits, &out, &series)) << "declined";
  EXPECT_EQ(out.substr(prefix.size()), expected);
  EXPECT_EQ(out.substr(0, prefix.size()), prefix);
  v1::PushRequest request;
  ASSERT_TRUE(request.ParseFromString(expected));
  size_t expected_series = 0;
  for (const v1::MetricFamily& family : request.families()) expected_series += family.series_size();
  EXPECT_EQ(series, expected_series);
}

// The fast path must decline `body`, leaving `out` alone, and the decoder must still answer
// as the general path does.
void ExpectDeclined(const std::string& body, const TextParserLimits& limits = {}) {
  const std::string prefix = "\x08\x07";
  std::string out = prefix;
  size_t series = 0;
  EXPECT_FALSE(TranscodeCommonPush(body, limits, &out, &series)) << "taken";
  EXPECT_EQ(out, prefix);

  absl::Status expected_status;
  const std::string expected = GeneralPath(body, limits, &expected_status);
  std::string wire;
  const absl::Status status = DecodeProtobufPushToWire(body, limits, &wire);
  EXPECT_EQ(status, expected_status);
  EXPECT_EQ(wire, expected);
}

client::MetricFamily Counter(const std::string& name, double value) {
  client::MetricFamily family;
  family.set_name(name);
  family.set_help("Requests served.");
  family.set_type(client::COUNTER);
  client::Metric* metric = family.add_metric();
  client::LabelPair* label = metric->add_label();
  label->set_name("code");
  label->set_value("200");
  label = metric->add_label();
  label->set_name("method");
  label->set_value("GET");
  metric->mutable_counter()->set_value(value);
  return family;
}

client::MetricFamily Histogram(const std::string& name) {
  client::MetricFamily family;
  family.set_name(name);
  family.set_type(client::HISTOGRAM);
  client::Metric* metric = family.add_metric();
  client::LabelPair* label = metric->add_label();
  label->set_name("handler");
  label->set_value("/api");
  client::Histogram* h = metric->mutable_histogram();
  h->set_sample_count(10);
  h->set_sample_sum(2.5);
  uint64_t count = 0;
  for (double bound : {0.1, 0.5, 0.5, 1.0, std::numeric_limits<double>::infinity()}) {
    client::Bucket* b = h->add_bucket();
    b->set_upper_bound(bound);
    b->set_cumulative_count(count += 2);
  }
  return family;
}

TEST(TranscodeCommonPushTest, TakesWhatClientsSend) {
  client::MetricFamily counter = Counter("http_requests_total", 1027);
  // client_golang writes created timestamps; the general path ignores them.
  counter.mutable_metric(0)->mutable_counter()->mutable_created_timestamp()->set_seconds(
      1700000000);
  counter.set_unit("requests");  // ignored too

  client::MetricFamily gauge;
  gauge.set_name("temperature");
  gauge.set_type(client::GAUGE);
  for (double v : {0.0, -0.0, -1.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    client::Metric* metric = gauge.add_metric();
    client::LabelPair* label = metric->add_label();
    label->set_name("room");
    label->set_value(std::signbit(v) ? "cellar" : "");  // an empty value is kept
    metric->mutable_gauge()->set_value(v);
  }
  gauge.mutable_metric(0)->set_timestamp_ms(1700000000123);
  gauge.mutable_metric(1)->set_timestamp_ms(-5);
  gauge.mutable_metric(2)->set_timestamp_ms(0);

  client::MetricFamily untyped;
  untyped.set_name("jobs:last_success");
  untyped.set_type(client::UNTYPED);
  untyped.add_metric()->mutable_untyped()->set_value(3);

  client::MetricFamily absent_type;  // a COUNTER
  absent_type.set_name("no_type");
  absent_type.add_metric()->mutable_counter();

  client::MetricFamily summary;
  summary.set_name("rpc_duration_seconds");
  summary.set_help("caf\xc3\xa9");
  summary.set_type(client::SUMMARY);
  client::Summary* s = summary.add_metric()->mutable_summary();
  s->set_sample_count(7);
  s->set_sample_sum(0.75);
  s->add_quantile()->set_quantile(0.5);
  s->mutable_quantile(0)->set_value(0.1);
  s->add_quantile()->set_quantile(0.99);
  summary.add_metric()->mutable_summary();  // an empty summary

  client::MetricFamily histogram = Histogram("request_seconds");
  histogram.mutable_metric(0)->mutable_histogram()->set_sample_count_float(10.5);
  histogram.mutable_metric(0)->mutable_histogram()->mutable_bucket(1)->set_cumulative_count_float(
      2.5);
  histogram.mutable_metric(0)->mutable_histogram()->mutable_created_timestamp()->set_nanos(5);
  client::MetricFamily gauge_histogram = Histogram("queue_size");
  gauge_histogram.set_type(client::GAUGE_HISTOGRAM);
  gauge_histogram.add_metric()->mutable_histogram();  // no buckets at all
  // As the Go client writes it: without the +Inf bucket, which both paths add.
  client::MetricFamily implicit_inf = Histogram("response_bytes");
  implicit_inf.mutable_metric(0)->mutable_histogram()->mutable_bucket()->RemoveLast();

  client::MetricFamily empty;  // a family without metrics is kept
  empty.set_name("empty");
  empty.set_type(client::GAUGE);

  ExpectTaken(Delimited({counter, gauge, untyped, absent_type, summary, histogram, gauge_histogram,
                         implicit_inf, empty}));
  ExpectTaken("");
  TextParserLimits limits;
  limits.max_series = 2;
  limits.max_labels_per_series = 2;
  limits.max_label_name_length = 6;
  limits.max_label_value_length = 3;
  ExpectTaken(Delimited({Counter("a", 1), Counter("b", 2)}), limits);
}

TEST(TranscodeCommonPushTest, LongStringsAndManySeries) {
  client::MetricFamily family = Counter("big", 1);
  family.set_help(std::string(300, 'h'));  // lengths of two-byte varints
  for (int i = 0; i < 200; ++i) {
    client::Metric* metric = family.add_metric();
    client::LabelPair* label = metric->add_label();
    label->set_name("id");
    label->set_value(std::string(i, 'v'));
    metric->mutable_counter()->set_value(i);
  }
  ExpectTaken(Delimited({family}));
}

// The thread's scratch, grown past what it keeps by a push of 30,000 series, serves the next
// push as before.
TEST(TranscodeCommonPushTest, TakesPushesAfterAVeryLargeOne) {
  client::MetricFamily family;
  family.set_name("many");
  family.set_type(client::GAUGE);
  for (int i = 0; i < 30000; ++i) {
    client::Metric* metric = family.add_metric();
    client::LabelPair* label = metric->add_label();
    label->set_name("i");
    label->set_value(std::to_string(i));
    metric->mutable_gauge()->set_value(i);
  }
  ExpectTaken(Delimited({family}));
  ExpectTaken(Delimited({Counter("after", 1), Histogram("h")}));
}

TEST(TranscodeCommonPushTest, DeclinesWhatOnlyTheGeneralPathHandles) {
  {
    client::MetricFamily f = Counter("c", 1);
    f.mutable_metric(0)->mutable_counter()->mutable_exemplar()->set_value(1);
    ExpectDeclined(Delimited({f}));
  }
  {
    client::MetricFamily f = Histogram("h");
    f.mutable_metric(0)->mutable_histogram()->set_schema(3);  // native histogram
    ExpectDeclined(Delimited({f}));
  }
  {
    client::MetricFamily f = Histogram("h");
    f.mutable_metric(0)->mutable_histogram()->mutable_bucket(0)->set_upper_bound(7);  // unsorted
    ExpectDeclined(Delimited({f}));
  }
  {
    client::MetricFamily f = Histogram("h");
    f.mutable_metric(0)->mutable_histogram()->mutable_bucket(2)->set_upper_bound(std::nan(""));
    ExpectDeclined(Delimited({f}));  // refused by the general path
  }
  {
    client::MetricFamily f = Histogram("h");
    f.mutable_metric(0)->mutable_histogram()->mutable_bucket(0)->mutable_exemplar();
    ExpectDeclined(Delimited({f}));
  }
  // The same family twice: the last one wins, in the first one's place.
  ExpectDeclined(Delimited({Counter("a", 1), Counter("b", 2), Counter("a", 3)}));
  {
    client::MetricFamily f = Counter("c", 1);
    f.mutable_metric(0)->mutable_gauge()->set_value(2);  // another type's value
    ExpectDeclined(Delimited({f}));
  }
  {
    client::MetricFamily f = Counter("c", 1);
    f.mutable_metric(0)->clear_counter();  // no value: refused
    ExpectDeclined(Delimited({f}));
  }
  {
    client::MetricFamily f = Counter("c", 1);
    f.set_help("bad \xff help");  // repaired by the general path
    ExpectDeclined(Delimited({f}));
  }
  for (const char* bad : {"", "0abc", "a-b", "__name__", "code"}) {
    client::MetricFamily f = Counter("c", 1);
    client::LabelPair* label = f.mutable_metric(0)->add_label();
    label->set_name(bad);  // "code" repeats a name
    label->set_value("x");
    ExpectDeclined(Delimited({f}));
  }
  {
    client::MetricFamily f = Counter("c", 1);
    f.mutable_metric(0)->mutable_label(0)->set_value("\xc3");
    ExpectDeclined(Delimited({f}));
  }
  {
    client::MetricFamily f = Counter("c", 1);
    for (int i = 0; i < 40; ++i) {  // beyond what the fast path compares pairwise
      client::LabelPair* label = f.mutable_metric(0)->add_label();
      label->set_name("l" + std::to_string(i));
      label->set_value("x");
    }
    ExpectDeclined(Delimited({f}));
  }
  for (const char* name : {"", "1up", "a b"}) {
    client::MetricFamily f = Counter(name, 1);
    ExpectDeclined(Delimited({f}));
  }
  TextParserLimits limits;
  limits.max_series = 1;
  ExpectDeclined(Delimited({Counter("a", 1), Counter("b", 2)}), limits);
  limits = {};
  limits.max_labels_per_series = 1;
  ExpectDeclined(Delimited({Counter("a", 1)}), limits);
  limits = {};
  limits.max_label_name_length = 5;
  ExpectDeclined(Delimited({Counter("a", 1)}), limits);
  limits = {};
  limits.max_label_value_length = 2;
  ExpectDeclined(Delimited({Counter("a", 1)}), limits);
}

// Protobuf builds every unknown field, which the general path counts against the sample limit;
// the fast path leaves such bodies to it (and takes a unit, which the general path ignores).
TEST(TranscodeCommonPushTest, LeavesUnknownFieldsToTheGeneralPath) {
  // A group (field 5, wire types 3 and 4) in a family, holding a varint.
  ExpectDeclined(std::string("\x07\x0a\x01x\x2b\x08\x01\x2c", 8));
  // Field 15, which MetricFamily does not have.
  ExpectDeclined(std::string("\x05\x0a\x01x\x7a\x00", 6));
  // The unit, as a string.
  ExpectTaken(std::string("\x06\x0a\x01x\x2a\x01s", 7));
}

TEST(TranscodeCommonPushTest, DeclinesUnusualWireData) {
  const std::string good = Delimited({Counter("c", 1)});
  ExpectDeclined(good.substr(0, good.size() - 1));  // truncated
  ExpectDeclined(good + "\x05");                    // a length beyond the end
  ExpectDeclined("\x80\x80\x80\x80\x80\x80\x01");   // a varint too long for a length
  // type 9 is no MetricType: the general path names it.
  ExpectDeclined(std::string("\x05\x0a\x01x\x18\x09", 6));
  // A group left open.
  ExpectDeclined(std::string("\x05\x0a\x01x\x2b\x08", 6));
  // A known field with another wire type, which protobuf keeps among unknown fields: the
  // family's name as a varint, then as a string.
  ExpectDeclined(std::string("\x05\x08\x01\x0a\x01x", 6));
  // The name's tag written in six bytes, which protobuf does not read.
  ExpectDeclined(std::string("\x08\x8a\x80\x80\x80\x80\x00\x01x", 9));
}

}  // namespace
}  // namespace protobuf_decoder_internal
}  // namespace pushgate
