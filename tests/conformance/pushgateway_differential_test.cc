// Differential test: the same corpus of push requests, valid and malformed, goes to Debian's
// real Prometheus Pushgateway (1.5.1) and to pushgate's real front and aggregator, and both
// must answer with the same status class (2xx/3xx/4xx/5xx). Where pushgate deliberately
// differs, the row names the difference and the test asserts it the other way explicitly, so
// a change on either side shows up. The differences are those listed in
// docs/reference/push-api.md ("pushgate follows DataKit", CRLF and last-line leniency,
// 415 for unknown encodings, case-insensitive and extra encodings) plus what the Pushgateway
// 1.5.1 lacks or does as an artefact of its HTTP router (see each Difference below).
#include <curl/curl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "libs/compression/compression.h"
#include "libs/line_protocol/line_protocol.h"
#include "proto/prometheus_client.pb.h"
#include "tests/harness/harness.h"

namespace pushgate {
namespace {

namespace prom = ::io::prometheus::client;
using ::pushgate::testing::FreePort;
using ::pushgate::testing::Process;
using ::pushgate::testing::Pushgate;
using ::pushgate::testing::PushgateOptions;
using ::pushgate::testing::ScratchDir;
using ::pushgate::testing::WaitForHttp200;

constexpr char kPushgatewayBinary[] = "/usr/bin/prometheus-pushgateway";

// ---------------------------------------------------------------------------------------
// HTTP: the harness' client cannot send HEAD (curl would wait for a body), and the corpus
// needs raw paths and exact headers, so the test has its own small one.

struct Reply {
  long status = 0;  // 0: transport failure, see `error`
  std::string body;
  std::string headers;
  std::string error;
};

size_t AppendTo(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Reply Send(const std::string& method, const std::string& url,
           const std::vector<std::string>& headers, const std::string& body) {
  Reply reply;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);  // `//` and `%2F` must reach the server
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty() || method == "PUT" || method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  // No "Expect: 100-continue", and no Content-Type unless the row sets one (curl would add a
  // form type to bodies).
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  bool has_content_type = false;
  for (const std::string& h : headers) {
    list = curl_slist_append(list, h.c_str());
    has_content_type |= absl::StartsWithIgnoreCase(h, "content-type:");
  }
  if (!has_content_type) list = curl_slist_append(list, "Content-Type:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  } else {
    reply.error = curl_easy_strerror(code);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return reply;
}

// The value of response header `name` (case-insensitive), or "" if absent.
std::string HeaderValue(const std::string& headers, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(headers, '\n')) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line.substr(0, colon)), name)) {
      return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return "";
}

int StatusClass(long status) { return static_cast<int>(status / 100); }

// ---------------------------------------------------------------------------------------
// Bodies that need building.

std::string Gzip(absl::string_view text) {
  std::string out;
  EXPECT_TRUE(GzipCompress(text, &out).ok());
  return out;
}

std::string Zstd(absl::string_view text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

uint32_t Crc32c(absl::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void AppendLe(uint32_t v, int bytes, std::string* out) {
  for (int k = 0; k < bytes; ++k) out->push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

// The framed snappy format (what `Content-Encoding: snappy` means to the Pushgateway >= 1.6
// and DataKit): the stream identifier, then one uncompressed data chunk with its masked
// CRC-32C.
std::string SnappyFramed(absl::string_view text) {
  std::string out("\xff\x06\x00\x00sNaPpY", 10);
  out.push_back('\x01');
  AppendLe(static_cast<uint32_t>(text.size() + 4), 3, &out);
  const uint32_t crc = Crc32c(text);
  AppendLe(((crc >> 15) | (crc << 17)) + 0xa282ead8u, 4, &out);
  out.append(text.data(), text.size());
  return out;
}

std::string Delimited(const std::vector<prom::MetricFamily>& families) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    for (const prom::MetricFamily& family : families) {
      EXPECT_TRUE(google::protobuf::util::SerializeDelimitedToZeroCopyStream(family, &stream));
    }
  }
  return out;
}

prom::MetricFamily Family(const std::string& name, prom::MetricType type) {
  prom::MetricFamily family;
  family.set_name(name);
  family.set_help("help of " + name);
  family.set_type(type);
  return family;
}

prom::Metric* AddMetric(prom::MetricFamily* family,
                        const std::vector<std::pair<std::string, std::string>>& labels) {
  prom::Metric* metric = family->add_metric();
  for (const auto& [name, value] : labels) {
    prom::LabelPair* pair = metric->add_label();
    pair->set_name(name);
    pair->set_value(value);
  }
  return metric;
}

// A push of all four classic types, as client libraries write it.
std::vector<prom::MetricFamily> ValidFamilies() {
  prom::MetricFamily counter = Family("pb_requests_total", prom::COUNTER);
  AddMetric(&counter, {{"code", "200"}})->mutable_counter()->set_value(1027);
  AddMetric(&counter, {{"code", "500"}})->mutable_counter()->set_value(3);
  prom::MetricFamily gauge = Family("pb_temperature", prom::GAUGE);
  AddMetric(&gauge, {})->mutable_gauge()->set_value(-12.5);
  prom::MetricFamily summary = Family("pb_rpc_seconds", prom::SUMMARY);
  prom::Summary* s = AddMetric(&summary, {{"method", "get"}})->mutable_summary();
  s->set_sample_count(10);
  s->set_sample_sum(2.5);
  prom::Quantile* q = s->add_quantile();
  q->set_quantile(0.5);
  q->set_value(0.2);
  prom::MetricFamily histogram = Family("pb_latency_seconds", prom::HISTOGRAM);
  prom::Histogram* h = AddMetric(&histogram, {})->mutable_histogram();
  h->set_sample_count(4);
  h->set_sample_sum(1.5);
  for (double bound : {0.1, 1.0}) {
    prom::Bucket* b = h->add_bucket();
    b->set_upper_bound(bound);
    b->set_cumulative_count(bound < 1 ? 1 : 3);
  }
  return {counter, gauge, summary, histogram};
}

prom::MetricFamily SingleGauge(const std::string& name, double value) {
  prom::MetricFamily family = Family(name, prom::GAUGE);
  AddMetric(&family, {{"a", "b"}})->mutable_gauge()->set_value(value);
  return family;
}

// ---------------------------------------------------------------------------------------
// The corpus.

// How the two answers relate. `kSame`: same status class. Otherwise the exact classes
// expected from each, with the reason; pushgateway_class 0 means the row is not sent there.
struct Difference {
  int pushgateway_class;
  int pushgate_class;
  const char* why;
};
constexpr Difference kSame = {-1, -1, nullptr};

// push-api.md, Bodies: "pushgate follows DataKit (not the Pushgateway) in accepting a repeated
// # TYPE/# HELP line, the info type, duplicate series, and timestamps".
constexpr Difference kFollowsDataKit = {4, 2, "push-api.md: pushgate follows DataKit here"};
// push-api.md, Bodies: "pushgate also accepts a last line without \n and CRLF line ends, as
// VictoriaMetrics does".
constexpr Difference kVictoriaMetricsLeniency = {
    4, 2, "push-api.md: last line without \\n and CRLF line ends are accepted"};
// push-api.md, Bodies: "application/openmetrics-text bodies are parsed as text too": pushgate
// reads the OpenMetrics types (unknown, stateset, gaugehistogram) and skips exemplars
// (libs/text_parser/text_parser.h); the Pushgateway's 0.0.4 parser refuses them.
constexpr Difference kOpenMetricsText = {4, 2, "push-api.md: OpenMetrics text is accepted"};
// push-api.md, Bodies: Content-Encoding is case-insensitive and may be snappy or zstd. The
// Pushgateway 1.5.1 only decodes the exact token "gzip"; it reads any other encoded body as
// plain text, which then fails to parse.
constexpr Difference kEncodingPushgatewayLacks = {
    4, 2, "push-api.md: case-insensitive gzip, snappy and zstd; the Pushgateway 1.5.1 lacks them"};
// The same gap the other way: a plain text body under a snappy/zstd header is fine for the
// Pushgateway 1.5.1 (it ignores the header) but is corrupt data for pushgate.
constexpr Difference kEncodingHeaderHonoured = {
    2, 4, "push-api.md: the body is decoded as its Content-Encoding says"};
// push-api.md, Bodies: "Anything else: 415." The Pushgateway 1.5.1 ignores an unknown
// Content-Encoding and reads the body as it is.
constexpr Difference kUnknownEncoding415 = {2, 4, "push-api.md: unknown Content-Encoding is 415"};
// The Pushgateway's router (julienschmidt/httprouter) answers a path with an empty segment
// or a trailing slash after /job/ with a 301/307 redirect to a cleaned path and stores
// nothing; pushgate answers 400/404 naming the problem (push-api.md, Grouping key: an empty
// job is 400 "job name is required", an empty label name is an improper label name).
constexpr Difference kRouterRedirect = {3, 4, "Pushgateway redirects; push-api.md says 400/404"};
// push-api.md, Routes: "Any other method on a push path: 405 with an Allow header." The
// Pushgateway's router answers OPTIONS itself with 200 and Allow.
constexpr Difference kOptionsIs405 = {2, 4, "push-api.md: any other method is 405"};
// push-api.md, Routes: only the listed routes exist ("Unknown path: 404"); the Pushgateway
// also serves its web UI at /.
constexpr Difference kNoWebUi = {2, 4, "push-api.md: pushgate has no web UI; unknown path 404"};
// Label names starting with "__" in a pushed sample: the Pushgateway refuses them in its
// consistency check; DataKit (whose parser accepts them) keeps them, and pushgate follows
// DataKit (libs/text_parser: only __name__ is reserved in samples). push-api.md does not
// list this one yet.
constexpr Difference kReservedLabelInBody = {4, 2, "pushgate follows DataKit: __x labels kept"};
// A grouping label that is not UTF-8 (from base64): the Pushgateway answers 400 but keeps the
// group, and from then on fails or hangs on every push (its registry can no longer be
// gathered), so the row is not sent to it. pushgate refuses it with 400.
constexpr Difference kNotSentToPushgateway = {0, 4, "poisons the Pushgateway; pushgate 400"};
// A DELETE whose base64 job does not decode: the Pushgateway 1.5.1 answers 400 but returns
// without unlocking the mutex of its DELETE handler (handler/delete.go), so every later DELETE
// on that route hangs. Not sent there; pushgate answers 400.
constexpr Difference kDeadlocksPushgateway = {0, 4, "locks the Pushgateway's DELETE; pushgate 400"};
// Protobuf bodies the Pushgateway 1.5.1 takes that pushgate's decoder refuses
// (libs/protobuf_decoder: metric names are checked as in the text format, and a length prefix with
// no message after it is a truncated body, where Go's reader sees a clean end). Not listed in
// push-api.md yet.
constexpr Difference kProtobufStricter = {2, 4, "libs/protobuf_decoder is stricter"};

struct Case {
  std::string name;
  std::string method;
  // "$JOB" is replaced by a job unique to the row, "$B64JOB" by its base64.
  std::string path;
  std::vector<std::string> headers;
  std::string body;
  Difference difference = kSame;
  // When not 0, pushgate's exact status.
  int pushgate_status = 0;
};

constexpr char kText[] = "Content-Type: text/plain; version=0.0.4";
constexpr char kProto[] =
    "Content-Type: application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
    "encoding=delimited";

std::vector<Case> Corpus() {
  const std::string kJob = "/metrics/job/$JOB";
  const std::string kOne = "one_metric 1\n";
  std::vector<Case> c;
  const auto add = [&c](Case row) { c.push_back(std::move(row)); };

  // --- URLs and grouping keys ---
  add({"put_plain", "PUT", kJob, {kText}, kOne, kSame, 200});
  add({"post_plain", "POST", kJob, {kText}, kOne, kSame, 200});
  add({"trailing_slash_after_job", "PUT", kJob + "/", {kText}, kOne, kSame, 200});
  add({"labels", "PUT", kJob + "/instance/i1/zone/eu", {kText}, kOne, kSame, 200});
  add({"label_trailing_slash_empty_value", "PUT", kJob + "/a/", {kText}, kOne, kSame, 200});
  add({"job_pair_in_labels", "PUT", kJob + "/job/other", {kText}, kOne, kSame, 200});
  add({"label_given_twice", "PUT", kJob + "/a/1/a/2", {kText}, kOne, kSame, 200});
  add({"base64_job", "PUT", "/metrics/job@base64/$B64JOB", {kText}, kOne, kSame, 200});
  add({"base64_job_padded", "PUT", "/metrics/job@base64/$B64JOB==", {kText}, kOne, kSame, 200});
  add({"base64_value_with_slash",
       "PUT",
       kJob + "/path@base64/" + absl::WebSafeBase64Escape("a/b"),
       {kText},
       kOne,
       kSame,
       200});
  add({"base64_value_padding", "PUT", kJob + "/a@base64/YQ==", {kText}, kOne, kSame, 200});
  add({"base64_value_padding_percent_encoded",
       "PUT",
       kJob + "/a@base64/YQ%3D%3D",
       {kText},
       kOne,
       kSame,
       200});
  add({"base64_lone_padding_is_empty", "PUT", kJob + "/a@base64/=", {kText}, kOne, kSame, 200});
  add({"base64_empty_job", "PUT", "/metrics/job@base64/=", {kText}, kOne, kSame, 400});
  add({"base64_bad_job", "PUT", "/metrics/job@base64/YW!j", {kText}, kOne, kSame, 400});
  add({"base64_bad_value", "PUT", kJob + "/a@base64/!!", {kText}, kOne, kSame, 400});
  add({"base64_truncated_value", "PUT", kJob + "/a@base64/Y", {kText}, kOne, kSame, 400});
  add({"base64_value_not_utf8",
       "PUT",
       kJob + "/a@base64/_-8",
       {kText},
       kOne,
       kNotSentToPushgateway,
       400});
  add({"base64_job_not_utf8",
       "PUT",
       "/metrics/job@base64/_-8",
       {kText},
       kOne,
       kNotSentToPushgateway,
       400});
  add({"percent_encoded_value_not_utf8",
       "PUT",
       kJob + "/a/%FF",
       {kText},
       kOne,
       kNotSentToPushgateway,
       400});
  add({"percent_2f_splits_value", "PUT", kJob + "/a/b%2Fc", {kText}, kOne, kSame, 400});
  add({"percent_2f_after_job", "PUT", kJob + "%2F", {kText}, kOne, kSame, 200});
  add({"percent_space_in_job", "PUT", kJob + "%20x", {kText}, kOne, kSame, 200});
  add({"bad_percent_escape", "PUT", kJob + "%zz", {kText}, kOne, kSame, 400});
  add({"odd_components_one", "PUT", kJob + "/a", {kText}, kOne, kSame, 400});
  add({"odd_components_three", "PUT", kJob + "/a/b/c", {kText}, kOne, kSame, 400});
  add({"label_name_starts_with_digit", "PUT", kJob + "/1a/b", {kText}, kOne, kSame, 400});
  add({"label_name_with_dash", "PUT", kJob + "/a-b/c", {kText}, kOne, kSame, 400});
  add({"label_name_dunder", "PUT", kJob + "/__a/b", {kText}, kOne, kSame, 400});
  add({"label_name_dunder_base64", "PUT", kJob + "/__a@base64/YQ", {kText}, kOne, kSame, 400});
  add({"label_name_double_base64", "PUT", kJob + "/a@base64@base64/YQ", {kText}, kOne, kSame, 400});
  add({"label_name_only_base64_suffix", "PUT", kJob + "/@base64/YQ", {kText}, kOne, kSame, 400});
  add({"empty_job_trailing_slash", "PUT", "/metrics/job/", {kText}, kOne, kRouterRedirect, 400});
  add({"empty_label_name", "PUT", kJob + "//x", {kText}, kOne, kRouterRedirect, 400});
  add({"empty_job_and_label", "PUT", "/metrics/job//x", {kText}, kOne, kRouterRedirect, 400});
  add({"empty_label_value_mid_path", "PUT", kJob + "/a//b/c", {kText}, kOne, kRouterRedirect, 400});
  add({"dot_label_value", "PUT", kJob + "/a/.", {kText}, kOne, kRouterRedirect, 400});
  add({"dot_dot_label_value", "PUT", kJob + "/a/../b/c", {kText}, kOne, kRouterRedirect, 400});
  add({"dot_job", "PUT", "/metrics/job/./a/b", {kText}, kOne, kRouterRedirect, 400});
  add({"double_slash_before_metrics",
       "PUT",
       "//metrics/job/$JOB",
       {kText},
       kOne,
       kRouterRedirect,
       404});
  add({"no_job_segment", "PUT", "/metrics/job", {kText}, kOne, kSame, 404});
  add({"no_job_segment_get", "GET", "/metrics/job", {}, "", kSame, 404});
  add({"base64_job_without_value", "PUT", "/metrics/job@base64/", {kText}, kOne, kSame});
  add({"jobs_typo", "PUT", "/metrics/jobs/$JOB", {kText}, kOne, kSame, 404});
  add({"unknown_path", "PUT", "/foo", {kText}, kOne, kSame, 404});
  add({"unknown_path_get", "GET", "/foo/bar", {}, "", kSame, 404});
  add({"web_ui_root", "GET", "/", {}, "", kNoWebUi, 404});

  // --- Methods ---
  add({"get_on_push_path", "GET", kJob, {}, "", kSame, 405});
  add({"patch_on_push_path", "PATCH", kJob, {kText}, kOne, kSame, 405});
  add({"head_on_push_path", "HEAD", kJob, {}, "", kSame, 405});
  add({"get_on_push_path_with_labels", "GET", kJob + "/a/b", {}, "", kSame, 405});
  add({"options_on_push_path", "OPTIONS", kJob, {}, "", kOptionsIs405, 405});
  add({"delete_group", "DELETE", kJob, {}, "", kSame, 202});
  add({"delete_group_with_labels", "DELETE", kJob + "/a/b", {}, "", kSame, 202});
  add({"delete_base64_group", "DELETE", "/metrics/job@base64/$B64JOB", {}, "", kSame, 202});
  add({"delete_odd_components", "DELETE", kJob + "/a", {}, "", kSame, 400});
  add({"delete_empty_base64_job", "DELETE", "/metrics/job@base64/=", {}, "", kSame, 400});
  add({"delete_bad_base64_job",
       "DELETE",
       "/metrics/job@base64/YW!j",
       {},
       "",
       kDeadlocksPushgateway,
       400});
  add({"healthy", "GET", "/-/healthy", {}, "", kSame, 200});
  add({"ready", "GET", "/-/ready", {}, "", kSame, 200});
  add({"post_healthy", "POST", "/-/healthy", {kText}, kOne, kSame, 405});
  add({"post_metrics", "POST", "/metrics", {kText}, kOne, kSame, 405});

  // --- Text bodies ---
  add({"escapes", "PUT", kJob, {kText}, "esc{a=\"q\\\"b\\\\c\\nd\"} 1\n", kSame, 200});
  add({"nan_and_infinities",
       "PUT",
       kJob,
       {kText},
       "v{a=\"1\"} NaN\nv{a=\"2\"} +Inf\nv{a=\"3\"} -Inf\nv{a=\"4\"} Inf\nv{a=\"5\"} infinity\n",
       kSame,
       200});
  add({"exponents_and_forms",
       "PUT",
       kJob,
       {kText},
       "v{a=\"1\"} 1e3\nv{a=\"2\"} -1.5E-3\nv{a=\"3\"} .5\nv{a=\"4\"} +7\nv{a=\"5\"} 007\n"
       "v{a=\"6\"} 1.\nv{a=\"7\"} 1e-400\n",
       kSame,
       200});
  add({"timestamp", "PUT", kJob, {kText}, "ts_metric 1 1700000000000\n", kFollowsDataKit, 200});
  add({"negative_timestamp", "PUT", kJob, {kText}, "ts_metric 1 -5\n", kFollowsDataKit, 200});
  add({"bad_escape", "PUT", kJob, {kText}, "m{a=\"\\q\"} 1\n", kSame, 400});
  add({"bad_escape_hex", "PUT", kJob, {kText}, "m{a=\"\\x41\"} 1\n", kSame, 400});
  add({"duplicate_label", "PUT", kJob, {kText}, "m{a=\"1\",a=\"2\"} 1\n", kSame, 400});
  add({"value_not_a_number", "PUT", kJob, {kText}, "m abc\n", kSame, 400});
  add({"value_hex", "PUT", kJob, {kText}, "m 0x10\n", kSame, 400});
  add({"value_underscore", "PUT", kJob, {kText}, "m 1_000\n", kSame, 400});
  add({"value_negative_nan", "PUT", kJob, {kText}, "m -NaN\n", kSame, 400});
  add({"value_overflow", "PUT", kJob, {kText}, "m 1e400\n", kSame, 400});
  add({"value_dot_only", "PUT", kJob, {kText}, "m .\n", kSame, 400});
  add({"value_exponent_without_digits", "PUT", kJob, {kText}, "m 1e\n", kSame, 400});
  add({"value_missing", "PUT", kJob, {kText}, "m\n", kSame, 400});
  add({"timestamp_float", "PUT", kJob, {kText}, "m 1 1.5\n", kSame, 400});
  add({"timestamp_word", "PUT", kJob, {kText}, "m 1 abc\n", kSame, 400});
  add({"timestamp_overflow", "PUT", kJob, {kText}, "m 1 99999999999999999999\n", kSame, 400});
  add({"text_after_timestamp", "PUT", kJob, {kText}, "m 1 2 3\n", kSame, 400});
  add({"trailing_space_after_value", "PUT", kJob, {kText}, "m 1 \n", kSame, 400});
  add({"trailing_tab_after_value", "PUT", kJob, {kText}, "m 1\t\n", kSame, 400});
  add({"missing_final_newline",
       "PUT",
       kJob,
       {kText},
       "last_line 1",
       kVictoriaMetricsLeniency,
       200});
  add({"crlf_line_ends",
       "PUT",
       kJob,
       {kText},
       "crlf_a 1\r\ncrlf_b 2\r\n",
       kVictoriaMetricsLeniency,
       200});
  add({"repeated_type",
       "PUT",
       kJob,
       {kText},
       "# TYPE rt gauge\n# TYPE rt gauge\nrt 1\n",
       kFollowsDataKit,
       200});
  add({"repeated_help",
       "PUT",
       kJob,
       {kText},
       "# HELP rh one\n# HELP rh two\nrh 1\n",
       kFollowsDataKit,
       200});
  add({"info_type",
       "PUT",
       kJob,
       {kText},
       "# TYPE build info\nbuild_info{version=\"1.2\"} 1\n",
       kFollowsDataKit,
       200});
  add({"duplicate_series", "PUT", kJob, {kText}, "dup 1\ndup 2\n", kFollowsDataKit, 200});
  add({"empty_body", "PUT", kJob, {kText}, "", kSame, 200});
  add({"empty_body_post", "POST", kJob, {}, "", kSame, 200});
  add({"comments_only", "PUT", kJob, {kText}, "# just a comment\n#\n", kSame, 200});
  add({"blank_and_indented_lines", "PUT", kJob, {kText}, "\n   \n  ind 1\n\n", kSame, 200});
  add({"trailing_comma_in_labels", "PUT", kJob, {kText}, "tc{a=\"1\",} 1\n", kSame, 200});
  add({"spaces_and_tabs_in_labels",
       "PUT",
       kJob,
       {kText},
       "sp { a = \"1\" ,\tb=\"2\" }\t1\n",
       kSame,
       200});
  add({"empty_braces_and_no_space", "PUT", kJob, {kText}, "eb{} 1\nns{a=\"1\"}2\n", kSame, 200});
  add({"utf8_label_value", "PUT", kJob, {kText}, "u{a=\"caf\xc3\xa9\"} 1\n", kSame, 200});
  add({"label_value_not_utf8", "PUT", kJob, {kText}, "u{a=\"\xff\"} 1\n", kSame, 400});
  add({"colon_in_name", "PUT", kJob, {kText}, "job:rate5m 1\n", kSame, 200});
  add({"job_label_in_body",
       "PUT",
       kJob,
       {kText},
       "jl{job=\"other\",instance=\"x\"} 1\n",
       kSame,
       200});
  add({"help_escapes", "PUT", kJob, {kText}, "# HELP he a\\\\b\\nc\nhe 1\n", kSame, 200});
  add({"help_bad_escape", "PUT", kJob, {kText}, "# HELP hb a\\qb\nhb 1\n", kSame, 400});
  add({"help_not_utf8", "PUT", kJob, {kText}, "# HELP hu caf\xe9\nhu 1\n", kSame, 200});
  add({"help_without_text", "PUT", kJob, {kText}, "# HELP hw\nhw 1\n", kSame, 200});
  add({"type_without_type", "PUT", kJob, {kText}, "# TYPE tw\ntw 1\n", kSame, 200});
  add({"type_upper_case", "PUT", kJob, {kText}, "# TYPE tu GAUGE\ntu 1\n", kSame, 200});
  add({"type_with_trailing_space", "PUT", kJob, {kText}, "# TYPE ts gauge \nts 1\n", kSame, 400});
  add({"type_unknown", "PUT", kJob, {kText}, "# TYPE tx foo\ntx 1\n", kSame, 400});
  add({"type_after_samples",
       "PUT",
       kJob,
       {kText},
       "ta 1\n# TYPE ta gauge\n",
       kFollowsDataKit,
       200});
  add({"histogram_type_after_samples",
       "PUT",
       kJob,
       {kText},
       "tb 1\n# TYPE tb histogram\n",
       kSame,
       400});
  add({"metric_name_starts_with_digit", "PUT", kJob, {kText}, "1m 1\n", kSame, 400});
  add({"metric_name_not_ascii", "PUT", kJob, {kText}, "caf\xc3\xa9 1\n", kSame, 400});
  add({"label_name_reserved_name", "PUT", kJob, {kText}, "m{__name__=\"x\"} 1\n", kSame, 400});
  add({"label_name_reserved_prefix",
       "PUT",
       kJob,
       {kText},
       "m{__x=\"y\"} 1\n",
       kReservedLabelInBody,
       200});
  add({"label_name_starts_with_digit_in_body",
       "PUT",
       kJob,
       {kText},
       "m{1a=\"b\"} 1\n",
       kSame,
       400});
  add({"label_value_unquoted", "PUT", kJob, {kText}, "m{a=b} 1\n", kSame, 400});
  add({"label_value_unterminated", "PUT", kJob, {kText}, "m{a=\"1} 1\n", kSame, 400});
  add({"labels_without_comma", "PUT", kJob, {kText}, "m{a=\"1\" b=\"2\"} 1\n", kSame, 400});
  add({"histogram",
       "PUT",
       kJob,
       {kText},
       "# TYPE hg histogram\nhg_bucket{le=\"1\"} 1\nhg_bucket{le=\"+Inf\"} 2\nhg_sum 3\n"
       "hg_count 2\n",
       kSame,
       200});
  add({"summary",
       "PUT",
       kJob,
       {kText},
       "# TYPE sm summary\nsm{quantile=\"0.5\"} 1\nsm_sum 3\nsm_count 2\n",
       kSame,
       200});
  add({"histogram_bucket_without_le",
       "PUT",
       kJob,
       {kText},
       "# TYPE hl histogram\nhl_bucket 1\nhl_sum 1\n",
       kSame,
       200});
  add({"histogram_bucket_le_nan",
       "PUT",
       kJob,
       {kText},
       "# TYPE hn histogram\nhn_bucket{le=\"NaN\"} 1\n",
       kSame,
       200});
  add({"histogram_bucket_le_not_a_number",
       "PUT",
       kJob,
       {kText},
       "# TYPE hx histogram\nhx_bucket{le=\"abc\"} 1\n",
       kSame,
       400});
  add({"histogram_sample_without_suffix",
       "PUT",
       kJob,
       {kText},
       "# TYPE hb histogram\nhb 1\nhb{le=\"2\"} 1\n",
       kSame,
       200});
  add({"summary_sample_without_quantile",
       "PUT",
       kJob,
       {kText},
       "# TYPE sq summary\nsq 1\n",
       kSame,
       200});
  add({"summary_quantile_not_a_number",
       "PUT",
       kJob,
       {kText},
       "# TYPE sx summary\nsx{quantile=\"abc\"} 1\n",
       kSame,
       400});
  add({"counter_total_suffix",
       "PUT",
       kJob,
       {kText},
       "# TYPE ct counter\nct_total 1\n",
       kSame,
       200});
  add({"openmetrics_eof",
       "PUT",
       kJob,
       {"Content-Type: application/openmetrics-text"},
       "om 1\n# EOF\n",
       kSame,
       200});
  add({"openmetrics_unknown_type",
       "PUT",
       kJob,
       {kText},
       "# TYPE ou unknown\nou 1\n",
       kOpenMetricsText,
       200});
  add({"openmetrics_stateset_type",
       "PUT",
       kJob,
       {kText},
       "# TYPE os stateset\nos{os=\"a\"} 1\n",
       kOpenMetricsText,
       200});
  add({"openmetrics_exemplar",
       "PUT",
       kJob,
       {kText},
       "# TYPE oe counter\noe_total 1 # {trace=\"abc\"} 1\n",
       kOpenMetricsText,
       200});

  // --- Protobuf bodies ---
  const std::string valid = Delimited(ValidFamilies());
  add({"protobuf_all_types", "PUT", kJob, {kProto}, valid, kSame, 200});
  add({"protobuf_params_reordered",
       "PUT",
       kJob,
       {"Content-Type: application/vnd.google.protobuf ; encoding=delimited ; "
        "proto=io.prometheus.client.MetricFamily"},
       valid,
       kSame,
       200});
  add({"protobuf_empty_body", "PUT", kJob, {kProto}, "", kSame, 200});
  add({"protobuf_truncated", "PUT", kJob, {kProto}, valid.substr(0, valid.size() - 7), kSame, 400});
  add({"protobuf_length_only", "PUT", kJob, {kProto}, valid.substr(0, 1), kProtobufStricter, 400});
  add({"protobuf_garbage",
       "PUT",
       kJob,
       {kProto},
       std::string("\x05\xff\xff\xff\xff\xff", 6),
       kSame,
       400});
  add({"protobuf_header_on_text_body", "PUT", kJob, {kProto}, "pt 1\n", kSame, 400});
  add({"protobuf_body_read_as_text", "PUT", kJob, {kText}, valid, kSame, 400});
  {
    prom::MetricFamily with_timestamp = SingleGauge("pb_ts", 1);
    with_timestamp.mutable_metric(0)->set_timestamp_ms(1700000000000);
    add({"protobuf_timestamp",
         "PUT",
         kJob,
         {kProto},
         Delimited({with_timestamp}),
         kFollowsDataKit,
         200});
    prom::MetricFamily bad_name = SingleGauge("1pb", 1);
    add({"protobuf_bad_metric_name",
         "PUT",
         kJob,
         {kProto},
         Delimited({bad_name}),
         kProtobufStricter,
         400});
    prom::MetricFamily no_name = SingleGauge("", 1);
    add({"protobuf_no_metric_name",
         "PUT",
         kJob,
         {kProto},
         Delimited({no_name}),
         kProtobufStricter,
         400});
    prom::MetricFamily reserved_label = SingleGauge("pb_reserved", 1);
    reserved_label.mutable_metric(0)->mutable_label(0)->set_name("__x");
    add({"protobuf_label_name_reserved_prefix",
         "PUT",
         kJob,
         {kProto},
         Delimited({reserved_label}),
         kReservedLabelInBody,
         200});
    prom::MetricFamily bad_help = SingleGauge("pb_help", 1);
    bad_help.set_help("caf\xe9");
    add({"protobuf_help_not_utf8", "PUT", kJob, {kProto}, Delimited({bad_help}), kSame, 200});
    prom::MetricFamily dup_label = SingleGauge("pb_dup", 1);
    prom::LabelPair* again = dup_label.mutable_metric(0)->add_label();
    again->set_name("a");
    again->set_value("c");
    add({"protobuf_duplicate_label", "PUT", kJob, {kProto}, Delimited({dup_label}), kSame, 400});
    prom::MetricFamily bad_label = SingleGauge("pb_badlabel", 1);
    bad_label.mutable_metric(0)->mutable_label(0)->set_name("a-b");
    add({"protobuf_bad_label_name", "PUT", kJob, {kProto}, Delimited({bad_label}), kSame, 400});
    prom::MetricFamily wrong_field = Family("pb_wrong", prom::COUNTER);
    AddMetric(&wrong_field, {})->mutable_gauge()->set_value(1);
    add({"protobuf_value_field_of_other_type",
         "PUT",
         kJob,
         {kProto},
         Delimited({wrong_field}),
         kSame,
         400});
    add({"protobuf_same_family_twice",
         "PUT",
         kJob,
         {kProto},
         Delimited({SingleGauge("pb_twice", 1), SingleGauge("pb_twice", 2)}),
         kSame,
         200});
    add({"protobuf_gzip",
         "PUT",
         kJob,
         {kProto, "Content-Encoding: gzip"},
         Gzip(valid),
         kSame,
         200});
  }

  // --- Content-Encoding ---
  const std::string text = "enc_metric{a=\"1\"} 1\n";
  add({"gzip", "PUT", kJob, {kText, "Content-Encoding: gzip"}, Gzip(text), kSame, 200});
  add({"gzip_upper_case",
       "PUT",
       kJob,
       {kText, "Content-Encoding: GZIP"},
       Gzip(text),
       kEncodingPushgatewayLacks,
       200});
  add({"identity", "PUT", kJob, {kText, "Content-Encoding: identity"}, text, kSame, 200});
  add({"zstd",
       "PUT",
       kJob,
       {kText, "Content-Encoding: zstd"},
       Zstd(text),
       kEncodingPushgatewayLacks,
       200});
  add({"snappy_framed",
       "PUT",
       kJob,
       {kText, "Content-Encoding: snappy"},
       SnappyFramed(text),
       kEncodingPushgatewayLacks,
       200});
  add({"zstd_header_on_plain_body",
       "PUT",
       kJob,
       {kText, "Content-Encoding: zstd"},
       text,
       kEncodingHeaderHonoured,
       400});
  add({"snappy_header_on_plain_body",
       "PUT",
       kJob,
       {kText, "Content-Encoding: snappy"},
       text,
       kEncodingHeaderHonoured,
       400});
  add({"unknown_encoding",
       "PUT",
       kJob,
       {kText, "Content-Encoding: br"},
       text,
       kUnknownEncoding415,
       415});
  add({"deflate_body",
       "PUT",
       kJob,
       {kText, "Content-Encoding: deflate"},
       Gzip(text).substr(10),
       kSame,
       415});
  add({"gzip_header_on_plain_body",
       "PUT",
       kJob,
       {kText, "Content-Encoding: gzip"},
       text,
       kSame,
       400});
  add({"gzip_truncated",
       "PUT",
       kJob,
       {kText, "Content-Encoding: gzip"},
       Gzip(text).substr(0, 12),
       kSame,
       400});
  add({"gzip_empty_body", "PUT", kJob, {kText, "Content-Encoding: gzip"}, "", kSame, 400});
  add({"gzip_body_without_header", "PUT", kJob, {kText}, Gzip(text), kSame, 400});
  add({"gzip_of_malformed_text",
       "PUT",
       kJob,
       {kText, "Content-Encoding: gzip"},
       Gzip("bad{ 1\n"),
       kSame,
       400});
  return c;
}

// ---------------------------------------------------------------------------------------

class PushgatewayDifferentialTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(access(kPushgatewayBinary, X_OK), 0)
        << kPushgatewayBinary << " is missing: install Debian's prometheus-pushgateway "
        << "(tools/setup)";
    const int port = FreePort();
    pushgateway_url_ = new std::string(absl::StrCat("http://127.0.0.1:", port));
    // Debian's build persists to /var/lib/prometheus/pushgateway.data by default: the test
    // must neither read nor write that machine-wide file.
    pushgateway_ =
        new Process({kPushgatewayBinary, absl::StrCat("--web.listen-address=127.0.0.1:", port),
                     "--persistence.file=", "--log.level=error"},
                    ScratchDir("pushgateway") + "/pushgateway.log");
    ASSERT_TRUE(WaitForHttp200(*pushgateway_url_ + "/-/ready", absl::Seconds(20)).ok());
    pushgate_ = new Pushgate(PushgateOptions{});
  }

  static void TearDownTestSuite() {
    delete pushgate_;
    delete pushgateway_;
    delete pushgateway_url_;
  }

  static std::string* pushgateway_url_;
  static Process* pushgateway_;
  static Pushgate* pushgate_;
};

std::string* PushgatewayDifferentialTest::pushgateway_url_ = nullptr;
Process* PushgatewayDifferentialTest::pushgateway_ = nullptr;
Pushgate* PushgatewayDifferentialTest::pushgate_ = nullptr;

// The grouping labels the Pushgateway keeps for `job` (from its API), or nullopt if it has no
// such group.
std::optional<std::map<std::string, std::string>> PushgatewayGroupLabels(
    const std::string& pushgateway_url, const std::string& job) {
  const Reply reply = Send("GET", pushgateway_url + "/api/v1/metrics", {}, "");
  google::protobuf::Struct api;
  if (reply.status != 200 || !google::protobuf::util::JsonStringToMessage(reply.body, &api).ok()) {
    ADD_FAILURE() << "Pushgateway API: " << reply.status << " " << reply.body.substr(0, 200);
    return std::nullopt;
  }
  for (const auto& group : api.fields().at("data").list_value().values()) {
    const auto& labels = group.struct_value().fields().at("labels").struct_value().fields();
    auto it = labels.find("job");
    if (it == labels.end() || it->second.string_value() != job) continue;
    std::map<std::string, std::string> out;
    for (const auto& [name, value] : labels) out[name] = value.string_value();
    return out;
  }
  return std::nullopt;
}

// The tags of the points pushgate wrote for `job` (its default file sink), one map per point.
std::vector<std::map<std::string, std::string>> PushgateTags(const std::string& points_file,
                                                             const std::string& job) {
  std::ifstream in(points_file);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::map<std::string, std::string>> out;
  absl::StatusOr<std::vector<Point>> points = ParseLineProtocol(text.str());
  if (!points.ok()) return out;
  for (const Point& point : *points) {
    std::map<std::string, std::string> tags(point.tags.begin(), point.tags.end());
    if (tags.count("job") && tags["job"] == job) out.push_back(std::move(tags));
  }
  return out;
}

std::string Describe(const Reply& reply) {
  if (reply.status == 0) return absl::StrCat("transport error: ", reply.error);
  return absl::StrCat(reply.status, " \"", absl::CEscape(reply.body.substr(0, 300)), "\"");
}

TEST_F(PushgatewayDifferentialTest, SameStatusClassExceptDocumentedDifferences) {
  const std::vector<Case> corpus = Corpus();
  ASSERT_GE(corpus.size(), 60u);
  // Rows both accepted with the one-metric body: the group labels the Pushgateway kept, to
  // compare with the tags of pushgate's point once it is written.
  std::map<std::string, std::map<std::string, std::string>> accepted_groups;
  int index = 0;
  for (const Case& row : corpus) {
    ++index;
    SCOPED_TRACE(absl::StrCat("case ", row.name, ": ", row.method, " ", row.path));
    // A job unique to the row: the Pushgateway keeps every group, and a row must not meet the
    // leftovers of another.
    const std::string job = absl::StrCat("diff", index, "_", row.name);
    const std::string path =
        absl::StrReplaceAll(row.path, {{"$B64JOB", absl::WebSafeBase64Escape(job)}, {"$JOB", job}});

    const Reply ours = Send(row.method, pushgate_->front_url() + path, row.headers, row.body);
    Reply theirs;
    if (row.difference.pushgateway_class != 0) {
      theirs = Send(row.method, *pushgateway_url_ + path, row.headers, row.body);
      if (StatusClass(theirs.status) == 2 && StatusClass(ours.status) == 2 &&
          (row.method == "PUT" || row.method == "POST") && row.body == "one_metric 1\n") {
        auto labels = PushgatewayGroupLabels(*pushgateway_url_, job);
        if (labels.has_value()) accepted_groups[job] = *labels;
      }
      // Clean up, as metrics of the same name must agree in type and help across groups. Only
      // after a success: a refused push stores no metrics, and a DELETE on a path with a bad
      // base64 job would lock the Pushgateway's DELETE handler (kDeadlocksPushgateway).
      if (StatusClass(theirs.status) == 2) Send("DELETE", *pushgateway_url_ + path, {}, "");
    }
    std::cout << absl::StrFormat("%-40s %-7s pushgateway %3d  pushgate %3d  %s\n", row.name,
                                 row.method, theirs.status, ours.status,
                                 absl::CEscape(ours.body.substr(0, 120)));
    if (ours.status == 0 || (row.difference.pushgateway_class != 0 && theirs.status == 0)) {
      ADD_FAILURE() << "no answer: pushgate " << Describe(ours) << ", Pushgateway "
                    << Describe(theirs);
      continue;
    }

    if (row.difference.why == nullptr) {
      EXPECT_EQ(StatusClass(ours.status), StatusClass(theirs.status))
          << "pushgate " << Describe(ours) << " vs Pushgateway " << Describe(theirs);
    } else {
      SCOPED_TRACE(row.difference.why);
      if (row.difference.pushgateway_class != 0) {
        EXPECT_EQ(StatusClass(theirs.status), row.difference.pushgateway_class)
            << "Pushgateway " << Describe(theirs);
      }
      EXPECT_EQ(StatusClass(ours.status), row.difference.pushgate_class)
          << "pushgate " << Describe(ours);
    }
    if (row.pushgate_status != 0) {
      EXPECT_EQ(ours.status, row.pushgate_status) << "pushgate " << Describe(ours);
    }

    // Every pushgate error is one line of plain text (push-api.md, Responses).
    if (ours.status >= 400 && row.method != "HEAD") {
      EXPECT_TRUE(absl::StartsWith(HeaderValue(ours.headers, "Content-Type"), "text/plain"))
          << ours.headers;
      ASSERT_TRUE(absl::EndsWith(ours.body, "\n")) << Describe(ours);
      const absl::string_view line(ours.body.data(), ours.body.size() - 1);
      EXPECT_FALSE(line.empty());
      EXPECT_EQ(line.find_first_of("\r\n"), absl::string_view::npos) << Describe(ours);
    }
    if (ours.status == 405 && absl::StrContains(path, "/metrics/job")) {
      const std::string allow = HeaderValue(ours.headers, "Allow");
      for (const char* method : {"PUT", "POST", "DELETE"}) {
        EXPECT_TRUE(absl::StrContains(allow, method)) << "Allow: " << allow;
      }
      if (row.difference.why == nullptr) {
        EXPECT_NE(HeaderValue(theirs.headers, "Allow"), "") << theirs.headers;
      }
    }
  }

  // Where both accepted a push, pushgate's point carries the same grouping labels as the
  // Pushgateway's group (an empty value is no tag in line protocol): same status is not
  // enough if, say, a base64 value or a repeated name were decoded differently.
  EXPECT_GT(accepted_groups.size(), 10u);
  const std::string points_file = pushgate_->data_dir() + "/points.lp";
  for (const auto& [job, labels] : accepted_groups) {
    std::vector<std::map<std::string, std::string>> tags;
    for (int i = 0; i < 100 && tags.empty(); ++i) {
      tags = PushgateTags(points_file, job);
      if (tags.empty()) absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_EQ(tags.size(), 1u) << job;
    std::map<std::string, std::string> expected;
    for (const auto& [name, value] : labels) {
      if (!value.empty()) expected[name] = value;
    }
    EXPECT_EQ(tags[0], expected) << job;
  }
}

// ---------------------------------------------------------------------------------------
// Same status is not the same data: a body both accept must also be read the same way. The
// Pushgateway's reading is taken from what it stores (its /metrics in protobuf), pushed to
// pushgate as a protobuf body under a second job, so both readings go through pushgate's one
// conversion and their points must be equal (but for the job tag and the time).

// The metrics the Pushgateway stores for group `job`, without the job and instance labels
// and without its own push_time_seconds/push_failure_time_seconds, in exposition order.
std::vector<prom::MetricFamily> PushgatewayFamilies(const std::string& pushgateway_url,
                                                    const std::string& job) {
  const Reply reply = Send("GET", pushgateway_url + "/metrics",
                           {"Accept: application/vnd.google.protobuf; "
                            "proto=io.prometheus.client.MetricFamily; encoding=delimited"},
                           "");
  EXPECT_EQ(reply.status, 200) << reply.body.substr(0, 200);
  google::protobuf::io::ArrayInputStream stream(reply.body.data(),
                                                static_cast<int>(reply.body.size()));
  std::vector<prom::MetricFamily> out;
  for (;;) {
    prom::MetricFamily family;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&family, &stream, &clean_eof)) {
      EXPECT_TRUE(clean_eof) << "the Pushgateway's /metrics does not decode";
      return out;
    }
    if (family.name() == "push_time_seconds" || family.name() == "push_failure_time_seconds") {
      continue;
    }
    prom::MetricFamily kept = family;
    kept.clear_metric();
    for (const prom::Metric& metric : family.metric()) {
      bool ours = false;
      prom::Metric copy = metric;
      copy.clear_label();
      for (const prom::LabelPair& label : metric.label()) {
        if (label.name() == "job") ours = label.value() == job;
        if (label.name() != "job" && label.name() != "instance") *copy.add_label() = label;
      }
      if (ours) *kept.add_metric() = copy;
    }
    if (kept.metric_size() > 0) out.push_back(kept);
  }
}

// Pushgate's points for `job` (its default file sink), each as one comparable line: the
// measurement, the tags but job in name order, the fields in name order, no time.
std::vector<std::string> PushgatePoints(const std::string& points_file, const std::string& job) {
  std::ifstream in(points_file);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> out;
  // The sink may be appending: only whole lines are read.
  const std::string whole = text.str().substr(0, text.str().rfind('\n') + 1);
  absl::StatusOr<std::vector<Point>> points = ParseLineProtocol(whole);
  EXPECT_TRUE(points.ok()) << points.status();
  if (!points.ok()) return out;
  for (Point& point : *points) {
    std::map<std::string, std::string> tags(point.tags.begin(), point.tags.end());
    if (tags["job"] != job) continue;
    tags.erase("job");
    std::map<std::string, double> fields(point.fields.begin(), point.fields.end());
    std::string line = point.measurement;
    for (const auto& [name, value] : tags) absl::StrAppend(&line, ",", name, "=", value);
    for (const auto& [name, value] : fields) {
      absl::StrAppend(&line, " ", name, "=", absl::StrFormat("%.17g", value));
    }
    out.push_back(std::move(line));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(PushgatewayDifferentialTest, AcceptedTextBodiesAreReadAsThePushgatewayReadsThem) {
  struct Row {
    std::string name;
    std::string body;
    // A histogram of the text has no +Inf bucket. The Pushgateway shows one holding its count
    // (as it does for every histogram; in protobuf that bucket is implicit, so pushgate's
    // reading of the stored push adds it), where pushgate's reading of the text keeps exactly
    // the buckets pushed, as DataKit does (the conversion vectors duplicate_series_kept and
    // p6): the Pushgateway's reading must have those +Inf buckets, and be pushgate's besides.
    bool text_lacks_inf_bucket = false;
  };
  const std::vector<Row> rows = {
      {"exporter_like",
       "# HELP dd_http_requests_total Requests.\n# TYPE dd_http_requests_total counter\n"
       "dd_http_requests_total{code=\"200\",method=\"get\"} 1027\n"
       "dd_http_requests_total{method=\"post\",code=\"500\"} 3\n"
       "# TYPE dd_temperature_celsius gauge\ndd_temperature_celsius -12.5\n"
       "# HELP dd_rpc_seconds RPC latency.\n# TYPE dd_rpc_seconds summary\n"
       "dd_rpc_seconds{service=\"a\",quantile=\"0.5\"} 0.2\n"
       "dd_rpc_seconds{quantile=\"0.99\",service=\"a\"} 1.5e-3\n"
       "dd_rpc_seconds_sum{service=\"a\"} 2.5\ndd_rpc_seconds_count{service=\"a\"} 10\n"
       "# TYPE dd_latency_seconds histogram\n"
       "dd_latency_seconds_bucket{le=\"0.1\",path=\"/x\"} 1\n"
       "dd_latency_seconds_bucket{path=\"/x\",le=\"1\"} 3\n"
       "dd_latency_seconds_bucket{path=\"/x\",le=\"+Inf\"} 4\n"
       "dd_latency_seconds_sum{path=\"/x\"} 1.5\ndd_latency_seconds_count{path=\"/x\"} 4\n"},
      // OpenMetrics' end marker is a comment to the Pushgateway: what follows it counts.
      {"eof_in_the_middle", "ee_first 1\n# EOF\nee_second 2\n"},
      // Samples that give no bucket or quantile still make their series.
      {"histogram_sample_without_le", "# TYPE hh_a histogram\nhh_a 3\n", true},
      {"bucket_le_nan_and_missing",
       "# TYPE hh_b histogram\nhh_b_bucket{le=\"1\"} 1\nhh_b_bucket{le=\"NaN\"} 5\n"
       "hh_b_bucket{p=\"x\"} 6\nhh_b_count 1\n",
       true},
      {"summary_without_quantile",
       "# TYPE ss_a summary\nss_a{k=\"v\"} 7\nss_a{k=\"v\",quantile=\"NaN\"} 8\n"
       "ss_a{k=\"w\",quantile=\"0.5\"} 1\nss_a_sum{k=\"w\"} 4\n"},
      {"summary_sum_and_count_only", "# TYPE ss_b summary\nss_b_sum 1.25\nss_b_count 5\n"},
      // Without a TYPE line a _bucket series is untyped and le an ordinary label.
      {"untyped_buckets", "uu_x_bucket{le=\"0.50\"} 1\nuu_x_sum 2\nuu_x_count 3\n"},
      {"escapes_and_blanks",
       "# HELP qq_a a \\\\ help\\nline\nqq_a{ a = \"x\\\"y\" , "
       "b=\"back\\\\slash\",c=\"new\\nline\", } "
       "4\nqq_b{d=\"\"} 5\n"},
      {"number_forms", "nn_a 1e3\nnn_b .5\nnn_c -0\nnn_d +Inf\nnn_e NaN\nnn_f -1.5E-3\n"},
      {"histogram_lines_interleaved",
       "# TYPE hh_c histogram\nhh_c_bucket{a=\"1\",le=\"1\"} 1\nhh_c_bucket{le=\"1\",a=\"2\"} 2\n"
       "hh_c_sum{a=\"1\"} 0.5\nhh_c_bucket{le=\"+Inf\",a=\"1\"} 3\nhh_c_count{a=\"2\"} 2\n"
       "hh_c_bucket{a=\"2\",le=\"+Inf\"} 2\nhh_c_count{a=\"1\"} 3\n"},
  };

  int index = 0;
  std::vector<std::string> jobs;
  std::set<std::string> jobs_lacking_inf;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const std::string job = absl::StrCat("data", ++index, "_", row.name);
    const std::string path = "/metrics/job/" + job;
    const Reply theirs = Send("PUT", *pushgateway_url_ + path, {kText}, row.body);
    ASSERT_EQ(theirs.status, 200) << "Pushgateway " << Describe(theirs);
    const Reply ours = Send("PUT", pushgate_->front_url() + path, {kText}, row.body);
    ASSERT_EQ(ours.status, 200) << "pushgate " << Describe(ours);
    const std::vector<prom::MetricFamily> stored = PushgatewayFamilies(*pushgateway_url_, job);
    ASSERT_FALSE(stored.empty());
    const Reply reread =
        Send("PUT", pushgate_->front_url() + path + "_pgw", {kProto}, Delimited(stored));
    ASSERT_EQ(reread.status, 200) << "pushgate, the Pushgateway's reading " << Describe(reread);
    // Families of a name must agree across the Pushgateway's groups: this row's go.
    Send("DELETE", *pushgateway_url_ + path, {}, "");
    jobs.push_back(job);
    if (row.text_lacks_inf_bucket) jobs_lacking_inf.insert(job);
  }

  const std::string points_file = pushgate_->data_dir() + "/points.lp";
  for (const std::string& job : jobs) {
    SCOPED_TRACE(job);
    std::vector<std::string> read_by_pushgate, read_by_pushgateway;
    size_t inf_buckets = 0;  // taken out of the Pushgateway's reading
    for (int i = 0; i < 100; ++i) {
      read_by_pushgate = PushgatePoints(points_file, job);
      read_by_pushgateway = PushgatePoints(points_file, job + "_pgw");
      if (jobs_lacking_inf.count(job) != 0) {
        const auto inf = std::remove_if(
            read_by_pushgateway.begin(), read_by_pushgateway.end(),
            [](const std::string& line) { return absl::StrContains(line, "le=+Inf"); });
        inf_buckets = read_by_pushgateway.end() - inf;
        read_by_pushgateway.erase(inf, read_by_pushgateway.end());
      }
      if (!read_by_pushgate.empty() && read_by_pushgate.size() == read_by_pushgateway.size()) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_FALSE(read_by_pushgate.empty());
    if (jobs_lacking_inf.count(job) != 0) EXPECT_GT(inf_buckets, 0u);
    EXPECT_EQ(absl::StrJoin(read_by_pushgate, "\n"), absl::StrJoin(read_by_pushgateway, "\n"));
  }
}

}  // namespace
}  // namespace pushgate
