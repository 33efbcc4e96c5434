#include "libs/push_view/push_view.h"

#include <climits>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/protowire/wire_reader.h"

namespace pushgate {
namespace {

using ::pushgate::protowire::kFixed64;
using ::pushgate::protowire::kLengthDelimited;
using ::pushgate::protowire::kVarint;
using ::pushgate::protowire::Tag;
using ::pushgate::protowire::WireReader;

template <typename T>
uint32_t EndOf(const std::vector<T>& entries) {
  return static_cast<uint32_t>(entries.size());
}

template <typename T>
IndexRange EmptyAtEndOf(const std::vector<T>& entries) {
  return {EndOf(entries), EndOf(entries)};
}

// proto3 enums are open: protobuf keeps the low 32 bits of any value, known or not.
template <typename Enum>
bool ReadEnum(WireReader& in, Enum* value) {
  uint64_t raw;
  if (!in.ReadVarint(&raw)) return false;
  *value = static_cast<Enum>(static_cast<int32_t>(static_cast<uint32_t>(raw)));
  return true;
}

}  // namespace

// Decodes one message type per function, depth first, so that the entries of a family,
// series, summary or histogram are appended to their arrays one after another. Every function
// returns false on the first error, which the innermost failing message records in status_.
class PushView::Decoder {
 public:
  Decoder(absl::string_view wire, PushView* view) : wire_(wire), view_(*view) {}

  absl::Status Decode() {
    // protobuf keeps sizes in an int.
    if (wire_.size() > INT_MAX) return absl::InvalidArgumentError("push of 2 GiB or more");
    DecodePush(WireReader(wire_, /*depth=*/0));
    return std::move(status_);
  }

 private:
  // Runs `on_field(tag)` for each field of the message `in` reads; on_field consumes the
  // field's value and returns false (with in.error() or status_ set) when it cannot.
  template <typename OnField>
  bool ForEachField(WireReader& in, const char* message, OnField on_field) {
    while (!in.done()) {
      uint32_t tag;
      if (!in.ReadTag(&tag)) return Fail(in, message, /*tag=*/0);
      if (!on_field(tag)) return Fail(in, message, tag);
    }
    return true;
  }

  bool Fail(const WireReader& in, const char* message, uint32_t tag) {
    // A nested message failed first and said more precisely where.
    if (!status_.ok()) return false;
    const uint32_t field = tag >> 3;
    status_ = absl::InvalidArgumentError(
        absl::StrCat("byte ", in.field_start() - wire_.data(), ", ", message,
                     field != 0 ? absl::StrCat(" field ", field) : "", ": ", in.error()));
    return false;
  }

  bool DecodePush(WireReader in) {
    return ForEachField(in, "pushgate.v1.PushRequest", [&](uint32_t tag) {
      switch (tag) {
        case Tag(1, kVarint):
          return in.ReadVarint(&view_.sequence_);
        case Tag(2, kVarint):
          return ReadEnum(in, &view_.method_);
        case Tag(3, kLengthDelimited): {
          WireReader key;
          return in.ReadMessage(&key) && DecodeGroupingKey(key);
        }
        case Tag(4, kLengthDelimited): {
          WireReader family;
          return in.ReadMessage(&family) && DecodeFamily(family);
        }
        case Tag(5, kVarint): {
          uint64_t ns;
          if (!in.ReadVarint(&ns)) return false;
          view_.receive_time_ns_ = static_cast<int64_t>(ns);
          return true;
        }
        default:
          return in.SkipField(tag);
      }
    });
  }

  // A grouping key that occurs twice is merged: its labels all go to grouping_labels_, which
  // nothing else appends to.
  bool DecodeGroupingKey(WireReader in) {
    return ForEachField(in, "pushgate.v1.GroupingKey", [&](uint32_t tag) {
      switch (tag) {
        case Tag(1, kLengthDelimited):
          return in.ReadUtf8(&view_.job_);
        case Tag(2, kLengthDelimited): {
          WireReader label;
          return in.ReadMessage(&label) &&
                 DecodeLabel(label, &view_.grouping_labels_.emplace_back());
        }
        default:
          return in.SkipField(tag);
      }
    });
  }

  bool DecodeLabel(WireReader in, LabelView* label) {
    return ForEachField(in, "pushgate.v1.Label", [&](uint32_t tag) {
      switch (tag) {
        case Tag(1, kLengthDelimited):
          return in.ReadUtf8(&label->name);
        case Tag(2, kLengthDelimited):
          return in.ReadUtf8(&label->value);
        default:
          return in.SkipField(tag);
      }
    });
  }

  bool DecodeFamily(WireReader in) {
    // Stays valid: only DecodePush appends families.
    FamilyView& family = view_.families_.emplace_back();
    family.series = EmptyAtEndOf(view_.series_);
    return ForEachField(in, "pushgate.v1.MetricFamily", [&](uint32_t tag) {
      switch (tag) {
        case Tag(1, kLengthDelimited):
          return in.ReadUtf8(&family.name);
        case Tag(2, kLengthDelimited):
          return in.ReadUtf8(&family.help);
        case Tag(3, kVarint):
          return ReadEnum(in, &family.type);
        case Tag(4, kLengthDelimited): {
          WireReader series;
          if (!in.ReadMessage(&series) || !DecodeSeries(series)) return false;
          family.series.end = EndOf(view_.series_);
          return true;
        }
        default:
          return in.SkipField(tag);
      }
    });
  }

  bool DecodeSeries(WireReader in) {
    // Stays valid: only DecodeFamily appends series.
    SeriesView& series = view_.AddSeries();
    return ForEachField(in, "pushgate.v1.Series", [&](uint32_t tag) {
      switch (tag) {
        case Tag(1, kLengthDelimited): {
          WireReader label;
          if (!in.ReadMessage(&label) || !DecodeLabel(label, &view_.labels_.emplace_back())) {
            return false;
          }
          series.labels.end = EndOf(view_.labels_);
          return true;
        }
        case Tag(2, kFixed64):
          view_.SetData(&series, SeriesData::kValue);
          return in.ReadDouble(&series.value);
        case Tag(3, kLengthDelimited): {
          WireReader summary;
          if (!in.ReadMessage(&summary)) return false;
          view_.SetData(&series, SeriesData::kSummary);  // or merge into the one set before
          return DecodeSummary(summary, &series.summary);
        }
        case Tag(4, kLengthDelimited): {
          WireReader histogram;
          if (!in.ReadMessage(&histogram)) return false;
          view_.SetData(&series, SeriesData::kHistogram);
          return DecodeHistogram(histogram, &series.histogram);
        }
        case Tag(5, kVarint): {
          uint64_t ms;
          if (!in.ReadVarint(&ms)) return false;
          series.has_timestamp_ms = true;
          series.timestamp_ms = static_cast<int64_t>(ms);
          return true;
        }
        default:
          return in.SkipField(tag);
      }
    });
  }

  bool DecodeSummary(WireReader in, SummaryView* summary) {
    return ForEachField(in, "pushgate.v1.Summary", [&](uint32_t tag) {
      switch (tag) {
        case Tag(1, kFixed64):
          return in.ReadDouble(&summary->count);
        case Tag(2, kFixed64):
          return in.ReadDouble(&summary->sum);
        case Tag(3, kLengthDelimited): {
          WireReader quantile;
          if (!in.ReadMessage(&quantile) ||
              !DecodeQuantile(quantile, &view_.quantiles_.emplace_back())) {
            return false;
          }
          summary->quantiles.end = EndOf(view_.quantiles_);
          return true;
        }
        default:
          return in.SkipField(tag);
      }
    });
  }

  bool DecodeQuantile(WireReader in, QuantileView* quantile) {
    return ForEachField(in, "pushgate.v1.Quantile", [&](uint32_t tag) {
      switch (tag) {
        case Tag(1, kFixed64):
          return in.ReadDouble(&quantile->quantile);
        case Tag(2, kFixed64):
          return in.ReadDouble(&quantile->value);
        default:
          return in.SkipField(tag);
      }
    });
  }

  bool DecodeHistogram(WireReader in, HistogramView* histogram) {
    return ForEachField(in, "pushgate.v1.Histogram", [&](uint32_t tag) {
      switch (tag) {
        case Tag(1, kFixed64):
          return in.ReadDouble(&histogram->count);
        case Tag(2, kFixed64):
          return in.ReadDouble(&histogram->sum);
        case Tag(3, kLengthDelimited): {
          WireReader bucket;
          if (!in.ReadMessage(&bucket) || !DecodeBucket(bucket, &view_.buckets_.emplace_back())) {
            return false;
          }
          histogram->buckets.end = EndOf(view_.buckets_);
          return true;
        }
        case Tag(4, kLengthDelimited): {
          WireReader native;
          return in.ReadMessage(&native) && CheckNativeHistogram(native);
        }
        default:
          return in.SkipField(tag);
      }
    });
  }

  bool DecodeBucket(WireReader in, BucketView* bucket) {
    return ForEachField(in, "pushgate.v1.Bucket", [&](uint32_t tag) {
      switch (tag) {
        case Tag(1, kFixed64):
          return in.ReadDouble(&bucket->upper_bound);
        case Tag(2, kFixed64):
          return in.ReadDouble(&bucket->cumulative_count);
        default:
          return in.SkipField(tag);
      }
    });
  }

  // Nothing of a native histogram is kept, but protobuf would refuse one that is malformed.
  // Its scalar fields (schema, zero threshold and count, unpacked deltas and counts) are
  // checked exactly as unknown fields of their wire type are; only the spans (messages) and
  // packed deltas and counts need more.
  bool CheckNativeHistogram(WireReader in) {
    return ForEachField(in, "pushgate.v1.NativeHistogram", [&](uint32_t tag) {
      switch (tag) {
        case Tag(4, kLengthDelimited):  // negative_spans
        case Tag(7, kLengthDelimited): {
          WireReader span;
          return in.ReadMessage(&span) && CheckBucketSpan(span);
        }
        case Tag(5, kLengthDelimited):  // negative_deltas, packed
        case Tag(8, kLengthDelimited):
          return in.SkipPackedVarints();
        case Tag(6, kLengthDelimited):  // negative_counts, packed
        case Tag(9, kLengthDelimited):
          return in.SkipPackedFixed64();
        default:
          return in.SkipField(tag);
      }
    });
  }

  // Both fields of a BucketSpan are varints: checked as unknown ones.
  bool CheckBucketSpan(WireReader in) {
    return ForEachField(in, "pushgate.v1.BucketSpan",
                        [&](uint32_t tag) { return in.SkipField(tag); });
  }

  const absl::string_view wire_;
  PushView& view_;
  absl::Status status_;
};

absl::Status PushView::Parse(absl::string_view wire) {
  Clear();
  absl::Status status = Decoder(wire, this).Decode();
  if (!status.ok()) {
    // Keep only what the header promises: the PushRequest's own scalars.
    const uint64_t sequence = sequence_;
    const pushgate::v1::Method method = method_;
    const int64_t receive_time_ns = receive_time_ns_;
    Clear();
    sequence_ = sequence;
    method_ = method;
    receive_time_ns_ = receive_time_ns;
  }
  return status;
}

void PushView::Fill(const pushgate::v1::PushRequest& push) {
  Clear();
  sequence_ = push.sequence();
  method_ = push.method();
  receive_time_ns_ = push.receive_time_ns();
  job_ = push.grouping_key().job();
  for (const pushgate::v1::Label& label : push.grouping_key().labels()) {
    grouping_labels_.push_back({label.name(), label.value()});
  }
  for (const pushgate::v1::MetricFamily& family : push.families()) {
    FamilyView& family_view = families_.emplace_back();
    family_view.name = family.name();
    family_view.help = family.help();
    family_view.type = family.type();
    family_view.series = EmptyAtEndOf(series_);
    for (const pushgate::v1::Series& series : family.series()) {
      SeriesView& view = AddSeries();
      for (const pushgate::v1::Label& label : series.labels()) {
        labels_.push_back({label.name(), label.value()});
      }
      view.labels.end = EndOf(labels_);
      switch (series.data_case()) {
        case pushgate::v1::Series::kValue:
          SetData(&view, SeriesData::kValue);
          view.value = series.value();
          break;
        case pushgate::v1::Series::kSummary:
          SetData(&view, SeriesData::kSummary);
          view.summary.count = series.summary().count();
          view.summary.sum = series.summary().sum();
          for (const pushgate::v1::Quantile& quantile : series.summary().quantiles()) {
            quantiles_.push_back({quantile.quantile(), quantile.value()});
          }
          view.summary.quantiles.end = EndOf(quantiles_);
          break;
        case pushgate::v1::Series::kHistogram:
          SetData(&view, SeriesData::kHistogram);
          view.histogram.count = series.histogram().count();
          view.histogram.sum = series.histogram().sum();
          for (const pushgate::v1::Bucket& bucket : series.histogram().buckets()) {
            buckets_.push_back({bucket.upper_bound(), bucket.cumulative_count()});
          }
          view.histogram.buckets.end = EndOf(buckets_);
          break;
        case pushgate::v1::Series::DATA_NOT_SET:
          break;
      }
      view.has_timestamp_ms = series.has_timestamp_ms();
      view.timestamp_ms = series.timestamp_ms();
    }
    family_view.series.end = EndOf(series_);
  }
}

void PushView::Clear() {
  sequence_ = 0;
  method_ = pushgate::v1::PUT;
  receive_time_ns_ = 0;
  job_ = absl::string_view();
  // A view lives as long as its thread or stream, so the arrays a huge push grew are let go
  // rather than kept: an empty label takes 2 bytes on the wire and 32 here, so one push of
  // 64 MiB would pin a gigabyte. The usual push fits well within what is kept.
  constexpr size_t kKeepElements = 1 << 14;
  const auto clear = [](auto* array) {
    array->clear();
    if (array->capacity() > kKeepElements) array->shrink_to_fit();
  };
  clear(&grouping_labels_);
  clear(&families_);
  clear(&series_);
  clear(&labels_);
  clear(&quantiles_);
  clear(&buckets_);
}

SeriesView& PushView::AddSeries() {
  SeriesView& series = series_.emplace_back();
  series.labels = EmptyAtEndOf(labels_);
  series.summary.quantiles = EmptyAtEndOf(quantiles_);
  series.histogram.buckets = EmptyAtEndOf(buckets_);
  return series;
}

void PushView::SetData(SeriesView* series, SeriesData data) {
  if (series->data == data) return;
  if (series->data == SeriesData::kSummary) quantiles_.resize(series->summary.quantiles.begin);
  if (series->data == SeriesData::kHistogram) buckets_.resize(series->histogram.buckets.begin);
  series->data = data;
  series->value = 0;
  series->summary = SummaryView();
  series->summary.quantiles = EmptyAtEndOf(quantiles_);
  series->histogram = HistogramView();
  series->histogram.buckets = EmptyAtEndOf(buckets_);
}

namespace {

// Exact: %.17g tells every finite double (and -0) apart; a NaN shows its bits.
std::string FormatDouble(double value) {
  if (std::isnan(value)) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    return absl::StrFormat("nan(0x%016x)", bits);
  }
  return absl::StrFormat("%.17g", value);
}

std::string Quote(absl::string_view text) { return absl::StrCat("\"", absl::CEscape(text), "\""); }

void AppendLabels(absl::Span<const LabelView> labels, absl::string_view indent, std::string* out) {
  for (const LabelView& label : labels) {
    absl::StrAppend(out, indent, "label ", Quote(label.name), "=", Quote(label.value), "\n");
  }
}

}  // namespace

std::string PushView::DebugString() const {
  std::string out =
      absl::StrCat("sequence: ", sequence_, "\nmethod: ", static_cast<int>(method_),
                   "\nreceive_time_ns: ", receive_time_ns_, "\njob: ", Quote(job_), "\n");
  AppendLabels(grouping_labels_, "", &out);
  for (const FamilyView& family : families_) {
    absl::StrAppend(&out, "family ", Quote(family.name), " type ", static_cast<int>(family.type),
                    " help ", Quote(family.help), "\n");
    for (const SeriesView& series : this->series(family)) {
      absl::StrAppend(&out, "  series\n");
      AppendLabels(labels(series), "    ", &out);
      switch (series.data) {
        case SeriesData::kNone:
          break;
        case SeriesData::kValue:
          absl::StrAppend(&out, "    value ", FormatDouble(series.value), "\n");
          break;
        case SeriesData::kSummary:
          absl::StrAppend(&out, "    summary count ", FormatDouble(series.summary.count), " sum ",
                          FormatDouble(series.summary.sum), "\n");
          for (const QuantileView& quantile : quantiles(series)) {
            absl::StrAppend(&out, "      quantile ", FormatDouble(quantile.quantile), " value ",
                            FormatDouble(quantile.value), "\n");
          }
          break;
        case SeriesData::kHistogram:
          absl::StrAppend(&out, "    histogram count ", FormatDouble(series.histogram.count),
                          " sum ", FormatDouble(series.histogram.sum), "\n");
          for (const BucketView& bucket : buckets(series)) {
            absl::StrAppend(&out, "      bucket le ", FormatDouble(bucket.upper_bound), " count ",
                            FormatDouble(bucket.cumulative_count), "\n");
          }
          break;
      }
      if (series.has_timestamp_ms) {
        absl::StrAppend(&out, "    timestamp_ms ", series.timestamp_ms, "\n");
      }
    }
  }
  return out;
}

}  // namespace pushgate
