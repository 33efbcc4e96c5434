#include "libs/text_parser/text_parser.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "gtest/gtest.h"
#include "proto/ingest.pb.h"
#include "tests/harness/allocation_counter.h"

namespace pushgate {
namespace {

using ::pushgate::v1::MetricFamily;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Families = google::protobuf::RepeatedPtrField<MetricFamily>;

// ---------------------------------------------------------------------------------------
// Helpers: a compact, readable rendering of the parse result, so that a test states the
// whole expected structure (families, types, help, series, labels in order, values,
// timestamps) in a few lines.

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return absl::StrFormat("%g", v);
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string TypeName(v1::MetricType type) {
  std::string name = v1::MetricType_Name(type);
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

std::string RenderSeries(const v1::Series& s) {
  std::vector<std::string> labels;
  for (const auto& l : s.labels())
    labels.push_back(absl::StrCat(l.name(), "=\"", Escape(l.value()), "\""));
  std::string out = absl::StrCat("{", absl::StrJoin(labels, ","), "}");
  switch (s.data_case()) {
    case v1::Series::kValue:
      absl::StrAppend(&out, " ", Num(s.value()));
      break;
    case v1::Series::kSummary: {
      std::vector<std::string> qs;
      for (const auto& q : s.summary().quantiles()) {
        qs.push_back(absl::StrCat(Num(q.quantile()), ":", Num(q.value())));
      }
      absl::StrAppend(&out, " count=", Num(s.summary().count()), " sum=", Num(s.summary().sum()),
                      " q=[", absl::StrJoin(qs, " "), "]");
      break;
    }
    case v1::Series::kHistogram: {
      std::vector<std::string> bs;
      for (const auto& b : s.histogram().buckets()) {
        bs.push_back(absl::StrCat(Num(b.upper_bound()), ":", Num(b.cumulative_count())));
      }
      absl::StrAppend(&out, " count=", Num(s.histogram().count()),
                      " sum=", Num(s.histogram().sum()), " b=[", absl::StrJoin(bs, " "), "]");
      break;
    }
    default:
      absl::StrAppend(&out, " <no data>");
  }
  if (s.has_timestamp_ms()) absl::StrAppend(&out, " @", s.timestamp_ms());
  return out;
}

std::string Render(const Families& families) {
  std::string out;
  for (const MetricFamily& f : families) {
    absl::StrAppend(&out, f.name(), " ", TypeName(f.type()));
    if (!f.help().empty()) absl::StrAppend(&out, " help=\"", Escape(f.help()), "\"");
    out += "\n";
    for (const auto& s : f.series()) absl::StrAppend(&out, "  ", RenderSeries(s), "\n");
  }
  return out;
}

// Everything in `families`, for checking that nothing changed.
std::string DebugStrings(const Families& families) {
  std::string out;
  for (const MetricFamily& f : families) absl::StrAppend(&out, f.DebugString(), "\n");
  return out;
}

// Parses `body` that must be accepted and returns the rendering.
std::string Parse(absl::string_view body, const TextParserLimits& limits = {}) {
  Families out;
  absl::Status status = ParseText(body, limits, &out);
  EXPECT_TRUE(status.ok()) << status << "\nbody:\n" << body;
  return Render(out);
}

Families ParseToProto(absl::string_view body) {
  Families out;
  absl::Status status = ParseText(body, {}, &out);
  EXPECT_TRUE(status.ok()) << status << "\nbody:\n" << body;
  return out;
}

// Parses `body` that must be rejected and returns the message.
std::string Reject(absl::string_view body, const TextParserLimits& limits = {}) {
  Families out;
  absl::Status status = ParseText(body, limits, &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "body:\n" << body;
  EXPECT_EQ(out.size(), 0) << "a rejected push left families behind";
  return std::string(status.message());
}

double ParseValue(const std::string& text) {
  Families out = ParseToProto(absl::StrCat("m ", text, "\n"));
  if (out.size() != 1 || out[0].series_size() != 1) {
    ADD_FAILURE() << "no sample for " << text;
    return -12345;
  }
  return out[0].series(0).value();
}

// ---------------------------------------------------------------------------------------
// The conformance vectors' bodies (shared/conformance/conversion), as the parser sees them.

constexpr char kStandardBody[] =
    "\n"
    "# HELP promhttp_metric_handler_errors_total Total number of internal errors encountered "
    "by the promhttp metric handler.\n"
    "# TYPE promhttp_metric_handler_errors_total counter\n"
    "promhttp_metric_handler_errors_total{cause=\"encoding\"} 0\n"
    "promhttp_metric_handler_errors_total{cause=\"gathering\"} 0\n"
    "# HELP promhttp_metric_handler_requests_in_flight Current number of scrapes being "
    "served.\n"
    "# TYPE promhttp_metric_handler_requests_in_flight gauge\n"
    "promhttp_metric_handler_requests_in_flight 1\n"
    "# HELP promhttp_metric_handler_requests_total Total number of scrapes by HTTP status "
    "code.\n"
    "# TYPE promhttp_metric_handler_requests_total counter\n"
    "promhttp_metric_handler_requests_total{code=\"200\"} 15143\n"
    "promhttp_metric_handler_requests_total{code=\"500\"} 0\n"
    "promhttp_metric_handler_requests_total{code=\"503\"} 0\n"
    "# HELP go_gc_duration_seconds A summary of the GC invocation durations.\n"
    "# TYPE go_gc_duration_seconds summary\n"
    "go_gc_duration_seconds{quantile=\"0\"} 0\n"
    "go_gc_duration_seconds{quantile=\"0.25\"} 0\n"
    "go_gc_duration_seconds{quantile=\"0.5\"} 0\n"
    "# HELP http_request_duration_seconds duration histogram of http responses labeled with: "
    "status_code, method\n"
    "# TYPE http_request_duration_seconds histogram\n"
    "http_request_duration_seconds_bucket{le=\"0.003\",status_code=\"404\",method=\"GET\"} 1\n"
    "http_request_duration_seconds_bucket{le=\"0.03\",status_code=\"404\",method=\"GET\"} 1\n"
    "http_request_duration_seconds_bucket{le=\"0.1\",status_code=\"404\",method=\"GET\"} 1\n"
    "http_request_duration_seconds_bucket{le=\"0.3\",status_code=\"404\",method=\"GET\"} 1\n"
    "http_request_duration_seconds_bucket{le=\"1.5\",status_code=\"404\",method=\"GET\"} 1\n"
    "http_request_duration_seconds_bucket{le=\"10\",status_code=\"404\",method=\"GET\"} 1\n"
    "http_request_duration_seconds_bucket{le=\"+Inf\",status_code=\"404\",method=\"GET\"} 1\n"
    "http_request_duration_seconds_sum{status_code=\"404\",method=\"GET\"} 0.002451013\n"
    "http_request_duration_seconds_count{status_code=\"404\",method=\"GET\"} 1\n"
    "# HELP up 1 = up, 0 = not up\n"
    "# TYPE up untyped\n"
    "up 1\n"
    "\n";

TEST(ConformanceBodiesTest, P1StandardExposition) {
  EXPECT_EQ(Parse(kStandardBody),
            "promhttp_metric_handler_errors_total counter help=\"Total number of internal "
            "errors encountered by the promhttp metric handler.\"\n"
            "  {cause=\"encoding\"} 0\n"
            "  {cause=\"gathering\"} 0\n"
            "promhttp_metric_handler_requests_in_flight gauge help=\"Current number of scrapes "
            "being served.\"\n"
            "  {} 1\n"
            "promhttp_metric_handler_requests_total counter help=\"Total number of scrapes by "
            "HTTP status code.\"\n"
            "  {code=\"200\"} 15143\n"
            "  {code=\"500\"} 0\n"
            "  {code=\"503\"} 0\n"
            "go_gc_duration_seconds summary help=\"A summary of the GC invocation durations.\"\n"
            "  {} count=0 sum=0 q=[0:0 0.25:0 0.5:0]\n"
            "http_request_duration_seconds histogram help=\"duration histogram of http "
            "responses labeled with: status_code, method\"\n"
            "  {status_code=\"404\",method=\"GET\"} count=1 sum=0.00245101 b=[0.003:1 0.03:1 "
            "0.1:1 0.3:1 1.5:1 10:1 +Inf:1]\n"
            "up untyped help=\"1 = up, 0 = not up\"\n"
            "  {} 1\n");
  Families out = ParseToProto(kStandardBody);
  EXPECT_EQ(out[4].series(0).histogram().sum(), 0.002451013);
}

TEST(ConformanceBodiesTest, P6RepeatedHelpAndTypeBlocksJoinOneFamily) {
  constexpr char kBody[] =
      "# HELP promhttp_metric_handler_errors_total Total.\n"
      "# TYPE promhttp_metric_handler_errors_total counter\n"
      "promhttp_metric_handler_errors_total{cause=\"encoding\"} 0\n"
      "promhttp_metric_handler_errors_total{cause=\"gathering\"} 0\n"
      "# HELP promhttp_metric_handler_errors_total Total.\n"
      "# TYPE promhttp_metric_handler_errors_total counter\n"
      "promhttp_metric_handler_errors_total{cause=\"encoding\"} 1\n"
      "promhttp_metric_handler_errors_total{cause=\"gathering\"} 1\n"
      "# HELP go_gc_duration_seconds A summary.\n"
      "# TYPE go_gc_duration_seconds summary\n"
      "go_gc_duration_seconds{quantile=\"0\"} 0\n"
      "go_gc_duration_seconds{quantile=\"0.25\"} 0\n"
      "# HELP go_gc_duration_seconds A summary.\n"
      "# TYPE go_gc_duration_seconds summary\n"
      "go_gc_duration_seconds{quantile=\"0\"} 1\n"
      "go_gc_duration_seconds{quantile=\"0.25\"} 1\n"
      "# HELP http_request_duration_seconds duration histogram\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"0.003\",status_code=\"404\",method=\"GET\"} 1\n"
      "# HELP http_request_duration_seconds duration histogram\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"0.003\",status_code=\"404\",method=\"GET\"} 2\n"
      "# HELP up 1 = up, 0 = not up\n"
      "# TYPE up untyped\n"
      "up 1\n"
      "# HELP up 1 = up, 0 = not up\n"
      "# TYPE up untyped\n"
      "up 0\n";
  EXPECT_EQ(Parse(kBody),
            "promhttp_metric_handler_errors_total counter help=\"Total.\"\n"
            "  {cause=\"encoding\"} 0\n"
            "  {cause=\"gathering\"} 0\n"
            "  {cause=\"encoding\"} 1\n"
            "  {cause=\"gathering\"} 1\n"
            "go_gc_duration_seconds summary help=\"A summary.\"\n"
            "  {} count=0 sum=0 q=[0:0 0.25:0 0:1 0.25:1]\n"
            "http_request_duration_seconds histogram help=\"duration histogram\"\n"
            "  {status_code=\"404\",method=\"GET\"} count=0 sum=0 b=[0.003:1 0.003:2]\n"
            "up untyped help=\"1 = up, 0 = not up\"\n"
            "  {} 1\n"
            "  {} 0\n");
}

TEST(ConformanceBodiesTest, P7InfoFamilyAndUnsortedBuckets) {
  constexpr char kBody[] =
      "\n\n# TYPE foo info\n"
      "foo_info{name=\"pretty name\",version=\"8.2.7\"} 1\n"
      "\n"
      "# TYPE foo info\n"
      "foo_info{entity=\"controller\",name=\"pretty name\",version=\"8.2.7\"} 1.0\n"
      "foo_info{entity=\"replica\",name=\"prettier name\",version=\"8.1.9\"} 1.0\n"
      "\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"1.5\",status_code=\"404\",method=\"GET\"} 1\n"
      "http_request_duration_seconds_bucket{le=\"10\",status_code=\"404\",method=\"GET\"} 1\n"
      "http_request_duration_seconds_bucket{le=\"1.2\",status_code=\"404\",method=\"GET\"} 1\n"
      "http_request_duration_seconds_bucket{le=\"+Inf\",status_code=\"403\",method=\"GET\"} 1\n"
      "http_request_duration_seconds_sum{status_code=\"404\",method=\"GET\"} 0.5\n"
      "http_request_duration_seconds_count{status_code=\"404\",method=\"GET\"} 1\n";
  EXPECT_EQ(Parse(kBody),
            "foo_info info\n"
            "  {name=\"pretty name\",version=\"8.2.7\"} 1\n"
            "  {entity=\"controller\",name=\"pretty name\",version=\"8.2.7\"} 1\n"
            "  {entity=\"replica\",name=\"prettier name\",version=\"8.1.9\"} 1\n"
            "http_request_duration_seconds histogram\n"
            "  {status_code=\"404\",method=\"GET\"} count=1 sum=0.5 b=[1.2:1 1.5:1 10:1]\n"
            "  {status_code=\"403\",method=\"GET\"} count=0 sum=0 b=[+Inf:1]\n");
}

TEST(ConformanceBodiesTest, P8BucketAndSumWithoutTypeAreUntyped) {
  EXPECT_EQ(Parse("http_request_duration_seconds_bucket 1\n"
                  "http_request_duration_seconds_bucket{le=\"0.1\"} 2\n"
                  "http_request_duration_seconds_sum 3\n"),
            "http_request_duration_seconds_bucket untyped\n"
            "  {} 1\n"
            "  {le=\"0.1\"} 2\n"
            "http_request_duration_seconds_sum untyped\n"
            "  {} 3\n");
  // The `le` value is kept exactly as written.
  Families out = ParseToProto("x_bucket{le=\"0.10\"} 2\n");
  EXPECT_EQ(out[0].series(0).labels(0).value(), "0.10");
}

TEST(ConformanceBodiesTest, H4Timestamps) {
  EXPECT_EQ(Parse("# TYPE cc_total counter\n"
                  "cc_total{a=\"1\"} 5 1700000000123\n"
                  "cc_total{a=\"2\"} 6\n"
                  "cc_total{a=\"3\"} 7 0\n"
                  "cc_total{a=\"4\"} 8 -5\n"
                  "# TYPE ss_lat summary\n"
                  "ss_lat{quantile=\"0.5\"} 1 1700000000123\n"
                  "ss_lat_sum 2 1700000000123\n"
                  "ss_lat_count 3 1700000000123\n"
                  "# TYPE hh_lat histogram\n"
                  "hh_lat_bucket{le=\"1\"} 1 1700000000123\n"
                  "hh_lat_bucket{le=\"+Inf\"} 2 1700000000123\n"
                  "hh_lat_sum 3 1700000000123\n"
                  "hh_lat_count 2 1700000000123\n"),
            "cc_total counter\n"
            "  {a=\"1\"} 5 @1700000000123\n"
            "  {a=\"2\"} 6\n"
            "  {a=\"3\"} 7 @0\n"
            "  {a=\"4\"} 8 @-5\n"
            "ss_lat summary\n"
            "  {} count=3 sum=2 q=[0.5:1] @1700000000123\n"
            "hh_lat histogram\n"
            "  {} count=2 sum=3 b=[1:1 +Inf:2] @1700000000123\n");
}

TEST(ConformanceBodiesTest, H5InfoLabelsAndUrlOverrides) {
  EXPECT_EQ(Parse("# TYPE target info\n"
                  "target_info{service_name=\"svc\",job=\"infojob\"} 1\n"
                  "# TYPE m_total counter\n"
                  "m_total{x=\"1\"} 1\n"
                  "foo_total{job=\"samplejob\",instance=\"sampleinst\",other=\"x\"} 1\n"
                  "# TYPE lat histogram\n"
                  "lat_bucket{le=\"1\",instance=\"sampleinst\"} 2\n"
                  "lat_bucket{le=\"+Inf\",instance=\"sampleinst\"} 3\n"
                  "lat_sum{instance=\"sampleinst\"} 4\n"
                  "lat_count{instance=\"sampleinst\"} 3\n"),
            "target_info info\n"
            "  {service_name=\"svc\",job=\"infojob\"} 1\n"
            "m_total counter\n"
            "  {x=\"1\"} 1\n"
            "foo_total untyped\n"
            "  {job=\"samplejob\",instance=\"sampleinst\",other=\"x\"} 1\n"
            "lat histogram\n"
            "  {instance=\"sampleinst\"} count=3 sum=4 b=[1:2 +Inf:3]\n");
}

TEST(ConformanceBodiesTest, H6NanAndInfValuesAreCarried) {
  EXPECT_EQ(Parse("# TYPE gg_val gauge\n"
                  "gg_val{k=\"nan\"} NaN\n"
                  "gg_val{k=\"pinf\"} +Inf\n"
                  "gg_val{k=\"ninf\"} -Inf\n"
                  "gg_val{k=\"ok\"} 1.5\n"
                  "# TYPE ss_lat summary\n"
                  "ss_lat{quantile=\"0.5\"} NaN\n"
                  "ss_lat{quantile=\"0.9\"} +Inf\n"
                  "ss_lat{quantile=\"0.99\"} 2\n"
                  "ss_lat{quantile=\"0.999\"} -Inf\n"
                  "ss_lat_sum NaN\n"
                  "ss_lat_count 0\n"
                  "# TYPE hh_lat histogram\n"
                  "hh_lat_bucket{le=\"+Inf\"} 1\n"
                  "hh_lat_sum +Inf\n"
                  "hh_lat_count 1\n"),
            "gg_val gauge\n"
            "  {k=\"nan\"} NaN\n"
            "  {k=\"pinf\"} +Inf\n"
            "  {k=\"ninf\"} -Inf\n"
            "  {k=\"ok\"} 1.5\n"
            "ss_lat summary\n"
            "  {} count=0 sum=NaN q=[0.5:NaN 0.9:+Inf 0.99:2 0.999:-Inf]\n"
            "hh_lat histogram\n"
            "  {} count=1 sum=+Inf b=[+Inf:1]\n");
}

TEST(ConformanceBodiesTest, H7LabelEscapesAndEmptyValues) {
  Families out = ParseToProto(
      "m_a{empty=\"\"} 1\n"
      "m_b{sp=\"a b\",cm=\"a,b\",eq=\"a=b\",bs=\"a\\\\b\",nl=\"a\\nb\",tail=\"x\\\\\","
      "q=\"say \\\"hi\\\"\"} 2\n");
  ASSERT_EQ(out.size(), 2);
  ASSERT_EQ(out[0].series(0).labels_size(), 1);
  EXPECT_EQ(out[0].series(0).labels(0).name(), "empty");
  EXPECT_EQ(out[0].series(0).labels(0).value(), "");
  const auto& labels = out[1].series(0).labels();
  ASSERT_EQ(labels.size(), 7);
  EXPECT_EQ(labels[0].value(), "a b");
  EXPECT_EQ(labels[1].value(), "a,b");
  EXPECT_EQ(labels[2].value(), "a=b");
  EXPECT_EQ(labels[3].value(), "a\\b");
  EXPECT_EQ(labels[4].value(), "a\nb");
  EXPECT_EQ(labels[5].value(), "x\\");
  EXPECT_EQ(labels[6].value(), "say \"hi\"");
}

TEST(ConformanceBodiesTest, H8NumberFormats) {
  Families out = ParseToProto(
      "# TYPE rpc_duration_seconds histogram\n"
      "rpc_duration_seconds_bucket{le=\"1e-05\"} 1\n"
      "rpc_duration_seconds_bucket{le=\"0.0001\"} 2\n"
      "rpc_duration_seconds_bucket{le=\"0.50\"} 3\n"
      "rpc_duration_seconds_bucket{le=\"100000\"} 4\n"
      "rpc_duration_seconds_bucket{le=\"1000000\"} 5\n"
      "rpc_duration_seconds_bucket{le=\"+Inf\"} 6\n"
      "rpc_duration_seconds_sum 123456789.125\n"
      "rpc_duration_seconds_count 6\n"
      "# TYPE s summary\n"
      "s{quantile=\"0.50\"} 3\n"
      "s{quantile=\"0.999\"} 1e21\n"
      "s{quantile=\"1e-05\"} 1e-7\n"
      "s_sum 0\n"
      "s_count 0\n"
      "# TYPE foo_total counter\n"
      "foo_total 1.5e3\n"
      "f_big 12345678901234567890\n"
      "f_small 0.000000123\n");
  ASSERT_EQ(out.size(), 5);
  const v1::Histogram& h = out[0].series(0).histogram();
  ASSERT_EQ(h.buckets_size(), 6);
  const double bounds[] = {1e-05,  0.0001,  0.5,
                           100000, 1000000, std::numeric_limits<double>::infinity()};
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(h.buckets(k).upper_bound(), bounds[k]);
    EXPECT_EQ(h.buckets(k).cumulative_count(), k + 1);
  }
  EXPECT_EQ(h.sum(), 123456789.125);
  EXPECT_EQ(h.count(), 6);
  const v1::Summary& s = out[1].series(0).summary();
  ASSERT_EQ(s.quantiles_size(), 3);
  EXPECT_EQ(s.quantiles(0).quantile(), 0.5);
  EXPECT_EQ(s.quantiles(1).quantile(), 0.999);
  EXPECT_EQ(s.quantiles(1).value(), 1e21);
  EXPECT_EQ(s.quantiles(2).quantile(), 1e-05);
  EXPECT_EQ(s.quantiles(2).value(), 1e-7);
  EXPECT_EQ(out[2].series(0).value(), 1500);
  EXPECT_EQ(out[3].name(), "f_big");
  EXPECT_EQ(out[3].series(0).value(), 12345678901234567890.0);
  EXPECT_EQ(out[4].series(0).value(), 0.000000123);
}

TEST(ConformanceBodiesTest, P5EtcdHistogramSumKeepsAllDigits) {
  std::string body =
      "etcd_untyped_metric{cluster_version=\"3.4\"} 1\n"
      "# HELP etcd_debugging_auth_revision The current revision of auth store.\n"
      "# TYPE etcd_debugging_auth_revision gauge\n"
      "etcd_debugging_auth_revision 1\n"
      "# TYPE etcd_commit_seconds histogram\n";
  for (const char* le : {"0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128",
                         "0.256", "0.512", "1.024", "2.048", "4.096", "8.192", "+Inf"}) {
    absl::StrAppend(&body, "etcd_commit_seconds_bucket{le=\"", le, "\"} 24920\n");
  }
  absl::StrAppend(&body, "etcd_commit_seconds_sum 0.0007340149999999998\n",
                  "etcd_commit_seconds_count 24920\n");
  Families out = ParseToProto(body);
  ASSERT_EQ(out.size(), 3);
  EXPECT_EQ(out[0].type(), v1::UNTYPED);
  EXPECT_EQ(out[1].type(), v1::GAUGE);
  const v1::Histogram& h = out[2].series(0).histogram();
  EXPECT_EQ(h.buckets_size(), 15);
  EXPECT_EQ(h.buckets(1).upper_bound(), 0.002);
  EXPECT_EQ(h.buckets(14).upper_bound(), std::numeric_limits<double>::infinity());
  // 16 significant digits: the value must round-trip exactly, not just approximately.
  EXPECT_EQ(h.sum(), 0.0007340149999999998);
  EXPECT_NE(h.sum(), 0.000734015);
  EXPECT_EQ(h.count(), 24920);
}

TEST(ConformanceBodiesTest, NamesWithUnderscoresAndColons) {
  EXPECT_EQ(Parse("up 1\na 1\n_a 1\na_ 1\nab 1\n_ 1\n__ 1\n__x_y 1\n"
                  "job:http_requests:rate5m 1\n_etcd_write_bytes_total 1\netcd_ 1\n"),
            "up untyped\n  {} 1\na untyped\n  {} 1\n_a untyped\n  {} 1\na_ untyped\n  {} 1\n"
            "ab untyped\n  {} 1\n_ untyped\n  {} 1\n__ untyped\n  {} 1\n__x_y untyped\n  {} 1\n"
            "job:http_requests:rate5m untyped\n  {} 1\n_etcd_write_bytes_total untyped\n"
            "  {} 1\netcd_ untyped\n  {} 1\n");
}

TEST(ConformanceBodiesTest, DuplicateSeriesAreKept) {
  EXPECT_EQ(Parse("d_x{a=\"1\"} 1\n"
                  "d_x{a=\"1\"} 2\n"
                  "# TYPE hh histogram\n"
                  "hh_bucket{le=\"1\"} 1\n"
                  "hh_bucket{le=\"1\"} 5\n"
                  "hh_sum 1\n"
                  "hh_sum 9\n"
                  "hh_count 1\n"),
            "d_x untyped\n"
            "  {a=\"1\"} 1\n"
            "  {a=\"1\"} 2\n"
            "hh histogram\n"
            "  {} count=1 sum=9 b=[1:1 1:5]\n");
}

TEST(ConformanceBodiesTest, CommentsOnlyBodyHasNoFamilies) {
  EXPECT_EQ(Parse("# HELP cpu_seconds_total Total CPU time.\n"
                  "# TYPE cpu_seconds_total counter\n"),
            "");
  EXPECT_EQ(Parse(""), "");
  EXPECT_EQ(Parse("\n\n  \n\t\n"), "");
}

TEST(ConformanceBodiesTest, NoTrailingNewline) {
  EXPECT_EQ(Parse("# TYPE jobs_done_total counter\n"
                  "jobs_done_total{queue=\"a\"} 3\n"
                  "jobs_done_total{queue=\"b\"} 4"),
            "jobs_done_total counter\n"
            "  {queue=\"a\"} 3\n"
            "  {queue=\"b\"} 4\n");
}

TEST(ConformanceBodiesTest, RejectedBodies) {
  EXPECT_EQ(Reject("good_total 1\nfoo_total{a=\"x\\qy\"} 1\n"),
            "line 2: invalid escape sequence \"\\\\q\" in the value of label \"a\" in metric "
            "\"foo_total\" (only \\\\, \\\" and \\n are allowed)");
  EXPECT_EQ(Reject("good_total 1\nfoo_total{a=\"1\",a=\"2\"} 1\n"),
            "line 2: duplicate label name \"a\" in metric \"foo_total\"");
  EXPECT_EQ(Reject("good_total 1\nbad_value abc\n"),
            "line 2: invalid value \"abc\" for metric \"bad_value\"");
}

// ---------------------------------------------------------------------------------------
// Lines, comments, HELP and TYPE.

TEST(TextParserTest, LineEndingsAndWhitespace) {
  const std::string expected = "a untyped\n  {} 1\nb untyped\n  {x=\"1\"} 2\n";
  EXPECT_EQ(Parse("a 1\r\nb{x=\"1\"} 2\r\n"), expected);
  EXPECT_EQ(Parse("a 1\r\nb{x=\"1\"} 2"), expected);
  EXPECT_EQ(Parse("a 1\nb{x=\"1\"} 2\r"), expected);
  EXPECT_EQ(Parse("  a 1\n\t b{x=\"1\"} 2\n"), expected);
  EXPECT_EQ(Parse("a \t 1\nb {x=\"1\"}\t2\n"), expected);
  EXPECT_EQ(Parse("\n\r\n\n  \na 1\n\n\nb{x=\"1\"} 2\n\n"), expected);
  // No blank is needed between '}' and the value.
  EXPECT_EQ(Parse("a 1\nb{x=\"1\"}2\n"), expected);
}

// The Prometheus parser (the Pushgateway's and DataKit's) takes a blank after the value as
// the start of a timestamp, so a line may not end in blanks.
TEST(TextParserTest, BlanksAtTheEndOfASampleLine) {
  EXPECT_EQ(Reject("a 1 \n"),
            "line 1: whitespace at the end of the line after the value of metric \"a\" (end the "
            "line right after the value)");
  EXPECT_EQ(Reject("a 1\nb{x=\"1\"} 2\t\r\n"),
            "line 2: whitespace at the end of the line after the value of metric \"b\" (end the "
            "line right after the value)");
  EXPECT_EQ(Reject("a 1 1700000000000  "),
            "line 1: whitespace at the end of the line after the timestamp of metric \"a\" (end "
            "the line right after the timestamp)");
  // Blanks before an exemplar are separators, not trailing.
  EXPECT_EQ(Parse("# TYPE c counter\nc_total 1 # {t=\"x\"} 1\n"), "c_total counter\n  {} 1\n");
}

TEST(TextParserTest, HelpTextAndEscapes) {
  EXPECT_EQ(Parse("# HELP m A \\\\ backslash,\\nnewline, \"quotes\" and\ttabs kept.\nm 1\n"),
            "m untyped help=\"A \\\\ backslash,\\nnewline, \\\"quotes\\\" and\ttabs kept.\"\n"
            "  {} 1\n");
  Families out = ParseToProto("# HELP m   a\\\\b\\nc  \nm 1\n");
  EXPECT_EQ(out[0].help(), "a\\b\nc  ");
  out = ParseToProto("# HELP m\nm 1\n");
  EXPECT_EQ(out[0].help(), "");
  out = ParseToProto("# HELP m caf\xC3\xA9\r\nm 1\r\n");
  EXPECT_EQ(out[0].help(), "caf\xC3\xA9");
  // Bytes that are not UTF-8 are accepted, as the Prometheus parser does; each run of them
  // becomes one U+FFFD so the model stays valid UTF-8.
  out = ParseToProto("# HELP m caf\xE9 \xFF\xFE end \xC3\nm 1\n");
  EXPECT_EQ(out[0].help(), "caf\xEF\xBF\xBD \xEF\xBF\xBD end \xEF\xBF\xBD");
}

TEST(TextParserTest, BadHelpText) {
  EXPECT_EQ(Reject("# HELP m bad \\q escape\nm 1\n"),
            "line 1: invalid escape sequence \"\\\\q\" in HELP text of \"m\" (only \\\\ and \\n "
            "are allowed)");
  EXPECT_EQ(Reject("# HELP m quote \\\" not allowed\n"),
            "line 1: invalid escape sequence \"\\\\\\\"\" in HELP text of \"m\" (only \\\\ and "
            "\\n are allowed)");
  EXPECT_THAT(Reject("m 1\n# HELP m trailing \\\n"),
              StartsWith("line 2: invalid escape sequence \"\\\\\" in HELP text"));
  EXPECT_EQ(Reject("# HELP 1m text\n"), "line 1: invalid metric name \"1m\" in HELP line");
}

TEST(TextParserTest, RepeatedHelpLaterWins) {
  EXPECT_EQ(Parse("# HELP m first\nm 1\n# HELP m second\nm 2\n"),
            "m untyped help=\"second\"\n  {} 1\n  {} 2\n");
}

TEST(TextParserTest, OtherCommentsAreIgnored) {
  EXPECT_EQ(Parse("# just a comment\n#\n#HELP\n# HELP\n# TYPE   \n# UNIT m seconds\n"
                  "# help m lowercase keywords are comments\n#TYPE m gauge\nm 1\n"),
            "m gauge\n  {} 1\n");
}

TEST(TextParserTest, TypeNames) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"counter", "counter"}, {"gauge", "gauge"}, {"untyped", "untyped"},
      {"COUNTER", "counter"}, {"Gauge", "gauge"}, {"unknown", "untyped"},
      {"stateset", "gauge"},  {"info", "info"},
  };
  for (const auto& [word, type] : cases) {
    Families out = ParseToProto(absl::StrCat("# TYPE m ", word, "\nm 1\n"));
    ASSERT_EQ(out.size(), 1) << word;
    EXPECT_EQ(TypeName(out[0].type()), type) << word;
  }
  EXPECT_EQ(Reject("m 1\n# TYPE x counte\n"), "line 2: unknown metric type \"counte\" for \"x\"");
  EXPECT_EQ(Reject("# TYPE x counter extra\n"),
            "line 1: unknown metric type \"counter extra\" for \"x\"");
  EXPECT_EQ(Reject("# TYPE x gauge \n"),
            "line 1: whitespace after the type in the TYPE line for \"x\" (end the line right "
            "after the type)");
  // A TYPE line without a type declares nothing (as in the Prometheus parser).
  EXPECT_EQ(Parse("# TYPE x\nx 1\n# TYPE y  \n# TYPE y gauge\ny 2\n"),
            "x untyped\n  {} 1\ny gauge\n  {} 2\n");
  EXPECT_EQ(Reject("# TYPE x-y counter\n"), "line 1: invalid metric name \"x-y\" in TYPE line");
}

TEST(TextParserTest, RepeatedTypeLaterWinsBeforeSamples) {
  EXPECT_EQ(Parse("# TYPE m counter\n# TYPE m gauge\nm 1\n"), "m gauge\n  {} 1\n");
  EXPECT_EQ(Parse("# TYPE m counter\nm 1\n# TYPE m counter\nm 2\n"), "m counter\n  {} 1\n  {} 2\n");
}

// conversion.md: a repeated TYPE line is accepted and the later one wins. Among counter, gauge
// and untyped the samples already read make the same points either way.
TEST(TextParserTest, TypeChangeAfterSamplesAmongValueTypesLaterWins) {
  EXPECT_EQ(Parse("# TYPE m counter\nm 1\n# TYPE m gauge\nm 2\n"), "m gauge\n  {} 1\n  {} 2\n");
  EXPECT_EQ(Parse("m 1\n# TYPE m counter\nm 2\n"), "m counter\n  {} 1\n  {} 2\n");
}

// Samples read as one type cannot be read again as a summary or histogram (or the reverse),
// and a counter named by its `_total` samples would lose that name.
TEST(TextParserTest, TypeChangeThatWouldChangeSamplesAlreadyReadIsRejected) {
  EXPECT_EQ(Reject("m 1\n# TYPE m summary\n"),
            "line 2: TYPE summary for \"m\" comes after samples of it as untyped, which cannot be "
            "read as summary");
  EXPECT_EQ(Reject("# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# TYPE h gauge\n"),
            "line 3: TYPE gauge for \"h\" comes after samples of it as histogram, which cannot be "
            "read as gauge");
  EXPECT_EQ(Reject("# TYPE c counter\nc_total 1\n# TYPE c gauge\n"),
            "line 3: TYPE gauge for \"c\" comes after samples of it as counter, which cannot be "
            "read as gauge");
}

// OpenMetrics ends a body with `# EOF`; to the Pushgateway's parser it is a comment, and
// nothing after it may be lost without a word.
TEST(TextParserTest, EofIsAComment) {
  EXPECT_EQ(Parse("a 1\n# EOF"), "a untyped\n  {} 1\n");
  EXPECT_EQ(Parse("a 1\r\n# EOF\r\n"), "a untyped\n  {} 1\n");
  EXPECT_EQ(Parse("a 1\n# EOF\nb 2\n# EOF\n"), "a untyped\n  {} 1\nb untyped\n  {} 2\n");
  EXPECT_EQ(Reject("a 1\n# EOF\nthis is not { parsed\n"),
            "line 3: invalid value \"is\" for metric \"this\"");
}

TEST(TextParserTest, FamiliesComeOutInOrderOfFirstMention) {
  EXPECT_EQ(Parse("# HELP b B\n# TYPE a gauge\nc 3\na 1\nb 2\n"),
            "b untyped help=\"B\"\n  {} 2\na gauge\n  {} 1\nc untyped\n  {} 3\n");
}

TEST(TextParserTest, FamiliesWithoutSamplesAreDropped) {
  EXPECT_EQ(Parse("# TYPE a gauge\n# HELP b B\nc 1\n# TYPE d histogram\n"), "c untyped\n  {} 1\n");
}

// ---------------------------------------------------------------------------------------
// Samples: names, labels, values, timestamps.

TEST(TextParserTest, MetricNames) {
  EXPECT_EQ(Parse("job:http_requests:rate5m 1\n_x 2\n:y 3\nA_b9 4\n"),
            "job:http_requests:rate5m untyped\n  {} 1\n_x untyped\n  {} 2\n:y untyped\n"
            "  {} 3\nA_b9 untyped\n  {} 4\n");
  EXPECT_EQ(Reject("ok 1\n9lives 1\n"), "line 2: invalid metric name \"9lives\"");
  EXPECT_EQ(Reject("foo-bar 1\n"), "line 1: invalid metric name \"foo-bar\"");
  // A body saved with a byte order mark: the message shows it, or the name would look valid.
  EXPECT_EQ(Reject("\xEF\xBB\xBFup 1\n"), "line 1: invalid metric name \"\\ufeffup\"");
  EXPECT_EQ(Reject("foo.bar{a=\"b\"} 1\n"), "line 1: invalid metric name \"foo.bar\"");
  EXPECT_EQ(Reject("{a=\"b\"} 1\n"), "line 1: invalid metric name \"\"");
  EXPECT_EQ(Reject("\"quoted\" 1\n"), "line 1: invalid metric name \"\\\"quoted\\\"\"");
}

TEST(TextParserTest, MissingValue) {
  EXPECT_EQ(Reject("m\n"), "line 1: missing value for metric \"m\"");
  EXPECT_EQ(Reject("m  \t\n"), "line 1: missing value for metric \"m\"");
  EXPECT_EQ(Reject("m{a=\"1\"}\n"), "line 1: missing value for metric \"m\"");
}

TEST(TextParserTest, LabelSyntax) {
  const std::string expected = "m untyped\n  {a=\"1\",b=\"2\"} 1\n";
  EXPECT_EQ(Parse("m{a=\"1\",b=\"2\"} 1\n"), expected);
  EXPECT_EQ(Parse("m{a=\"1\",b=\"2\",} 1\n"), expected);
  EXPECT_EQ(Parse("m{ a = \"1\" , b\t=\t\"2\" , } 1\n"), expected);
  EXPECT_EQ(Parse("m { a=\"1\",b=\"2\" } 1\n"), expected);
  EXPECT_EQ(Parse("m{} 1\nm{ } 2\n"), "m untyped\n  {} 1\n  {} 2\n");
  EXPECT_EQ(Parse("m{_a=\"1\",B9_=\"2\"} 1\n"), "m untyped\n  {_a=\"1\",B9_=\"2\"} 1\n");
  // Braces, '#', '=' and commas inside values are just text.
  EXPECT_EQ(Parse("m{a=\"}{#,= x\"} 1\n"), "m untyped\n  {a=\"}{#,= x\"} 1\n");
  // Reserved-looking names other than __name__ are ordinary in samples.
  EXPECT_EQ(Parse("m{__meta=\"1\"} 1\n"), "m untyped\n  {__meta=\"1\"} 1\n");
  // UTF-8 values.
  EXPECT_EQ(Parse("m{city=\"Z\xC3\xBCrich \xE2\x82\xAC \xF0\x9F\x98\x80\"} 1\n"),
            "m untyped\n  {city=\"Z\xC3\xBCrich \xE2\x82\xAC \xF0\x9F\x98\x80\"} 1\n");
}

TEST(TextParserTest, LabelErrors) {
  EXPECT_EQ(Reject("m{1a=\"1\"} 1\n"), "line 1: invalid label name \"1a\" in metric \"m\"");
  EXPECT_EQ(Reject("m{a-b=\"1\"} 1\n"), "line 1: invalid label name \"a-b\" in metric \"m\"");
  EXPECT_EQ(Reject("m{a:b=\"1\"} 1\n"), "line 1: invalid label name \"a:b\" in metric \"m\"");
  EXPECT_EQ(Reject("m{,} 1\n"),
            "line 1: unexpected \",\" where a label name should be in metric \"m\"");
  EXPECT_EQ(Reject("m{a=\"1\",,b=\"2\"} 1\n"),
            "line 1: unexpected \",\" where a label name should be in metric \"m\"");
  EXPECT_EQ(Reject("m{a} 1\n"), "line 1: expected '=' after label name \"a\" in metric \"m\"");
  EXPECT_EQ(Reject("m{a \"1\"} 1\n"),
            "line 1: expected '=' after label name \"a\" in metric \"m\"");
  EXPECT_EQ(Reject("m{a=1} 1\n"),
            "line 1: expected '\"' to start the value of label \"a\" in metric \"m\"");
  EXPECT_EQ(Reject("m{a='1'} 1\n"),
            "line 1: expected '\"' to start the value of label \"a\" in metric \"m\"");
  EXPECT_EQ(Reject("m{a=\"1} 1\n"),
            "line 1: value of label \"a\" in metric \"m\" has no closing '\"'");
  EXPECT_EQ(Reject("m{a=\"1\\\"} 1\n"),
            "line 1: value of label \"a\" in metric \"m\" has no closing '\"'");
  EXPECT_EQ(Reject("m{a=\"1\" b=\"2\"} 1\n"),
            "line 1: expected ',' or '}' after the value of label \"a\" in metric \"m\", got "
            "\"b\"");
  EXPECT_EQ(Reject("m{a=\"1\"\n"), "line 1: labels of metric \"m\" have no closing '}'");
  EXPECT_EQ(Reject("m{a=\"1\","), "line 1: labels of metric \"m\" have no closing '}'");
  EXPECT_EQ(Reject("m{\n"), "line 1: labels of metric \"m\" have no closing '}'");
  EXPECT_EQ(Reject("m{__name__=\"x\"} 1\n"),
            "line 1: label name \"__name__\" is reserved (in metric \"m\")");
  EXPECT_EQ(Reject("m{a=\"\xC3\x28\"} 1\n"),
            "line 1: value of label \"a\" in metric \"m\" is not valid UTF-8");
  EXPECT_EQ(Reject("m{a=\"\\\\\xFF\"} 1\n"),
            "line 1: value of label \"a\" in metric \"m\" is not valid UTF-8");
  // A label value cannot span lines.
  EXPECT_EQ(Reject("m{a=\"x\ny\"} 1\n"),
            "line 1: value of label \"a\" in metric \"m\" has no closing '\"'");
}

TEST(TextParserTest, DuplicateLabelNames) {
  EXPECT_EQ(Reject("m{a=\"1\",b=\"2\",a=\"1\"} 1\n"),
            "line 1: duplicate label name \"a\" in metric \"m\"");
  // Also in samples too wide for the linear check.
  std::string wide = "m{";
  for (int k = 0; k < 40; ++k) absl::StrAppend(&wide, "l", k, "=\"v\",");
  EXPECT_EQ(Parse(absl::StrCat(wide, "} 1\n")).size() > 0, true);
  EXPECT_EQ(Reject(absl::StrCat(wide, "l3=\"x\"} 1\n")),
            "line 1: duplicate label name \"l3\" in metric \"m\"");
  EXPECT_EQ(Reject(absl::StrCat(wide, "l39=\"x\"} 1\n")),
            "line 1: duplicate label name \"l39\" in metric \"m\"");
}

TEST(TextParserTest, AcceptedValues) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ParseValue("0"), 0);
  EXPECT_EQ(ParseValue("15143"), 15143);
  EXPECT_EQ(ParseValue("-1"), -1);
  EXPECT_EQ(ParseValue("+1"), 1);
  EXPECT_EQ(ParseValue("1.5"), 1.5);
  EXPECT_EQ(ParseValue(".5"), 0.5);
  EXPECT_EQ(ParseValue("5."), 5);
  EXPECT_EQ(ParseValue("-.5"), -0.5);
  EXPECT_EQ(ParseValue("1e3"), 1000);
  EXPECT_EQ(ParseValue("1E3"), 1000);
  EXPECT_EQ(ParseValue("1.5e+3"), 1500);
  EXPECT_EQ(ParseValue("2.5e-3"), 0.0025);
  EXPECT_EQ(ParseValue("0.002451013"), 0.002451013);
  EXPECT_EQ(ParseValue("0000123.4500"), 123.45);
  EXPECT_EQ(ParseValue("0.1"), 0.1);
  EXPECT_EQ(ParseValue("0.3"), 0.3);
  EXPECT_EQ(ParseValue("3.141592653589793"), 3.141592653589793);
  EXPECT_EQ(ParseValue("123456789012345678901234567890"), 1.2345678901234568e29);
  EXPECT_EQ(ParseValue("9007199254740993"), 9007199254740992.0);  // rounds to even
  EXPECT_EQ(ParseValue("1.7976931348623157e308"), std::numeric_limits<double>::max());
  EXPECT_EQ(ParseValue("4.9406564584124654e-324"), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(ParseValue("1e-400"), 0);  // below the range: zero, as in Go
  EXPECT_EQ(ParseValue("0e999999"), 0);
  EXPECT_TRUE(std::signbit(ParseValue("-0")));
  EXPECT_EQ(ParseValue("Inf"), inf);
  EXPECT_EQ(ParseValue("+Inf"), inf);
  EXPECT_EQ(ParseValue("-Inf"), -inf);
  EXPECT_EQ(ParseValue("inf"), inf);
  EXPECT_EQ(ParseValue("+infinity"), inf);
  EXPECT_EQ(ParseValue("-Infinity"), -inf);
  EXPECT_TRUE(std::isnan(ParseValue("NaN")));
  EXPECT_TRUE(std::isnan(ParseValue("nan")));
  EXPECT_TRUE(std::isnan(ParseValue("NAN")));
}

TEST(TextParserTest, RejectedValues) {
  for (const char* text :
       {"abc",  "1.2.3", "1e",    "1e+",     "e1",        ".",    "+",     "-",      "--1",
        "+-1",  "0x1A",  "0x1p3", "1p3",     "1_000",     "1,5",  "1e400", "-1e400", "1.8e308",
        "-NaN", "+NaN",  "NaN1",  "Infinit", "Infinityy", "infx", "1f",    "١"}) {
    EXPECT_EQ(Reject(absl::StrCat("m ", text, "\n")),
              absl::StrCat("line 1: invalid value \"", text, "\" for metric \"m\""))
        << text;
  }
}

TEST(TextParserTest, Timestamps) {
  Families out = ParseToProto(
      "a 1 1700000000123\n"
      "b 1\n"
      "c 1 0\n"
      "d 1 -5\n"
      "e 1 9223372036854775807\n"
      "f 1 -9223372036854775808\n"
      "g 1 +42\n");
  ASSERT_EQ(out.size(), 7);
  EXPECT_EQ(out[0].series(0).timestamp_ms(), 1700000000123);
  EXPECT_FALSE(out[1].series(0).has_timestamp_ms());
  EXPECT_TRUE(out[2].series(0).has_timestamp_ms());
  EXPECT_EQ(out[2].series(0).timestamp_ms(), 0);
  EXPECT_EQ(out[3].series(0).timestamp_ms(), -5);
  EXPECT_EQ(out[4].series(0).timestamp_ms(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(out[5].series(0).timestamp_ms(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(out[6].series(0).timestamp_ms(), 42);
}

TEST(TextParserTest, BadTimestampsAndTrailingText) {
  EXPECT_EQ(Reject("m 1 1.5\n"),
            "line 1: invalid timestamp \"1.5\" for metric \"m\" (want integer milliseconds)");
  EXPECT_EQ(Reject("m 1 1700000000.123\n"),
            "line 1: invalid timestamp \"1700000000.123\" for metric \"m\" (want integer "
            "milliseconds)");
  EXPECT_EQ(Reject("m 1 9223372036854775808\n"),
            "line 1: invalid timestamp \"9223372036854775808\" for metric \"m\" (want integer "
            "milliseconds)");
  EXPECT_EQ(Reject("m 1 1_000\n"),
            "line 1: invalid timestamp \"1_000\" for metric \"m\" (want integer milliseconds)");
  EXPECT_EQ(Reject("m 1 abc\n"),
            "line 1: invalid timestamp \"abc\" for metric \"m\" (want integer milliseconds)");
  EXPECT_EQ(Reject("m 1 2 3\n"),
            "line 1: unexpected text \"3\" after the timestamp of metric \"m\"");
  EXPECT_EQ(Reject("m 1 # not an exemplar\n"),
            "line 1: unexpected text \"# not an exemplar\" after the value of metric \"m\"");
}

// OpenMetrics bodies write timestamps in seconds, as values are written.
TEST(TextParserTest, TimestampsInSecondsForOpenMetrics) {
  const auto parse = [](absl::string_view body, std::string* error) {
    std::string wire;
    const absl::Status status = ParseTextToWire(body, {}, &wire, nullptr, TimestampUnit::kSeconds);
    *error = std::string(status.message());
    pushgate::v1::PushRequest push;
    EXPECT_TRUE(push.ParseFromString(wire));
    return push;
  };
  std::string error;
  const pushgate::v1::PushRequest push =
      parse("a 1 1796679000\nb 1 1796679000.25\nc 1 1.7e9\nd 1 -0.0015\ne 1\nf 1 0.0004\n", &error);
  ASSERT_EQ(push.families_size(), 6) << error;
  EXPECT_EQ(push.families(0).series(0).timestamp_ms(), 1796679000000);
  EXPECT_EQ(push.families(1).series(0).timestamp_ms(), 1796679000250);
  EXPECT_EQ(push.families(2).series(0).timestamp_ms(), 1700000000000);
  EXPECT_EQ(push.families(3).series(0).timestamp_ms(), -2);  // rounded half away from zero
  EXPECT_FALSE(push.families(4).series(0).has_timestamp_ms());
  EXPECT_TRUE(push.families(5).series(0).has_timestamp_ms());
  EXPECT_EQ(push.families(5).series(0).timestamp_ms(), 0);
  for (const char* bad : {"NaN", "+Inf", "1e16", "x"}) {
    parse(absl::StrCat("m 1 ", bad, "\n"), &error);
    EXPECT_EQ(error,
              absl::StrCat("line 1: invalid timestamp \"", bad,
                           "\" for metric \"m\" (want seconds, as OpenMetrics writes them)"));
  }
}

TEST(TextParserTest, ExemplarsAreSkipped) {
  EXPECT_EQ(Parse("# TYPE h histogram\n"
                  "h_bucket{le=\"1\"} 3 # {trace_id=\"abc\"} 0.5 1700000000\n"
                  "h_bucket{le=\"+Inf\"} 4 1700000000000 #{trace_id=\"d\"} 2\n"),
            "h histogram\n  {} count=0 sum=0 b=[1:3 +Inf:4] @1700000000000\n");
}

// ---------------------------------------------------------------------------------------
// Families, series and grouping.

// The parser reads label names that repeat the previous sample's, in its order, by comparing
// bytes; these check that every other layout still takes the full checks.
TEST(TextParserTest, SamplesRepeatingThePreviousLabelNames) {
  // Same names, other values; then other orders, fewer and more labels, names that share a
  // prefix, blanks around '=', and another family in between.
  EXPECT_EQ(Parse("m{a=\"1\",b=\"2\"} 1\n"
                  "m{a=\"3\",b=\"4\"} 2\n"
                  "m{b=\"5\",a=\"6\"} 3\n"
                  "m{b=\"7\"} 4\n"
                  "m{b=\"8\",a=\"9\",c=\"10\"} 5\n"
                  "m{bc=\"11\"} 6\n"
                  "m{b = \"12\"} 7\n"
                  "n{b=\"13\"} 8\n"
                  "m{b=\"14\"} 9\n"
                  "m 10\n"
                  "m{b=\"15\"} 11\n"),
            "m untyped\n"
            "  {a=\"1\",b=\"2\"} 1\n"
            "  {a=\"3\",b=\"4\"} 2\n"
            "  {b=\"5\",a=\"6\"} 3\n"
            "  {b=\"7\"} 4\n"
            "  {b=\"8\",a=\"9\",c=\"10\"} 5\n"
            "  {bc=\"11\"} 6\n"
            "  {b=\"12\"} 7\n"
            "  {b=\"14\"} 9\n"
            "  {} 10\n"
            "  {b=\"15\"} 11\n"
            "n untyped\n"
            "  {b=\"13\"} 8\n");
  // A repeat after the names the previous sample had is still found.
  EXPECT_EQ(Reject("m{a=\"1\",b=\"2\"} 1\nm{a=\"1\",b=\"2\",a=\"3\"} 1\n"),
            "line 2: duplicate label name \"a\" in metric \"m\"");
  EXPECT_EQ(Reject("m{a=\"1\",b=\"2\"} 1\nm{a=\"1\",a=\"2\"} 1\n"),
            "line 2: duplicate label name \"a\" in metric \"m\"");
  EXPECT_EQ(Reject("m{a=\"1\",b=\"2\"} 1\nm{b=\"1\",b=\"2\"} 1\n"),
            "line 2: duplicate label name \"b\" in metric \"m\"");
  // Also in samples too wide for the linear check, whose first names came through unchecked.
  std::string wide = "m{";
  for (int k = 0; k < 40; ++k) absl::StrAppend(&wide, "l", k, "=\"v\",");
  EXPECT_EQ(Reject(absl::StrCat(wide, "} 1\n", wide, "l3=\"x\"} 1\n")),
            "line 2: duplicate label name \"l3\" in metric \"m\"");
  std::string narrower = "m{";
  for (int k = 0; k < 35; ++k) absl::StrAppend(&narrower, "l", k, "=\"v\",");
  EXPECT_EQ(Reject(absl::StrCat(wide, "} 1\n", narrower, "l0=\"x\"} 1\n")),
            "line 2: duplicate label name \"l0\" in metric \"m\"");
  // Errors in the values of repeated names read as they do elsewhere.
  EXPECT_EQ(Reject("m{a=\"1\"} 1\nm{a=\"1} 2\n"),
            "line 2: value of label \"a\" in metric \"m\" has no closing '\"'");
  EXPECT_EQ(Reject("m{a=\"1\"} 1\nm{a=\"\\x\"} 2\n"),
            "line 2: invalid escape sequence \"\\\\x\" in the value of label \"a\" in metric "
            "\"m\" (only \\\\, \\\" and \\n are allowed)");
  EXPECT_EQ(Reject("m{a=\"1\"} 1\nm{a=\"1\"x} 2\n"),
            "line 2: expected ',' or '}' after the value of label \"a\" in metric \"m\", got "
            "\"x\"");
  TextParserLimits limits;
  limits.max_label_value_length = 2;
  EXPECT_EQ(Reject("m{a=\"1\"} 1\nm{a=\"123\"} 2\n", limits),
            "line 2: value of label \"a\" in metric \"m\" is 3 bytes long, over the limit of 2 "
            "bytes (max_label_value_length)");
}

// Consecutive samples of one series are matched by their labels in written order; everything
// else is matched by the sorted labels.
TEST(TextParserTest, HistogramSamplesFindTheirSeries) {
  EXPECT_EQ(Parse("# TYPE h histogram\n"
                  "# TYPE g histogram\n"
                  "h_bucket{path=\"/\",zone=\"a\",le=\"1\"} 1\n"
                  "h_bucket{path=\"/\",zone=\"a\",le=\"2\"} 2\n"
                  "h_bucket{zone=\"a\",path=\"/\",le=\"3\"} 3\n"
                  "h_bucket{path=\"/x\",zone=\"a\",le=\"1\"} 4\n"
                  "h_bucket{path=\"/\",zone=\"a\",le=\"4\"} 5\n"
                  "h_bucket{path=\"/\",le=\"1\"} 6\n"
                  "h_bucket{path=\"/\",zone=\"a\",extra=\"e\",le=\"1\"} 7\n"
                  "g_bucket{path=\"/\",zone=\"a\",le=\"1\"} 8\n"
                  "h_sum{path=\"/\",zone=\"a\"} 9\n"
                  "g_sum{path=\"/\",zone=\"a\"} 10\n"
                  "h_count{le=\"9\",path=\"/\",zone=\"a\"} 11\n"),
            "h histogram\n"
            "  {path=\"/\",zone=\"a\"} count=11 sum=9 b=[1:1 2:2 3:3 4:5]\n"
            "  {path=\"/x\",zone=\"a\"} count=0 sum=0 b=[1:4]\n"
            "  {path=\"/\"} count=0 sum=0 b=[1:6]\n"
            "  {path=\"/\",zone=\"a\",extra=\"e\"} count=0 sum=0 b=[1:7]\n"
            "g histogram\n"
            "  {path=\"/\",zone=\"a\"} count=0 sum=10 b=[1:8]\n");
}

TEST(TextParserTest, SummarySeriesAreKeyedByLabelsWithoutQuantile) {
  EXPECT_EQ(Parse("# TYPE rpc summary\n"
                  "rpc{service=\"a\",quantile=\"0.5\",zone=\"z\"} 1\n"
                  "rpc{quantile=\"0.9\",zone=\"z\",service=\"a\"} 2\n"
                  "rpc{service=\"b\",quantile=\"0.5\"} 3\n"
                  "rpc_sum{zone=\"z\",service=\"a\"} 10\n"
                  "rpc_count{service=\"a\",zone=\"z\"} 4\n"
                  "rpc_count{service=\"b\"} 7\n"
                  "rpc_sum{service=\"c\"} 1\n"),
            "rpc summary\n"
            "  {service=\"a\",zone=\"z\"} count=4 sum=10 q=[0.5:1 0.9:2]\n"
            "  {service=\"b\"} count=7 sum=0 q=[0.5:3]\n"
            "  {service=\"c\"} count=0 sum=1 q=[]\n");
  // A quantile label on _sum/_count does not split the series.
  EXPECT_EQ(Parse("# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum{quantile=\"0.5\"} 2\n"
                  "s_count{quantile=\"x\"} 3\n"),
            "s summary\n  {} count=3 sum=2 q=[0.5:1]\n");
  // An empty value is a value: {a=""} and {} are different series.
  EXPECT_EQ(Parse("# TYPE s summary\ns{a=\"\",quantile=\"0.5\"} 1\ns{quantile=\"0.5\"} 2\n"),
            "s summary\n  {a=\"\"} count=0 sum=0 q=[0.5:1]\n  {} count=0 sum=0 q=[0.5:2]\n");
}

TEST(TextParserTest, SeriesKeyIsUnambiguous) {
  // Label values that would run together in a naive key stay separate series.
  EXPECT_EQ(Parse("# TYPE s summary\n"
                  "s{a=\"x\",b=\"y\",quantile=\"0.5\"} 1\n"
                  "s{a=\"x\\\",b=\\\"y\",quantile=\"0.5\"} 2\n"
                  "s{a=\"xb\",quantile=\"0.5\"} 3\n"),
            "s summary\n"
            "  {a=\"x\",b=\"y\"} count=0 sum=0 q=[0.5:1]\n"
            "  {a=\"x\\\",b=\\\"y\"} count=0 sum=0 q=[0.5:2]\n"
            "  {a=\"xb\"} count=0 sum=0 q=[0.5:3]\n");
}

// As the Prometheus parser (so the Pushgateway and DataKit) reads them: a sample without its
// quantile, or with a NaN one, adds no quantile but makes its series.
TEST(TextParserTest, SummarySampleWithoutQuantileMakesOnlyItsSeries) {
  EXPECT_EQ(Parse("# TYPE s summary\ns 1\n"), "s summary\n  {} count=0 sum=0 q=[]\n");
  EXPECT_EQ(Parse("# TYPE s summary\ns{a=\"x\"} 7\ns{a=\"x\",quantile=\"0.5\"} 1\n"
                  "s_count{a=\"x\"} 2\n"),
            "s summary\n  {a=\"x\"} count=2 sum=0 q=[0.5:1]\n");
  EXPECT_EQ(Parse("# TYPE s summary\ns{a=\"x\",quantile=\"NaN\"} 7\n"),
            "s summary\n  {a=\"x\"} count=0 sum=0 q=[]\n");
}

TEST(TextParserTest, SummaryErrors) {
  EXPECT_EQ(Reject("# TYPE s summary\ns{quantile=\"high\"} 1\n"),
            "line 2: invalid quantile label value \"high\" in sample \"s\" (want a number)");
  EXPECT_EQ(Reject("# TYPE s summary\ns{quantile=\"\"} 1\n"),
            "line 2: invalid quantile label value \"\" in sample \"s\" (want a number)");
}

TEST(TextParserTest, HistogramSeriesAndBucketOrder) {
  EXPECT_EQ(Parse("# TYPE h histogram\n"
                  "h_bucket{le=\"+Inf\",path=\"/\"} 9\n"
                  "h_bucket{path=\"/\",le=\"0.5\"} 3\n"
                  "h_bucket{le=\"-1\",path=\"/\"} 0\n"
                  "h_bucket{le=\"1e1\",path=\"/\"} 8\n"
                  "h_bucket{le=\"-Inf\",path=\"/\"} 0\n"
                  "h_sum{path=\"/\"} 12.5\n"
                  "h_count{path=\"/\"} 9\n"
                  "h_bucket{le=\"1\",path=\"/x\"} 1\n"),
            "h histogram\n"
            "  {path=\"/\"} count=9 sum=12.5 b=[-Inf:0 -1:0 0.5:3 10:8 +Inf:9]\n"
            "  {path=\"/x\"} count=0 sum=0 b=[1:1]\n");
  // Only _sum and _count: no buckets at all.
  EXPECT_EQ(Parse("# TYPE h histogram\nh_sum 1\nh_count 2\n"),
            "h histogram\n  {} count=2 sum=1 b=[]\n");
}

TEST(TextParserTest, HistogramErrors) {
  EXPECT_EQ(Reject("# TYPE h histogram\nh_bucket{le=\"x\"} 1\n"),
            "line 2: invalid le label value \"x\" in sample \"h_bucket\" (want a number)");
  EXPECT_EQ(Reject("# TYPE h histogram\nh{le=\"\"} 1\n"),
            "line 2: invalid le label value \"\" in sample \"h\" (want a number)");
}

// Bucket samples without le or with le="NaN" add no bucket but make their series, as the
// Prometheus parser (so the Pushgateway and DataKit) reads them.
TEST(TextParserTest, BucketSampleWithoutBoundMakesOnlyItsSeries) {
  EXPECT_EQ(Parse("# TYPE h histogram\nh_bucket 1\nh_bucket{le=\"NaN\"} 2\nh 3\n"),
            "h histogram\n  {} count=0 sum=0 b=[]\n");
  EXPECT_EQ(Parse("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"nan\"} 5\n"
                  "h_bucket{p=\"x\"} 6\nh_count 1\n"),
            "h histogram\n  {} count=1 sum=0 b=[1:1]\n  {p=\"x\"} count=0 sum=0 b=[]\n");
}

// The Prometheus parser reads a sample named exactly like a histogram family as a bucket.
TEST(TextParserTest, BareHistogramNameIsABucket) {
  EXPECT_EQ(Parse("# TYPE h histogram\nh{le=\"2\"} 3\nh_bucket{le=\"1\"} 1\nh_count 3\n"),
            "h histogram\n  {} count=3 sum=0 b=[1:1 2:3]\n");
}

TEST(TextParserTest, GaugeHistogram) {
  EXPECT_EQ(Parse("# TYPE g gaugehistogram\n"
                  "g_bucket{le=\"1\"} 2\n"
                  "g_bucket{le=\"+Inf\"} 3\n"
                  "g_gcount 3\n"
                  "g_gsum 4\n"
                  "g_count 5\n"),
            "g gauge_histogram\n"
            "  {} count=3 sum=4 b=[1:2 +Inf:3]\n"
            "g_count untyped\n"
            "  {} 5\n");
  EXPECT_EQ(Parse("# TYPE g gaugehistogram\ng 1\ng{le=\"1\"} 2\n"),
            "g gauge_histogram\n  {} count=0 sum=0 b=[1:2]\n");
}

TEST(TextParserTest, SuffixesOnlyJoinTheMatchingType) {
  // _bucket is not part of a summary, _sum is not part of a gauge.
  EXPECT_EQ(Parse("# TYPE s summary\ns_bucket{le=\"1\"} 1\n# TYPE g gauge\ng_sum 2\n"),
            "s_bucket untyped\n  {le=\"1\"} 1\ng_sum untyped\n  {} 2\n");
  // An exact family name wins over a suffix.
  EXPECT_EQ(Parse("# TYPE x summary\n# TYPE x_sum gauge\nx_sum 1\nx_count 2\n"),
            "x summary\n  {} count=2 sum=0 q=[]\nx_sum gauge\n  {} 1\n");
}

TEST(TextParserTest, InfoFamilyNaming) {
  EXPECT_EQ(Parse("# HELP build Build facts.\n# TYPE build info\nbuild_info{v=\"1\"} 1\n"),
            "build_info info help=\"Build facts.\"\n  {v=\"1\"} 1\n");
  EXPECT_EQ(Parse("# TYPE build_info info\nbuild_info{v=\"1\"} 1\n"),
            "build_info info\n  {v=\"1\"} 1\n");
  // Without a TYPE line, an _info sample is untyped.
  EXPECT_EQ(Parse("build_info{v=\"1\"} 1\n"), "build_info untyped\n  {v=\"1\"} 1\n");
}

TEST(TextParserTest, OpenMetricsCounterTotal) {
  EXPECT_EQ(Parse("# HELP requests Requests.\n# TYPE requests counter\n"
                  "requests_total{code=\"200\"} 5\nrequests_created 1.7e9\n# EOF\n"),
            "requests_total counter help=\"Requests.\"\n  {code=\"200\"} 5\n"
            "requests_created untyped\n  {} 1.7e+09\n");
}

TEST(TextParserTest, NonAdjacentSamplesJoinTheirFamilies) {
  EXPECT_EQ(Parse("# TYPE a counter\n"
                  "a{x=\"1\"} 1\n"
                  "# TYPE h histogram\n"
                  "h_bucket{le=\"1\"} 1\n"
                  "b 5\n"
                  "a{x=\"2\"} 2\n"
                  "h_bucket{le=\"+Inf\"} 2\n"
                  "h_count 2\n"
                  "b 6\n"
                  "h_sum 3\n"),
            "a counter\n  {x=\"1\"} 1\n  {x=\"2\"} 2\n"
            "h histogram\n  {} count=2 sum=3 b=[1:1 +Inf:2]\n"
            "b untyped\n  {} 5\n  {} 6\n");
}

TEST(TextParserTest, TypeDeclaredAfterPartSamplesSplitsByExactName) {
  // x_sum came first as an untyped family of its own and stays there.
  EXPECT_EQ(Parse("x_sum 1\n# TYPE x summary\nx{quantile=\"0.5\"} 2\nx_sum 3\nx_count 4\n"),
            "x_sum untyped\n  {} 1\n  {} 3\nx summary\n  {} count=4 sum=0 q=[0.5:2]\n");
}

TEST(TextParserTest, SeriesTimestampIsTheLastGiven) {
  EXPECT_EQ(Parse("# TYPE s summary\ns{quantile=\"0.5\"} 1 100\ns_sum 2 200\ns_count 3\n"),
            "s summary\n  {} count=3 sum=2 q=[0.5:1] @200\n");
}

// ---------------------------------------------------------------------------------------
// Errors: line numbers, messages, and nothing kept.

TEST(TextParserTest, LineNumbersCountEveryLine) {
  EXPECT_THAT(Reject("# HELP a x\n\n# TYPE a gauge\r\n  \na 1\r\n# comment\nb{ 1\n"),
              StartsWith("line 7: "));
  EXPECT_THAT(Reject("a 1\nb 2\nc 3\nd x"), StartsWith("line 4: invalid value \"x\""));
  EXPECT_THAT(Reject("bad"), StartsWith("line 1: "));
}

TEST(TextParserTest, MessagesStayOnOneLineAndShort) {
  std::string huge_name(5000, 'n');
  std::string message = Reject(absl::StrCat("m{", huge_name, "-=\"v\"} 1\n"));
  EXPECT_LT(message.size(), 300u);
  EXPECT_THAT(message, HasSubstr("\"nnnnnnnnnn"));
  EXPECT_THAT(message, HasSubstr("...")) << message;

  message = Reject("m{a=\"x\"} \x01\t1\n");
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(message, "line 1: invalid value \"\\x01\" for metric \"m\"");

  message = Reject(absl::StrCat("m 1 2 ", std::string(300, '\xE2')));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(TextParserTest, RejectedPushLeavesOutputUntouched) {
  Families out;
  ASSERT_TRUE(ParseText("old 1\n", {}, &out).ok());
  const std::string before = DebugStrings(out);
  ASSERT_EQ(out.size(), 1);

  // Errors after families were created, after series were added to a family that already
  // has some, and inside a histogram.
  for (const char* body : {"new_a 1\nnew_b 2\nbad 1 x\n",
                           "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"q\"} 1\n",
                           "# HELP old changed\nold 2\nold{ 3\n"}) {
    EXPECT_FALSE(ParseText(body, {}, &out).ok()) << body;
    EXPECT_EQ(DebugStrings(out), before) << body;
  }
}

TEST(TextParserTest, SuccessfulPushAppendsAfterExistingFamilies) {
  Families out;
  ASSERT_TRUE(ParseText("old 1\n", {}, &out).ok());
  ASSERT_TRUE(ParseText("# TYPE empty gauge\nold 2\nnew 3\n", {}, &out).ok());
  // The second body's `old` is a family of its own push, not merged into the first.
  EXPECT_EQ(Render(out), "old untyped\n  {} 1\nold untyped\n  {} 2\nnew untyped\n  {} 3\n");
}

// ---------------------------------------------------------------------------------------
// Limits.

TEST(TextParserLimitsTest, MaxSeries) {
  TextParserLimits limits;
  limits.max_series = 3;
  // A summary or histogram series counts once, however many lines it has.
  const std::string three =
      "a 1\na 2\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
      "h_sum 1\nh_count 1\n";
  EXPECT_EQ(Parse(three, limits).empty(), false);
  EXPECT_EQ(Reject(three + "b 1\n", limits),
            "line 8: too many series in one push: the limit is 3 (max_series_per_push)");
  EXPECT_EQ(Reject(three + "h_count{x=\"1\"} 1\n", limits),
            "line 8: too many series in one push: the limit is 3 (max_series_per_push)");
}

TEST(TextParserLimitsTest, MaxLabelsPerSeries) {
  TextParserLimits limits;
  limits.max_labels_per_series = 2;
  EXPECT_EQ(Parse("m{a=\"1\",b=\"2\"} 1\n", limits), "m untyped\n  {a=\"1\",b=\"2\"} 1\n");
  EXPECT_EQ(Reject("m 1\nm{a=\"1\",b=\"2\",c=\"3\"} 1\n", limits),
            "line 2: metric \"m\" has 3 labels, over the limit of 2 per series "
            "(max_labels_per_series)");
  // le and quantile are not series labels...
  EXPECT_EQ(Parse("# TYPE h histogram\nh_bucket{a=\"1\",b=\"2\",le=\"1\"} 1\n", limits),
            "h histogram\n  {a=\"1\",b=\"2\"} count=0 sum=0 b=[1:1]\n");
  // ...but in an untyped family they are.
  EXPECT_THAT(Reject("h_bucket{a=\"1\",b=\"2\",le=\"1\"} 1\n", limits), HasSubstr("has 3 labels"));
}

// A line of a million labels (9 MB) is refused as soon as it has more than the limit (plus
// one, for an `le` that does not count), not after all of them were kept.
TEST(TextParserLimitsTest, AHugeLabelSetIsRefusedBeforeItIsKept) {
  std::string line = "m{";
  for (int i = 0; i < 1000000; ++i) absl::StrAppend(&line, "a", i, "=\"\",");
  line += "} 1\n";
  TextParserLimits limits;
  limits.max_labels_per_series = 64;
  const size_t before = BytesAllocatedSoFar();
  EXPECT_EQ(Reject(line, limits),
            "line 1: metric \"m\" has more than 65 labels, over the limit of 64 per series "
            "(max_labels_per_series)");
  EXPECT_LT(BytesAllocatedSoFar() - before, size_t{1} << 20);
}

TEST(TextParserLimitsTest, MaxSamplesCountsEverySampleLine) {
  TextParserLimits limits;
  limits.max_samples = 4;
  const std::string four = "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\na 1\n";
  EXPECT_EQ(Parse(four, limits).empty(), false);
  EXPECT_EQ(Reject(four + "b 2\n", limits),
            "line 6: too many samples in one push: the limit is 4 (max_samples_per_push)");
}

TEST(TextParserLimitsTest, MaxLabelNameLength) {
  TextParserLimits limits;
  limits.max_label_name_length = 4;
  EXPECT_EQ(Parse("m{abcd=\"1\"} 1\n", limits), "m untyped\n  {abcd=\"1\"} 1\n");
  EXPECT_EQ(Reject("m{abcde=\"1\"} 1\n", limits),
            "line 1: label name \"abcde\" in metric \"m\" is 5 bytes long, over the limit of 4 "
            "bytes (max_label_name_length)");
  // Metric names are not label names.
  EXPECT_EQ(Parse("long_metric_name 1\n", limits), "long_metric_name untyped\n  {} 1\n");
}

TEST(TextParserLimitsTest, MaxLabelValueLengthCountsUnescapedBytes) {
  TextParserLimits limits;
  limits.max_label_value_length = 3;
  EXPECT_EQ(Parse("m{a=\"abc\"} 1\nm{a=\"\\\\\\n\\\"\"} 2\n", limits),
            "m untyped\n  {a=\"abc\"} 1\n  {a=\"\\\\\\n\\\"\"} 2\n");
  EXPECT_EQ(Reject("m{a=\"abcd\"} 1\n", limits),
            "line 1: value of label \"a\" in metric \"m\" is 4 bytes long, over the limit of 3 "
            "bytes (max_label_value_length)");
  EXPECT_THAT(Reject("m{a=\"\xC3\xA9\xC3\xA9\"} 1\n", limits), HasSubstr("is 4 bytes long"));
}

TEST(TextParserLimitsTest, ZeroMeansUnlimited) {
  std::string body;
  for (int k = 0; k < 2000; ++k) {
    absl::StrAppend(&body, "m{", std::string(200, 'n'), "=\"", std::string(2000, 'v'), "\"} ", k,
                    "\n");
  }
  Families out;
  ASSERT_TRUE(ParseText(body, {}, &out).ok());
  EXPECT_EQ(out[0].series_size(), 2000);
}

}  // namespace
}  // namespace pushgate
