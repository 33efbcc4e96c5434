#include "libs/text_parser/internal/plain_sample.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace text_parser_internal {
namespace {

// The labels the previous sample had.
std::vector<LabelRef> Known(const std::vector<absl::string_view>& names) {
  std::vector<LabelRef> labels;
  for (absl::string_view name : names) labels.push_back(LabelRef{name, "old"});
  return labels;
}

std::vector<std::string> Names(const std::vector<LabelRef>& labels) {
  std::vector<std::string> names;
  for (const LabelRef& label : labels) names.emplace_back(label.name);
  return names;
}

struct Scan {
  bool ok;
  PlainSample sample;
};

struct Options {
  absl::string_view declared_name;
  PlainLabelLimits limits;
};

// `body` must outlive the scan's views into it.
Scan ScanLine(absl::string_view body, absl::string_view previous_name,
              std::vector<LabelRef>* labels, Options options = {}) {
  Scan scan;
  scan.ok = ScanPlainSample(body.data(), body.data() + body.size(), previous_name,
                            options.declared_name, labels, options.limits, &scan.sample);
  return scan;
}

TEST(ScanPlainSampleTest, ReadsALineWithTheKnownLabels) {
  std::vector<LabelRef> labels = Known({"method", "code"});
  const std::string body = "http_requests_total{method=\"GET\",code=\"200\"} 1027\nnext 1\n";
  const Scan scan = ScanLine(body, "http_requests_total", &labels);
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(scan.sample.name, "http_requests_total");
  EXPECT_TRUE(scan.sample.same_name);
  EXPECT_EQ(scan.sample.value, 1027);
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0].name, "method");
  EXPECT_EQ(labels[0].value, "GET");
  EXPECT_EQ(labels[1].name, "code");
  EXPECT_EQ(labels[1].value, "200");
  EXPECT_EQ(absl::string_view(scan.sample.next), "next 1\n");
}

TEST(ScanPlainSampleTest, ScansANameThatIsNotThePreviousOne) {
  for (absl::string_view previous : {"", "x", "x_bucket", "x_sum_more"}) {
    std::vector<LabelRef> labels = Known({"le"});
    const std::string body = "x_sum{le=\"0.5\"} 12.5\n";
    const Scan scan = ScanLine(body, previous, &labels);
    ASSERT_TRUE(scan.ok) << previous;
    EXPECT_EQ(scan.sample.name, "x_sum");
    EXPECT_FALSE(scan.sample.same_name) << previous;
    EXPECT_EQ(scan.sample.value, 12.5);
    ASSERT_EQ(labels.size(), 1u);
    EXPECT_EQ(labels[0].value, "0.5");
  }
}

TEST(ScanPlainSampleTest, TakesTheDeclaredNameWithoutScanningIt) {
  std::vector<LabelRef> labels = Known({"a"});
  Scan scan = ScanLine("g{a=\"1\"} 5\n", "other", &labels, {"g"});
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(scan.sample.name, "g");
  EXPECT_FALSE(scan.sample.same_name);  // the declared family's resolution is not cached
  EXPECT_EQ(scan.sample.value, 5);
  // A longer name that starts with the declared one is scanned in full.
  scan = ScanLine("g_sum 6\n", "", &labels, {"g"});
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(scan.sample.name, "g_sum");
  // A bad one is still refused.
  EXPECT_FALSE(ScanLine("g-x 6\n", "", &labels, {"g"}).ok);
}

TEST(ScanPlainSampleTest, TakesFewerLabelsThanKnownAndNone) {
  std::vector<LabelRef> labels = Known({"handler", "le"});
  Scan scan = ScanLine("h_sum{handler=\"/items\"} 3\n", "h_bucket", &labels);
  ASSERT_TRUE(scan.ok);
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0].value, "/items");

  for (absl::string_view body : {"up 1\n", "up{} 1\n"}) {
    scan = ScanLine(body, "", &labels);
    ASSERT_TRUE(scan.ok) << body;
    EXPECT_EQ(scan.sample.name, "up");
    EXPECT_TRUE(labels.empty()) << body;
  }
  // Metric names may hold colons and start with one or an underscore.
  scan = ScanLine(":job:rate_5m 0.25\n", "", &labels);
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(scan.sample.name, ":job:rate_5m");
  scan = ScanLine("_x 7", "", &labels);
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(scan.sample.name, "_x");
}

TEST(ScanPlainSampleTest, ChecksNamesThatAreNotTheKnownOnes) {
  // After the first name that differs, every name is checked, even one that was known.
  std::vector<LabelRef> labels = Known({"a", "b"});
  Scan scan = ScanLine("x{c=\"1\",b=\"2\",_d9=\"3\"} 4\n", "x", &labels);
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(Names(labels), (std::vector<std::string>{"c", "b", "_d9"}));
  EXPECT_EQ(labels[2].value, "3");
  // Those names are now the known ones, for the next line.
  scan = ScanLine("x{c=\"5\",b=\"6\"} 7\n", "x", &labels);
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(Names(labels), (std::vector<std::string>{"c", "b"}));

  labels = Known({"a"});
  scan = ScanLine("x{a=\"1\",b=\"2\"} 3\n", "x", &labels);  // more than known
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(Names(labels), (std::vector<std::string>{"a", "b"}));

  labels.clear();
  scan = ScanLine("x{z=\"1\"} 3\n", "", &labels);  // none known
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(Names(labels), (std::vector<std::string>{"z"}));
}

TEST(ScanPlainSampleTest, LengthLimitsAreInclusive) {
  std::vector<LabelRef> labels = Known({"a"});
  EXPECT_TRUE(ScanLine("x{a=\"abcd\"} 1\n", "x", &labels, {"", {0, 4}}).ok);
  EXPECT_FALSE(ScanLine("x{a=\"abcde\"} 1\n", "x", &labels, {"", {0, 4}}).ok);
  EXPECT_TRUE(ScanLine("x{a=\"abcde\"} 1\n", "x", &labels).ok);
  // Known names passed the name limit before; new ones are held to it.
  labels.clear();
  EXPECT_TRUE(ScanLine("x{abc=\"1\"} 1\n", "x", &labels, {"", {3, 0}}).ok);
  labels.clear();
  EXPECT_FALSE(ScanLine("x{abcd=\"1\"} 1\n", "x", &labels, {"", {3, 0}}).ok);
}

TEST(ScanPlainSampleTest, TheLastLineMayEndWithTheBody) {
  std::vector<LabelRef> labels = Known({"a"});
  const std::string body = "x{a=\"1\"} 2.5";
  const Scan scan = ScanLine(body, "x", &labels);
  ASSERT_TRUE(scan.ok);
  EXPECT_EQ(scan.sample.value, 2.5);
  EXPECT_EQ(scan.sample.next, body.data() + body.size());
}

TEST(ScanPlainSampleTest, ValuesAreParseFloats) {
  std::vector<LabelRef> labels;
  const struct {
    const char* text;
    double want;
  } cases[] = {{"0", 0}, {"-1.5", -1.5}, {"1e3", 1000}, {"+Inf", INFINITY}, {".5", 0.5}};
  for (const auto& c : cases) {
    const std::string body = std::string("x ") + c.text + "\n";
    const Scan scan = ScanLine(body, "", &labels);
    ASSERT_TRUE(scan.ok) << c.text;
    EXPECT_EQ(scan.sample.value, c.want) << c.text;
  }
  const Scan nan = ScanLine("x NaN\n", "", &labels);
  ASSERT_TRUE(nan.ok);
  EXPECT_TRUE(std::isnan(nan.sample.value));
}

// Every line here is the general parser's to read: valid ones it reads in full, the others it
// rejects with its own message. Whatever the scan got to, the labels it leaves are still a set
// the general parser may take as known: the known ones, or none.
TEST(ScanPlainSampleTest, LeavesEveryOtherLineToTheGeneralParser) {
  const char* const lines[] = {
      "",
      "\n",
      " x{a=\"1\"} 1\n",                 // leading blank
      "\tx 1\n",                         // leading tab
      "# HELP x help\n",                 // comment
      "x{a=\"1\",a=\"2\"} 1\n",          // a name twice
      "x{b=\"1\",b=\"2\"} 1\n",          // twice, the second time where it was known
      "x{c=\"1\",a=\"2\",c=\"3\"} 1\n",  // twice, around a known one
      "x{__name__=\"y\"} 1\n",           // reserved
      "x{a=\"1\",__name__=\"y\"} 1\n",
      "x{1a=\"1\"} 1\n",  // not a label name
      "x{a-b=\"1\"} 1\n",
      "x{a:b=\"1\"} 1\n",
      "x{=\"1\"} 1\n",
      "x{a =\"1\"} 1\n",  // blanks around names, '=' and values
      "x{a= \"1\"} 1\n",
      "x{ a=\"1\"} 1\n",
      "x{a=\"1\" } 1\n",
      "x{a=\"1\", b=\"2\"} 1\n",
      "x{c =\"1\"} 1\n",
      "x{a=\"1\",} 1\n",         // trailing comma
      "x{a=\"1\";b=\"2\"} 1\n",  // not a comma
      "x{a=\"1\\\"\"} 1\n",      // escapes
      "x{a=\"1\\n\"} 1\n",
      "x{c=\"1\\n\"} 1\n",
      "x{a=\"caf\xc3\xa9\"} 1\n",  // non-ASCII
      "x{a=\"1\n\"} 1\n",          // newline inside the value
      "x{a=\"1\"",                 // unclosed at the end of the body
      "x{a=\"1",
      "x{a=",
      "x{c=",
      "x{",
      "x{a=\"1\"}1\n",                 // no space before the value
      "x{a=\"1\"}  1\n",               // two
      "x{a=\"1\"}\t1\n",               // a tab
      "x{c=\"1\"} 1 1700000000000\n",  // timestamp, after a new name
      "x 1 1700000000000\n",           // timestamp
      "x 1 # {a=\"b\"} 1\n",           // exemplar
      "x 1 \n",                        // trailing blank
      "x 1\r\n",                       // CRLF
      "x 1\r",
      "x\n",  // no value
      "x \n",
      "x",
      "x abc\n",  // not a number
      "x{c=\"1\"} abc\n",
      "x 0x10\n",
      "x 1_000\n",
      "x -NaN\n",
      "x 1e400\n",        // beyond the double range
      "x {a=\"1\"} 1\n",  // blank between name and labels
      "1x 1\n",           // not a metric name
      "x-y 1\n",
      "x.y 1\n",
      "{a=\"1\"} 1\n",
  };
  for (const char* line : lines) {
    for (absl::string_view previous : {"", "x"}) {
      std::vector<LabelRef> labels = Known({"a", "b"});
      const Scan scan = ScanLine(line, previous, &labels);
      EXPECT_FALSE(scan.ok) << "line \"" << line << "\" after \"" << previous << "\"";
      if (!labels.empty()) {
        EXPECT_EQ(Names(labels), (std::vector<std::string>{"a", "b"})) << line;
      }
    }
  }
}

TEST(ScanPlainSampleTest, NeverReadsPastTheBody) {
  // Cut a plain body at every length: the scan may accept only where a line ends with a value,
  // and reads nothing beyond (the sanitizers and the heap copy catch a stray read).
  const std::string full = "metric_name{label=\"value\",other=\"v\"} 123.25";
  for (bool known : {true, false}) {
    for (size_t n = 0; n <= full.size(); ++n) {
      const std::string cut = full.substr(0, n);
      std::vector<char> heap(cut.begin(), cut.end());
      std::vector<LabelRef> labels = known ? Known({"label", "other"}) : Known({});
      PlainSample sample;
      const char* begin = heap.data();
      const bool ok = ScanPlainSample(begin, begin + heap.size(), "metric_name", "", &labels,
                                      PlainLabelLimits{}, &sample);
      // "... 1", "... 12", "... 123", "... 123.", "... 123.2", "... 123.25" are all numbers.
      const bool has_value = n > full.find(' ') + 1;
      EXPECT_EQ(ok, has_value) << cut;
      if (ok) {
        EXPECT_EQ(sample.next, begin + heap.size());
      }
    }
  }
}

}  // namespace
}  // namespace text_parser_internal
}  // namespace pushgate
