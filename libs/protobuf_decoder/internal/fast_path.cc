#include "libs/protobuf_decoder/internal/fast_path.h"

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "libs/go_text/go_text.h"
#include "libs/protobuf_decoder/internal/rules.h"
#include "libs/protobuf_decoder/internal/wire_fields.h"
#include "libs/protowire/wire_reader.h"
#include "libs/protowire/wire_writer.h"
#include "proto/ingest.pb.h"
#include "proto/prometheus_client.pb.h"

namespace pushgate {
namespace protobuf_decoder_internal {
namespace {

namespace client = ::io::prometheus::client;
using ::pushgate::protowire::kDoubleFieldSize;
using ::pushgate::protowire::kFixed64;
using ::pushgate::protowire::kLengthDelimited;
using ::pushgate::protowire::kVarint;
using ::pushgate::protowire::LengthDelimitedFieldSize;
using ::pushgate::protowire::OptionalDoubleFieldSize;
using ::pushgate::protowire::StringFieldSize;
using ::pushgate::protowire::VarintSize;
using ::pushgate::protowire::WireReader;
using ::pushgate::protowire::WireWriter;

// The bytes of a length-delimited field as a reader one level deeper, if the field has that
// wire type.
bool Nested(WireReader* in, uint32_t wire_type, WireReader* nested) {
  return wire_type == kLengthDelimited && in->ReadMessage(nested);
}

// Whether a created timestamp (google.protobuf.Timestamp), which the general path ignores,
// holds only its seconds and nanos: anything else protobuf would keep as an unknown field.
bool IsPlainTimestamp(WireReader message) {
  return ForEachField(message, [](uint32_t field, uint32_t wire_type, WireReader* in) {
    uint64_t value;
    return (field == 1 || field == 2) && wire_type == kVarint && in->ReadVarint(&value);
  });
}

// --- The transcoder.

// Field numbers, named as in proto/prometheus_client.proto (client) and proto/ingest.proto.
using Family = client::MetricFamily;
using Metric = client::Metric;

// The Metric field that carries the values of a family of client type `type`.
int ValueField(client::MetricType type) {
  switch (type) {
    case client::COUNTER:
      return Metric::kCounterFieldNumber;
    case client::GAUGE:
      return Metric::kGaugeFieldNumber;
    case client::SUMMARY:
      return Metric::kSummaryFieldNumber;
    case client::UNTYPED:
      return Metric::kUntypedFieldNumber;
    case client::HISTOGRAM:
    case client::GAUGE_HISTOGRAM:
      return Metric::kHistogramFieldNumber;
  }
  return 0;
}

// Counter, Gauge and Untyped hold their value in the same field. (Generated field numbers are
// enumerators of distinct enums, compared as ints to keep -Wenum-compare quiet.)
static_assert(int{client::Counter::kValueFieldNumber} == int{client::Gauge::kValueFieldNumber} &&
              int{client::Counter::kValueFieldNumber} == int{client::Untyped::kValueFieldNumber});
// Output: a Summary and a Histogram are written alike (count, sum, then pairs of doubles), as
// are their Quantiles and Buckets.
static_assert(int{v1::Summary::kCountFieldNumber} == int{v1::Histogram::kCountFieldNumber} &&
              int{v1::Summary::kSumFieldNumber} == int{v1::Histogram::kSumFieldNumber} &&
              int{v1::Summary::kQuantilesFieldNumber} == int{v1::Histogram::kBucketsFieldNumber} &&
              int{v1::Quantile::kQuantileFieldNumber} == int{v1::Bucket::kUpperBoundFieldNumber} &&
              int{v1::Quantile::kValueFieldNumber} == int{v1::Bucket::kCumulativeCountFieldNumber});

struct Label {
  absl::string_view name;
  absl::string_view value;
};

// One metric, read; its labels and its quantiles or buckets are runs of the vectors below.
struct Series {
  uint32_t first_label = 0, num_labels = 0;
  uint32_t first_pair = 0, num_pairs = 0;
  double value = 0;  // counter, gauge and untyped; a summary's or histogram's count
  double sum = 0;
  bool has_timestamp = false;
  int64_t timestamp_ms = 0;
  size_t data_size = 0;  // of the Summary or Histogram message
  size_t size = 0;       // of the Series message
};

// Kept per thread and reused, so that a push's families fill vectors that are already there.
class Transcoder {
 public:
  bool Run(absl::string_view body, const TextParserLimits& limits, std::string* out,
           size_t* series) {
    limits_ = limits;
    out_ = out;
    total_series_ = 0;
    samples_ = 0;
    seen_names_.clear();
    const bool taken = Families(body, series);
    // What a large push made the vectors hold is not kept for the next one.
    constexpr size_t kKeepBytes = 1 << 20;
    if (series_.capacity() * sizeof(Series) + labels_.capacity() * sizeof(Label) +
            pairs_.capacity() * sizeof(pairs_[0]) + metrics_.capacity() * sizeof(WireReader) >
        kKeepBytes) {
      *this = Transcoder();
    }
    return taken;
  }

 private:
  bool Families(absl::string_view body, size_t* series) {
    // The body is a run of length-prefixed messages, each read as an outermost message.
    WireReader in(body, 0);
    while (!in.done()) {
      absl::string_view family;
      if (!in.ReadBytes(&family) || !Family(WireReader(family, 0))) return false;
    }
    *series = total_series_;
    return true;
  }

  bool Family(WireReader message) {
    // First the family's own fields, which may come after its metrics.
    absl::string_view name, help;
    client::MetricType type = client::COUNTER;  // absent: the proto2 default
    metrics_.clear();
    const bool read = ForEachField(message, [&](uint32_t field, uint32_t wire_type,
                                                WireReader* in) {
      switch (field) {
        case Family::kNameFieldNumber:
          return wire_type == kLengthDelimited && in->ReadBytes(&name);
        case Family::kHelpFieldNumber:
          return wire_type == kLengthDelimited && in->ReadBytes(&help);
        case Family::kTypeFieldNumber: {
          // A number outside the enum would be kept among unknown fields: the general path's.
          uint64_t number;
          if (wire_type != kVarint || !in->ReadVarint(&number) || number > INT_MAX ||
              !client::MetricType_IsValid(static_cast<int>(number))) {
            return false;
          }
          type = static_cast<client::MetricType>(number);
          return true;
        }
        case Family::kMetricFieldNumber:
          // Over the limit: the general path refuses the push, before building it.
          if (limits_.max_series != 0 && total_series_ + metrics_.size() >= limits_.max_series) {
            return false;
          }
          return Nested(in, wire_type, &metrics_.emplace_back());
        case Family::kUnitFieldNumber:
          return wire_type == kLengthDelimited && Skip(field, wire_type, in);
        default:  // a field this version does not know: the general path counts it
          return false;
      }
    });
    v1::MetricType v1_type;
    if (!read || !MapType(type, &v1_type)) return false;
    if (!IsValidMetricName(name) || !IsValidUtf8(help) || !seen_names_.insert(name).second) {
      return false;
    }
    total_series_ += metrics_.size();
    if (limits_.max_series != 0 && total_series_ > limits_.max_series) return false;

    labels_.clear();
    pairs_.clear();
    series_.clear();
    series_.reserve(metrics_.size());
    for (const WireReader& metric : metrics_) {
      if (!Metric(metric, type)) return false;
    }
    Write(name, help, v1_type);
    return true;
  }

  bool Metric(WireReader message, client::MetricType type) {
    Series& s = series_.emplace_back();
    s.first_label = static_cast<uint32_t>(labels_.size());
    s.first_pair = static_cast<uint32_t>(pairs_.size());
    const int value_field = ValueField(type);
    bool has_value = false;
    const bool read =
        ForEachField(message, [&](uint32_t field, uint32_t wire_type, WireReader* in) {
          WireReader nested;
          if (field == Metric::kLabelFieldNumber) {
            if (limits_.max_labels_per_series != 0 &&
                labels_.size() - s.first_label >= limits_.max_labels_per_series) {
              return false;  // over the limit: the general path's error
            }
            return Nested(in, wire_type, &nested) && LabelPair(nested);
          }
          if (field == static_cast<uint32_t>(value_field)) {
            // A second one would be merged into the first: the general path's case.
            if (has_value) return false;
            has_value = true;
            return Nested(in, wire_type, &nested) && Value(nested, type, &s);
          }
          if (field == Metric::kTimestampMsFieldNumber) {
            uint64_t timestamp;
            s.has_timestamp = true;
            if (wire_type != kVarint || !in->ReadVarint(&timestamp)) return false;
            s.timestamp_ms = static_cast<int64_t>(timestamp);
            return true;
          }
          // Another type's values, which the general path parses and ignores, and unknown
          // fields, which it counts against the sample limit, decline.
          return false;
        });
    if (!read) return false;
    if (!has_value) return false;  // an error, which the general path words
    const bool grouped =
        type == client::SUMMARY || type == client::HISTOGRAM || type == client::GAUGE_HISTOGRAM;
    if (!CountSamples(grouped ? 2 : 1)) return false;
    s.num_labels = static_cast<uint32_t>(labels_.size()) - s.first_label;
    s.num_pairs = static_cast<uint32_t>(pairs_.size()) - s.first_pair;
    if (!CheckLabels(s)) return false;
    if (type != client::HISTOGRAM && type != client::GAUGE_HISTOGRAM) return true;
    if (!BucketsInOrder(s)) return false;
    // The fast path declines native histograms, so this one is classic.
    if (NeedsInfBucket(s.num_pairs, /*native=*/false,
                       s.num_pairs == 0 ? 0.0 : pairs_[s.first_pair + s.num_pairs - 1].first)) {
      pairs_.emplace_back(std::numeric_limits<double>::infinity(), s.value);
      ++s.num_pairs;
    }
    return true;
  }

  bool LabelPair(WireReader message) {
    Label& label = labels_.emplace_back();
    return ForEachField(message, [&label](uint32_t field, uint32_t wire_type, WireReader* in) {
      if (field == client::LabelPair::kNameFieldNumber) {
        return wire_type == kLengthDelimited && in->ReadBytes(&label.name);
      }
      if (field == client::LabelPair::kValueFieldNumber) {
        return wire_type == kLengthDelimited && in->ReadBytes(&label.value);
      }
      return false;  // an unknown field
    });
  }

  // The message of a metric's value field.
  bool Value(WireReader in, client::MetricType type, Series* s) {
    switch (type) {
      case client::COUNTER:
      case client::GAUGE:
      case client::UNTYPED:
        return SimpleValue(in, type == client::COUNTER, &s->value);
      case client::SUMMARY:
        return Summary(in, s);
      case client::HISTOGRAM:
      case client::GAUGE_HISTOGRAM:
        return Histogram(in, s);
    }
    return false;
  }

  // Counter, Gauge or Untyped; a counter's exemplar is declined, its created timestamp passed
  // over.
  bool SimpleValue(WireReader message, bool counter, double* value) {
    return ForEachField(message, [=](uint32_t field, uint32_t wire_type, WireReader* in) {
      WireReader nested;
      if (field == client::Counter::kValueFieldNumber) {
        return wire_type == kFixed64 && in->ReadDouble(value);
      }
      if (counter && field == client::Counter::kExemplarFieldNumber) return false;
      if (counter && field == client::Counter::kCreatedTimestampFieldNumber) {
        return Nested(in, wire_type, &nested) && IsPlainTimestamp(nested);
      }
      return false;  // an unknown field
    });
  }

  bool Summary(WireReader message, Series* s) {
    uint64_t count = 0;
    const bool read =
        ForEachField(message, [&](uint32_t field, uint32_t wire_type, WireReader* in) {
          WireReader nested;
          using S = client::Summary;
          using Q = client::Quantile;
          switch (field) {
            case S::kSampleCountFieldNumber:
              return wire_type == kVarint && in->ReadVarint(&count);
            case S::kSampleSumFieldNumber:
              return wire_type == kFixed64 && in->ReadDouble(&s->sum);
            case S::kQuantileFieldNumber:
              return Nested(in, wire_type, &nested) &&
                     Pair(nested, Q::kQuantileFieldNumber, Q::kValueFieldNumber, 0);
            case S::kCreatedTimestampFieldNumber:
              return Nested(in, wire_type, &nested) && IsPlainTimestamp(nested);
            default:  // an unknown field
              return false;
          }
        });
    s->value = static_cast<double>(count);
    return read;
  }

  bool Histogram(WireReader message, Series* s) {
    uint64_t count = 0;
    double count_float = 0;
    bool has_count_float = false;
    const bool read =
        ForEachField(message, [&](uint32_t field, uint32_t wire_type, WireReader* in) {
          WireReader nested;
          using H = client::Histogram;
          using B = client::Bucket;
          switch (field) {
            case H::kSampleCountFieldNumber:
              return wire_type == kVarint && in->ReadVarint(&count);
            case H::kSampleSumFieldNumber:
              return wire_type == kFixed64 && in->ReadDouble(&s->sum);
            case H::kBucketFieldNumber:
              // The upper bound first in the output, then the count: the float one when
              // present, else the integer one.
              return Nested(in, wire_type, &nested) &&
                     Pair(nested, B::kUpperBoundFieldNumber, B::kCumulativeCountFloatFieldNumber,
                          B::kCumulativeCountFieldNumber);
            case H::kSampleCountFloatFieldNumber:
              has_count_float = true;
              return wire_type == kFixed64 && in->ReadDouble(&count_float);
            case H::kCreatedTimestampFieldNumber:
              return Nested(in, wire_type, &nested) && IsPlainTimestamp(nested);
            default:  // native-histogram fields, exemplars, unknown fields
              return false;
          }
        });
    s->value = has_count_float ? count_float : static_cast<double>(count);
    return read;
  }

  // A Quantile or Bucket, appended to pairs_ as (first, second): `first_field` and
  // `second_field` are doubles; `integer_second_field` (0: none, a Quantile) is a uint64 that
  // stands for the second when that is absent. A Bucket's exemplar is declined.
  bool Pair(WireReader message, uint32_t first_field, uint32_t second_field,
            uint32_t integer_second_field) {
    const bool bucket = integer_second_field != 0;
    if (!CountSamples(1)) return false;
    std::pair<double, double>& pair = pairs_.emplace_back(0.0, 0.0);
    uint64_t integer = 0;
    bool has_second = false;
    const bool read =
        ForEachField(message, [&](uint32_t field, uint32_t wire_type, WireReader* in) {
          if (field == first_field) return wire_type == kFixed64 && in->ReadDouble(&pair.first);
          if (field == second_field) {
            has_second = true;
            return wire_type == kFixed64 && in->ReadDouble(&pair.second);
          }
          if (bucket && field == integer_second_field) {
            return wire_type == kVarint && in->ReadVarint(&integer);
          }
          return false;  // a bucket's exemplar, or an unknown field
        });
    if (bucket && !has_second) pair.second = static_cast<double>(integer);
    return read;
  }

  // The label count is checked as the labels are read (Metric).
  bool CheckLabels(const Series& s) const {
    // The general path finds repeats among more labels with a set; so few metrics have that
    // many that they can go there.
    constexpr uint32_t kMaxCompared = 32;
    if (s.num_labels > kMaxCompared) return false;
    const Label* labels = labels_.data() + s.first_label;
    for (uint32_t i = 0; i < s.num_labels; ++i) {
      const Label& label = labels[i];
      if (!IsValidLabelName(label.name) || label.name == "__name__" ||
          (limits_.max_label_name_length != 0 &&
           label.name.size() > limits_.max_label_name_length) ||
          (limits_.max_label_value_length != 0 &&
           label.value.size() > limits_.max_label_value_length) ||
          !IsValidUtf8(label.value)) {
        return false;
      }
      for (uint32_t j = 0; j < i; ++j) {
        if (labels[j].name == label.name) return false;
      }
    }
    return true;
  }

  // The general path sorts buckets by upper bound and drops a NaN one; in order already
  // (equal bounds allowed, which a stable sort leaves as they are), there is nothing to do.
  bool BucketsInOrder(const Series& s) const {
    const std::pair<double, double>* buckets = pairs_.data() + s.first_pair;
    for (uint32_t i = 0; i < s.num_pairs; ++i) {
      if (std::isnan(buckets[i].first)) return false;
      if (i > 0 && buckets[i].first < buckets[i - 1].first) return false;
    }
    return true;
  }

  // Writes the family as a PushRequest.families entry, laid out as protobuf's C++ serializer
  // writes pushgate.v1 messages (see wire_writer.h).
  void Write(absl::string_view name, absl::string_view help, v1::MetricType type) {
    size_t family_size = StringFieldSize(name.size()) + StringFieldSize(help.size()) +
                         (type != v1::UNTYPED ? 1 + VarintSize(type) : 0);
    const bool values = type == v1::UNTYPED || type == v1::COUNTER || type == v1::GAUGE;
    for (Series& s : series_) {
      size_t size = 0;
      for (uint32_t i = 0; i < s.num_labels; ++i) {
        size += LengthDelimitedFieldSize(LabelSize(labels_[s.first_label + i]));
      }
      if (values) {
        size += kDoubleFieldSize;  // a oneof member is written even when zero
      } else {
        s.data_size = OptionalDoubleFieldSize(s.value) + OptionalDoubleFieldSize(s.sum);
        for (uint32_t i = 0; i < s.num_pairs; ++i) {
          s.data_size += LengthDelimitedFieldSize(PairSize(pairs_[s.first_pair + i]));
        }
        size += LengthDelimitedFieldSize(s.data_size);
      }
      if (s.has_timestamp) size += 1 + VarintSize(static_cast<uint64_t>(s.timestamp_ms));
      s.size = size;
      family_size += LengthDelimitedFieldSize(size);
    }

    const size_t start = out_->size();
    out_->resize(start + LengthDelimitedFieldSize(family_size));
    WireWriter w(&(*out_)[start]);
    w.LengthDelimitedHeader(v1::PushRequest::kFamiliesFieldNumber, family_size);
    w.StringField(v1::MetricFamily::kNameFieldNumber, name);
    w.StringField(v1::MetricFamily::kHelpFieldNumber, help);
    if (type != v1::UNTYPED) w.VarintField(v1::MetricFamily::kTypeFieldNumber, type);
    // Summaries and histograms alike (see the static_assert above).
    const int data_field =
        type == v1::SUMMARY ? v1::Series::kSummaryFieldNumber : v1::Series::kHistogramFieldNumber;
    for (const Series& s : series_) {
      w.LengthDelimitedHeader(v1::MetricFamily::kSeriesFieldNumber, s.size);
      for (uint32_t i = 0; i < s.num_labels; ++i) {
        const Label& label = labels_[s.first_label + i];
        w.LengthDelimitedHeader(v1::Series::kLabelsFieldNumber, LabelSize(label));
        w.StringField(v1::Label::kNameFieldNumber, label.name);
        w.StringField(v1::Label::kValueFieldNumber, label.value);
      }
      if (values) {
        w.DoubleField(v1::Series::kValueFieldNumber, s.value);
      } else {
        w.LengthDelimitedHeader(data_field, s.data_size);
        w.OptionalDoubleField(v1::Summary::kCountFieldNumber, s.value);
        w.OptionalDoubleField(v1::Summary::kSumFieldNumber, s.sum);
        for (uint32_t i = 0; i < s.num_pairs; ++i) {
          const std::pair<double, double>& pair = pairs_[s.first_pair + i];
          w.LengthDelimitedHeader(v1::Summary::kQuantilesFieldNumber, PairSize(pair));
          w.OptionalDoubleField(v1::Quantile::kQuantileFieldNumber, pair.first);
          w.OptionalDoubleField(v1::Quantile::kValueFieldNumber, pair.second);
        }
      }
      if (s.has_timestamp) {
        w.VarintField(v1::Series::kTimestampMsFieldNumber, static_cast<uint64_t>(s.timestamp_ms));
      }
    }
  }

  static size_t LabelSize(const Label& label) {
    return StringFieldSize(label.name.size()) + StringFieldSize(label.value.size());
  }

  static size_t PairSize(const std::pair<double, double>& pair) {
    return OptionalDoubleFieldSize(pair.first) + OptionalDoubleFieldSize(pair.second);
  }

  // Adds `n` to the push's samples (as TextParserLimits::max_samples counts them); false once
  // they are over the limit, which the general path then reports.
  bool CountSamples(size_t n) {
    samples_ += n;
    return limits_.max_samples == 0 || samples_ <= limits_.max_samples;
  }

  TextParserLimits limits_;
  std::string* out_ = nullptr;
  size_t total_series_ = 0;
  size_t samples_ = 0;
  absl::flat_hash_set<absl::string_view> seen_names_;
  // The family being transcoded.
  std::vector<WireReader> metrics_;
  std::vector<Series> series_;
  std::vector<Label> labels_;
  std::vector<std::pair<double, double>> pairs_;
};

}  // namespace

bool TranscodeCommonPush(absl::string_view body, const TextParserLimits& limits, std::string* out,
                         size_t* series) {
  if (body.size() > static_cast<size_t>(INT_MAX)) return false;
  const size_t original_size = out->size();
  static thread_local Transcoder transcoder;
  if (transcoder.Run(body, limits, out, series)) return true;
  out->resize(original_size);
  return false;
}

}  // namespace protobuf_decoder_internal
}  // namespace pushgate
