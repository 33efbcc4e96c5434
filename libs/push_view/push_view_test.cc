// PushView::Parse against protobuf, the reference it must agree with: for every input here,
// Parse succeeds exactly when PushRequest::ParseFromString does, and then holds what Fill
// shows of the parsed message. The inputs are written byte by byte where protobuf's own
// serializer would never produce them (repeated scalars, unknown fields, odd encodings).
#include "libs/push_view/push_view.h"

#include <cmath>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/ingest.pb.h"
#include "tests/harness/allocation_counter.h"

namespace pushgate {
namespace {

using pushgate::v1::PushRequest;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Wire-format pieces, to write inputs protobuf's serializer would not.
std::string Varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}
std::string Key(uint32_t field, int wire_type) { return Varint(uint64_t{field} << 3 | wire_type); }
std::string VarintField(uint32_t field, uint64_t value) { return Key(field, 0) + Varint(value); }
std::string DoubleField(uint32_t field, double value) {
  std::string bytes(8, '\0');
  std::memcpy(&bytes[0], &value, 8);
  return Key(field, 1) + bytes;
}
std::string LengthField(uint32_t field, const std::string& payload) {
  return Key(field, 2) + Varint(payload.size()) + payload;
}
std::string Group(uint32_t field, const std::string& contents) {
  return Key(field, 3) + contents + Key(field, 4);
}
std::string LabelMessage(const std::string& name, const std::string& value) {
  return LengthField(1, name) + LengthField(2, value);
}
// A push with one family holding one series made of `series_fields`.
std::string PushWithSeries(const std::string& series_fields) {
  return LengthField(4, LengthField(1, "f") + LengthField(4, series_fields));
}

PushRequest FromText(const std::string& text) {
  PushRequest push;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &push)) << text;
  return push;
}

// Parses `wire` both ways and checks they agree; returns Parse's status.
absl::Status ParseLikeProtobuf(const std::string& wire, PushView* view) {
  const absl::Status status = view->Parse(wire);
  PushRequest message;
  const bool protobuf_ok = message.ParseFromString(wire);
  EXPECT_EQ(status.ok(), protobuf_ok) << status;
  if (status.ok() && protobuf_ok) {
    PushView expected;
    expected.Fill(message);
    EXPECT_EQ(view->DebugString(), expected.DebugString());
  }
  return status;
}

class PushViewTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // protobuf logs every string that is not UTF-8 before refusing it.
    google::protobuf::SetLogHandler(nullptr);
  }

  // Expects both parsers to accept `wire`, which view_ then points into.
  void ExpectAccepted(std::string wire) {
    wire_ = std::move(wire);
    const absl::Status status = ParseLikeProtobuf(wire_, &view_);
    EXPECT_TRUE(status.ok()) << status;
  }
  // Expects both parsers to refuse `wire`; returns the message.
  std::string ExpectRefused(std::string wire) {
    wire_ = std::move(wire);
    const absl::Status status = ParseLikeProtobuf(wire_, &view_);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("\n")));
    return std::string(status.message());
  }

  std::string wire_;
  PushView view_;
};

TEST_F(PushViewTest, ReadsEveryFieldOfASerializedPush) {
  const PushRequest push = FromText(R"pb(
    sequence: 42
    method: POST
    receive_time_ns: 1700000000000000000
    grouping_key {
      job: "batch"
      labels { name: "instance" value: "a:1" }
    }
    families {
      name: "up"
      help: "Up."
      type: GAUGE
      series {
        labels { name: "zone" value: "eu" }
        value: 1
        timestamp_ms: 0
      }
      series { value: -0.0 }
    }
    families {
      name: "rpc"
      type: SUMMARY
      series {
        summary {
          count: 3
          sum: 1.5
          quantiles { quantile: 0.5 value: 0.25 }
          quantiles { quantile: 0.99 value: 1 }
        }
      }
    }
    families {
      name: "lat"
      type: HISTOGRAM
      series {
        labels { name: "a" value: "" }
        labels { name: "b" value: "ü" }
        histogram {
          count: 2
          sum: 0.5
          buckets { upper_bound: 0.1 cumulative_count: 1 }
          buckets { upper_bound: inf cumulative_count: 2 }
          native {
            schema: -1
            zero_threshold: 1e-9
            positive_spans { offset: -2 length: 3 }
            positive_deltas: [ 1, -1, 5 ]
            negative_counts: [ 0.5, 2 ]
          }
        }
        timestamp_ms: -5
      }
    }
    families { name: "empty" type: INFO }
  )pb");
  ExpectAccepted(push.SerializeAsString());

  EXPECT_EQ(view_.sequence(), 42u);
  EXPECT_EQ(view_.method(), v1::POST);
  EXPECT_EQ(view_.receive_time_ns(), 1700000000000000000);
  EXPECT_EQ(view_.job(), "batch");
  ASSERT_EQ(view_.grouping_labels().size(), 1u);
  EXPECT_EQ(view_.grouping_labels()[0].value, "a:1");
  ASSERT_EQ(view_.families().size(), 4u);

  const FamilyView& up = view_.families()[0];
  EXPECT_EQ(up.name, "up");
  EXPECT_EQ(up.help, "Up.");
  EXPECT_EQ(up.type, v1::GAUGE);
  ASSERT_EQ(view_.series(up).size(), 2u);
  const SeriesView& first = view_.series(up)[0];
  EXPECT_EQ(first.data, SeriesData::kValue);
  EXPECT_EQ(first.value, 1);
  EXPECT_TRUE(first.has_timestamp_ms);  // present though zero
  EXPECT_EQ(first.timestamp_ms, 0);
  ASSERT_EQ(view_.labels(first).size(), 1u);
  EXPECT_EQ(view_.labels(first)[0].name, "zone");
  EXPECT_FALSE(view_.series(up)[1].has_timestamp_ms);
  EXPECT_TRUE(std::signbit(view_.series(up)[1].value));

  const SeriesView& summary = view_.series(view_.families()[1])[0];
  EXPECT_EQ(summary.data, SeriesData::kSummary);
  EXPECT_EQ(summary.summary.count, 3);
  ASSERT_EQ(view_.quantiles(summary).size(), 2u);
  EXPECT_EQ(view_.quantiles(summary)[1].quantile, 0.99);
  EXPECT_TRUE(view_.buckets(summary).empty());

  const SeriesView& histogram = view_.series(view_.families()[2])[0];
  EXPECT_EQ(histogram.data, SeriesData::kHistogram);
  EXPECT_EQ(histogram.histogram.sum, 0.5);
  ASSERT_EQ(view_.buckets(histogram).size(), 2u);
  EXPECT_EQ(view_.buckets(histogram)[1].cumulative_count, 2);
  EXPECT_EQ(view_.labels(histogram)[1].value, "ü");
  EXPECT_EQ(histogram.timestamp_ms, -5);

  EXPECT_TRUE(view_.series(view_.families()[3]).empty());
}

TEST_F(PushViewTest, TheEmptyInputIsAnEmptyPush) {
  ExpectAccepted("");
  EXPECT_EQ(view_.sequence(), 0u);
  EXPECT_EQ(view_.method(), v1::PUT);
  EXPECT_TRUE(view_.families().empty());
}

TEST_F(PushViewTest, PointsIntoTheWireBytes) {
  const std::string wire = FromText(R"pb(grouping_key { job: "j" })pb").SerializeAsString();
  ASSERT_TRUE(view_.Parse(wire).ok());
  EXPECT_GE(view_.job().data(), wire.data());
  EXPECT_LT(view_.job().data(), wire.data() + wire.size());
}

TEST_F(PushViewTest, TheLastOccurrenceOfAScalarWins) {
  ExpectAccepted(VarintField(1, 7) + VarintField(2, 1) + VarintField(1, 9) +
                 LengthField(4, LengthField(1, "a") + VarintField(3, 1) + LengthField(1, "b")));
  EXPECT_EQ(view_.sequence(), 9u);
  EXPECT_EQ(view_.method(), v1::POST);
  ASSERT_EQ(view_.families().size(), 1u);
  EXPECT_EQ(view_.families()[0].name, "b");
  EXPECT_EQ(view_.families()[0].type, v1::COUNTER);

  // Zero on the wire still overwrites: a parse does not compare with the default.
  ExpectAccepted(VarintField(1, 7) + VarintField(1, 0));
  EXPECT_EQ(view_.sequence(), 0u);
}

TEST_F(PushViewTest, AGroupingKeyGivenTwiceIsMerged) {
  const std::string family =
      LengthField(4, LengthField(1, "f") + LengthField(4, LengthField(1, LabelMessage("s", "1"))));
  ExpectAccepted(LengthField(3, LengthField(1, "first") + LengthField(2, LabelMessage("a", "1"))) +
                 family + LengthField(3, LengthField(2, LabelMessage("b", "2"))) + family);
  EXPECT_EQ(view_.job(), "first");  // the second key has no job to overwrite it
  ASSERT_EQ(view_.grouping_labels().size(), 2u);
  EXPECT_EQ(view_.grouping_labels()[0].name, "a");
  EXPECT_EQ(view_.grouping_labels()[1].name, "b");
  ASSERT_EQ(view_.families().size(), 2u);
  for (const FamilyView& f : view_.families()) {
    ASSERT_EQ(view_.series(f).size(), 1u);
    ASSERT_EQ(view_.labels(view_.series(f)[0]).size(), 1u);
    EXPECT_EQ(view_.labels(view_.series(f)[0])[0].name, "s");
  }
}

TEST_F(PushViewTest, ALaterMemberOfTheOneofClearsTheEarlierOne) {
  const std::string quantile_1 = LengthField(3, DoubleField(1, 0.1) + DoubleField(2, 1));
  const std::string quantile_2 = LengthField(3, DoubleField(1, 0.2) + DoubleField(2, 2));
  const std::string bucket = LengthField(3, DoubleField(1, 1) + DoubleField(2, 5));

  // A summary, a histogram, a summary again: only the last summary is left.
  ExpectAccepted(PushWithSeries(LengthField(3, DoubleField(1, 10) + quantile_1) +
                                LengthField(4, DoubleField(1, 3) + bucket) +
                                LengthField(3, quantile_2)));
  const SeriesView* series = &view_.series(view_.families()[0])[0];
  EXPECT_EQ(series->data, SeriesData::kSummary);
  EXPECT_EQ(series->summary.count, 0);  // the first summary's count went with it
  ASSERT_EQ(view_.quantiles(*series).size(), 1u);
  EXPECT_EQ(view_.quantiles(*series)[0].quantile, 0.2);
  EXPECT_TRUE(view_.buckets(*series).empty());

  // A summary given twice in a row is merged.
  ExpectAccepted(PushWithSeries(LengthField(3, DoubleField(1, 10) + quantile_1) +
                                LengthField(3, DoubleField(2, 4) + quantile_2)));
  series = &view_.series(view_.families()[0])[0];
  EXPECT_EQ(series->summary.count, 10);
  EXPECT_EQ(series->summary.sum, 4);
  EXPECT_EQ(view_.quantiles(*series).size(), 2u);

  // A value after a histogram.
  ExpectAccepted(PushWithSeries(LengthField(4, DoubleField(1, 3) + bucket) + DoubleField(2, 8)));
  series = &view_.series(view_.families()[0])[0];
  EXPECT_EQ(series->data, SeriesData::kValue);
  EXPECT_EQ(series->value, 8);
  EXPECT_EQ(series->histogram.count, 0);
  EXPECT_TRUE(view_.buckets(*series).empty());

  // A histogram after a value, then more series: the next series' entries are its own.
  ExpectAccepted(PushWithSeries(DoubleField(2, 8) + LengthField(4, bucket)) +
                 PushWithSeries(LengthField(4, bucket + bucket)));
  EXPECT_EQ(view_.series(view_.families()[0])[0].value, 0);
  EXPECT_EQ(view_.buckets(view_.series(view_.families()[0])[0]).size(), 1u);
  EXPECT_EQ(view_.buckets(view_.series(view_.families()[1])[0]).size(), 2u);
}

TEST_F(PushViewTest, OpenEnumsKeepValuesTheyDoNotName) {
  ExpectAccepted(VarintField(2, 7) + LengthField(4, VarintField(3, 1000)));
  EXPECT_EQ(static_cast<int>(view_.method()), 7);
  EXPECT_EQ(static_cast<int>(view_.families()[0].type), 1000);
  // Only the low 32 bits count: -1 written as a 64-bit varint.
  ExpectAccepted(VarintField(2, ~uint64_t{0}));
  EXPECT_EQ(static_cast<int>(view_.method()), -1);
}

TEST_F(PushViewTest, UnknownFieldsOfEveryWireTypeAreSkipped) {
  const std::string unknown = VarintField(99, 300) + DoubleField(98, 1) +
                              LengthField(97, "\xff\xfe not UTF-8 is fine here") +
                              Group(96, VarintField(1, 1) + Group(2, LengthField(3, "x"))) +
                              Key(95, 5) + "abcd";
  ExpectAccepted(unknown + VarintField(1, 3) + LengthField(3, unknown + LengthField(1, "j")) +
                 PushWithSeries(unknown + LengthField(1, unknown + LabelMessage("n", "v")) +
                                LengthField(4, unknown + DoubleField(1, 2) +
                                                   LengthField(3, unknown + DoubleField(2, 1)) +
                                                   LengthField(4, unknown))) +
                 unknown);
  EXPECT_EQ(view_.sequence(), 3u);
  EXPECT_EQ(view_.job(), "j");
  const SeriesView& series = view_.series(view_.families()[0])[0];
  EXPECT_EQ(view_.labels(series)[0].value, "v");
  EXPECT_EQ(series.histogram.count, 2);
  EXPECT_EQ(view_.buckets(series)[0].cumulative_count, 1);
}

TEST_F(PushViewTest, AKnownFieldWithAnotherWireTypeIsSkippedAsUnknown) {
  ExpectAccepted(LengthField(1, "not a varint") + DoubleField(5, 1) +
                 LengthField(4, VarintField(1, 3) + LengthField(4, VarintField(2, 1))));
  EXPECT_EQ(view_.sequence(), 0u);
  EXPECT_EQ(view_.receive_time_ns(), 0);
  EXPECT_EQ(view_.families()[0].name, "");
  EXPECT_EQ(view_.series(view_.families()[0])[0].data, SeriesData::kNone);
}

TEST_F(PushViewTest, OddButValidEncodingsAreAccepted) {
  // A tag in 5 bytes whose bits past the 32nd are dropped: field 1, varint.
  ExpectAccepted(std::string("\x88\x80\x80\x80\x10\x05", 6));
  EXPECT_EQ(view_.sequence(), 5u);
  // A varint in 10 bytes whose last byte carries bits past the 64th.
  ExpectAccepted("\x08" + std::string(9, '\xff') + "\x7f");
  EXPECT_EQ(view_.sequence(), ~uint64_t{0});
  // A length in 5 bytes (not the shortest form).
  ExpectAccepted(std::string("\x1a\x82\x80\x80\x80\x00\x0a\x00", 8));
  // Packed and unpacked native histogram deltas and counts, mixed.
  ExpectAccepted(PushWithSeries(
      LengthField(4, LengthField(4, LengthField(5, Varint(3) + Varint(1) + Varint(300)) +
                                        VarintField(5, 4) + LengthField(9, std::string(16, '\0')) +
                                        DoubleField(9, 2) + LengthField(6, "")))));
}

TEST_F(PushViewTest, MalformedWireFormatIsRefusedSayingWhere) {
  EXPECT_THAT(ExpectRefused(VarintField(1, 5) + Key(3, 2) + Varint(10) + "ab"),
              AllOf(HasSubstr("byte 2, pushgate.v1.PushRequest field 3"),
                    HasSubstr("past the end of its message")));
  EXPECT_THAT(ExpectRefused("\x08\x80"), HasSubstr("varint runs past its message"));
  EXPECT_THAT(ExpectRefused("\x08" + std::string(10, '\xff') + "\x01"),
              HasSubstr("varint longer than 10 bytes"));
  EXPECT_THAT(ExpectRefused(std::string("\x88\x80\x80\x80\x80\x00", 6)),
              HasSubstr("tag longer than 5 bytes"));
  EXPECT_THAT(ExpectRefused("\x1a\x80\x80\x80\x80\x08"), HasSubstr("length of 2 GiB or more"));
  EXPECT_THAT(ExpectRefused(std::string("\x1a\x80\x80\x80\x80\x80\x00", 7)),
              HasSubstr("length longer than 5 bytes"));
  EXPECT_THAT(ExpectRefused(std::string("\x00", 1)), HasSubstr("field number 0"));
  EXPECT_THAT(ExpectRefused("\x02\x00"), HasSubstr("field number 0"));
  EXPECT_THAT(ExpectRefused("\x0e"), HasSubstr("wire type 6 or 7"));
  EXPECT_THAT(ExpectRefused("\x0f"), HasSubstr("wire type 6 or 7"));
  EXPECT_THAT(ExpectRefused(Key(9, 4)), HasSubstr("end-group tag without a group"));
  EXPECT_THAT(ExpectRefused(Key(9, 3) + VarintField(1, 1)), HasSubstr("group without its end"));
  EXPECT_THAT(ExpectRefused(Key(9, 3) + Key(8, 4)), HasSubstr("another field than the open"));
  EXPECT_THAT(ExpectRefused(PushWithSeries(DoubleField(2, 1).substr(0, 6))),
              HasSubstr("8-byte value runs past its message"));
  EXPECT_THAT(ExpectRefused(Key(9, 5) + "abc"), HasSubstr("4-byte value runs past"));
  // A nested message must end where its length says, even when its parent goes on.
  EXPECT_THAT(ExpectRefused(LengthField(3, std::string("\x0a\x03jo")) + VarintField(1, 1)),
              HasSubstr("pushgate.v1.GroupingKey field 1"));
}

TEST_F(PushViewTest, StringsMustBeUtf8) {
  for (const char* bad : {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xff", "\xe2\x82"}) {
    EXPECT_THAT(ExpectRefused(LengthField(3, LengthField(1, bad))),
                HasSubstr("pushgate.v1.GroupingKey field 1: string is not valid UTF-8"));
    ExpectRefused(PushWithSeries(LengthField(1, LabelMessage("n", bad))));
    ExpectRefused(LengthField(4, LengthField(2, bad)));
  }
  ExpectAccepted(LengthField(3, LengthField(1, std::string("nul\0 and \xf4\x8f\xbf\xbf", 13))));
}

TEST_F(PushViewTest, NativeHistogramsAreCheckedLikeProtobufDoes) {
  auto native = [](const std::string& fields) {
    return PushWithSeries(LengthField(4, LengthField(4, fields)));
  };
  EXPECT_THAT(ExpectRefused(native(LengthField(6, std::string(12, '\0')))),
              HasSubstr("pushgate.v1.NativeHistogram field 6: packed 8-byte values"));
  EXPECT_THAT(ExpectRefused(native(LengthField(8, "\x01\x80"))), HasSubstr("field 8"));
  EXPECT_THAT(ExpectRefused(native(LengthField(7, Key(1, 7)))),
              HasSubstr("pushgate.v1.BucketSpan"));
  // Wrong wire types are unknown fields, fine.
  ExpectAccepted(native(DoubleField(1, 1) + VarintField(2, 1) + VarintField(4, 1)));
}

// Protobuf refuses messages and groups nested more than 100 deep; the known messages go 5
// deep, unknown groups below them count too.
TEST_F(PushViewTest, NestingDeeperThan100IsRefused) {
  auto groups = [](int depth) {
    std::string nested;
    for (int i = 0; i < depth; ++i) nested = Group(20, nested);
    return nested;
  };
  ExpectAccepted(groups(100));
  EXPECT_THAT(ExpectRefused(groups(101)), HasSubstr("nested more than 100 deep"));
  // Below a BucketSpan (depth 5): 95 more levels are fine, 96 are not.
  auto in_span = [](const std::string& fields) {
    return PushWithSeries(LengthField(4, LengthField(4, LengthField(4, fields))));
  };
  ExpectAccepted(in_span(groups(95)));
  ExpectRefused(in_span(groups(96)));
}

TEST_F(PushViewTest, ARefusedPushKeepsOnlyTheScalarsDecodedBeforeTheDamage) {
  ASSERT_TRUE(view_.Parse(PushWithSeries(DoubleField(2, 1))).ok());
  ASSERT_FALSE(view_.Parse("\x08\x05\x10\x02\x1a\xff").ok());
  EXPECT_EQ(view_.sequence(), 5u);
  EXPECT_EQ(view_.method(), v1::DELETE);
  EXPECT_TRUE(view_.families().empty());
  EXPECT_EQ(view_.job(), "");

  ASSERT_FALSE(view_.Parse(LengthField(3, LengthField(1, "j")) + PushWithSeries("\xff")).ok());
  EXPECT_EQ(view_.sequence(), 0u);
  EXPECT_EQ(view_.job(), "");
  EXPECT_TRUE(view_.families().empty());
}

TEST_F(PushViewTest, AReusedViewShowsOnlyTheLatestPush) {
  const PushRequest big = FromText(R"pb(
    grouping_key {
      job: "a"
      labels { name: "x" value: "y" }
    }
    families {
      name: "h"
      type: HISTOGRAM
      series {
        labels { name: "l" value: "v" }
        histogram {
          buckets { upper_bound: 1 }
          buckets { upper_bound: 2 }
        }
      }
    }
    families {
      name: "s"
      type: SUMMARY
      series { summary { quantiles { quantile: 0.5 } } }
    }
  )pb");
  const PushRequest small = FromText(R"pb(families {
                                            name: "g"
                                            series { value: 1 }
                                          })pb");
  PushView fresh;
  fresh.Fill(small);
  ExpectAccepted(big.SerializeAsString());
  ExpectAccepted(small.SerializeAsString());
  EXPECT_EQ(view_.DebugString(), fresh.DebugString());
  view_.Fill(big);
  view_.Fill(small);
  EXPECT_EQ(view_.DebugString(), fresh.DebugString());
}

TEST_F(PushViewTest, DebugStringTellsEveryDoubleApart) {
  PushView a, b;
  a.Fill(FromText("families { series { value: 0 } }"));
  b.Fill(FromText("families { series { value: -0.0 } }"));
  EXPECT_NE(a.DebugString(), b.DebugString());
  b.Fill(FromText("families { series { value: 5e-324 } }"));
  EXPECT_NE(a.DebugString(), b.DebugString());
  a.Fill(FromText("families { series { value: nan } }"));
  b.Fill(FromText("families { series { value: -nan } }"));
  EXPECT_NE(a.DebugString(), b.DebugString());
}

// Bytes allocated while `view` decodes `wire`.
size_t AllocatedByParse(PushView* view, const std::string& wire) {
  const size_t before = BytesAllocatedSoFar();
  EXPECT_TRUE(view->Parse(wire).ok());
  return BytesAllocatedSoFar() - before;
}

// A view reused push after push allocates nothing for pushes of the usual size, but does not
// keep what one huge push grew (a view lives as long as its thread or stream).
TEST(PushViewMemoryTest, KeepsItsArraysForUsualPushesButLetsGoOfWhatAHugePushGrew) {
  v1::PushRequest small, huge;
  for (v1::PushRequest* push : {&small, &huge}) {
    v1::MetricFamily* family = push->add_families();
    family->set_name("m");
    for (int i = 0; i < (push == &small ? 100 : 100000); ++i) {
      v1::Series* series = family->add_series();
      series->add_labels()->set_name("l");
      series->set_value(i);
    }
  }
  const std::string small_wire = small.SerializeAsString();
  const std::string huge_wire = huge.SerializeAsString();
  PushView view;
  AllocatedByParse(&view, small_wire);
  EXPECT_EQ(AllocatedByParse(&view, small_wire), 0u);
  EXPECT_GT(AllocatedByParse(&view, huge_wire), 100000 * sizeof(LabelView));
  AllocatedByParse(&view, small_wire);  // lets the huge push's arrays go, and grows small ones
  EXPECT_EQ(AllocatedByParse(&view, small_wire), 0u);
  // Had the arrays been kept, the huge push would fit them again without allocating.
  EXPECT_GT(AllocatedByParse(&view, huge_wire), 100000 * sizeof(LabelView));
}

}  // namespace
}  // namespace pushgate
