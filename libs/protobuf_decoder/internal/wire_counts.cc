#include "libs/protobuf_decoder/internal/wire_counts.h"

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "libs/protobuf_decoder/internal/wire_fields.h"
#include "libs/protowire/wire_reader.h"
#include "proto/prometheus_client.pb.h"

namespace pushgate {
namespace protobuf_decoder_internal {
namespace {

namespace client = ::io::prometheus::client;
using ::pushgate::protowire::kLengthDelimited;
using ::pushgate::protowire::WireReader;
using ::pushgate::protowire::WireType;

// The wire type protobuf expects for a field of `type` (packed repeated numbers aside).
WireType ExpectedWireType(google::protobuf::FieldDescriptor::Type type) {
  using Field = google::protobuf::FieldDescriptor;
  switch (type) {
    case Field::TYPE_DOUBLE:
    case Field::TYPE_FIXED64:
    case Field::TYPE_SFIXED64:
      return protowire::kFixed64;
    case Field::TYPE_FLOAT:
    case Field::TYPE_FIXED32:
    case Field::TYPE_SFIXED32:
      return protowire::kFixed32;
    case Field::TYPE_STRING:
    case Field::TYPE_BYTES:
    case Field::TYPE_MESSAGE:
      return kLengthDelimited;
    case Field::TYPE_GROUP:
      return protowire::kStartGroup;
    default:
      return protowire::kVarint;
  }
}

// What the count below needs of each field of each message type reachable from
// MetricFamily, by field number: looking fields up in the descriptors took as long as the
// general path's parse itself.
struct FieldShape {
  bool known = false;
  WireType wire_type = protowire::kVarint;
  bool packable = false;  // repeated numbers, which may also come packed
  const google::protobuf::EnumDescriptor* enum_type = nullptr;
  int message = -1;  // the field's message type, as an index into Schema::messages
  // Samples (TextParserLimits::max_samples) per occurrence, or per value of a packed run.
  size_t samples = 0;
};
struct Schema {
  std::vector<std::vector<FieldShape>> messages;           // [message][field number]
  std::vector<const google::protobuf::Descriptor*> types;  // [message]

  FieldShape& Field(const google::protobuf::Descriptor* type, int number) {
    const size_t index = std::find(types.begin(), types.end(), type) - types.begin();
    return messages[index][number];
  }
};

int AddMessage(const google::protobuf::Descriptor* type, Schema* schema) {
  for (size_t i = 0; i < schema->types.size(); ++i) {
    if (schema->types[i] == type) return static_cast<int>(i);
  }
  const int index = static_cast<int>(schema->types.size());
  schema->types.push_back(type);
  schema->messages.emplace_back();
  std::vector<FieldShape> fields;
  for (int i = 0; i < type->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = type->field(i);
    if (fields.size() <= static_cast<size_t>(field->number())) fields.resize(field->number() + 1);
    FieldShape& shape = fields[field->number()];
    shape.known = true;
    shape.wire_type = ExpectedWireType(field->type());
    shape.packable = field->is_repeated() && field->is_packable();
    shape.enum_type = field->enum_type();
    if (field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      shape.message = AddMessage(field->message_type(), schema);
    }
  }
  schema->messages[index] = std::move(fields);
  return index;
}

// MetricFamily is message 0. The weights are what the general path builds per sample: each
// counter, gauge or untyped value; a summary or histogram (its sum and count) and each of its
// quantiles or buckets; each native-histogram span, delta and count (carried); each exemplar
// and exemplar label (built, then dropped).
const Schema& ClientSchema() {
  static const Schema* const schema = [] {
    auto* built = new Schema;
    AddMessage(client::MetricFamily::descriptor(), built);
    const auto weigh = [built](const google::protobuf::Descriptor* type,
                               std::initializer_list<int> numbers, size_t samples) {
      for (const int number : numbers) built->Field(type, number).samples = samples;
    };
    using H = client::Histogram;
    weigh(client::Metric::descriptor(),
          {client::Metric::kCounterFieldNumber, client::Metric::kGaugeFieldNumber,
           client::Metric::kUntypedFieldNumber},
          1);
    weigh(client::Metric::descriptor(),
          {client::Metric::kSummaryFieldNumber, client::Metric::kHistogramFieldNumber}, 2);
    weigh(client::Summary::descriptor(), {client::Summary::kQuantileFieldNumber}, 1);
    weigh(H::descriptor(),
          {H::kBucketFieldNumber, H::kNegativeSpanFieldNumber, H::kPositiveSpanFieldNumber,
           H::kNegativeDeltaFieldNumber, H::kPositiveDeltaFieldNumber, H::kNegativeCountFieldNumber,
           H::kPositiveCountFieldNumber, H::kExemplarsFieldNumber},
          1);
    weigh(client::Counter::descriptor(), {client::Counter::kExemplarFieldNumber}, 1);
    weigh(client::Bucket::descriptor(), {client::Bucket::kExemplarFieldNumber}, 1);
    weigh(client::Exemplar::descriptor(), {client::Exemplar::kLabelFieldNumber}, 1);
    return built;
  }();
  return *schema;
}

// The values in a packed run of `wire_type` numbers: a varint ends at a byte below 0x80.
size_t PackedValues(absl::string_view packed, WireType wire_type) {
  if (wire_type == protowire::kFixed64) return packed.size() / 8;
  if (wire_type == protowire::kFixed32) return packed.size() / 4;
  size_t values = 0;
  for (const char c : packed) values += static_cast<unsigned char>(c) < 0x80;
  return values;
}

struct Tally {
  size_t samples = 0;
  // Fields protobuf's parser keeps as unknown fields: numbers the schema does not have, known
  // fields written with another wire type, and enum values outside their enumeration (proto2).
  // It builds each (an entry, and a string for a length-delimited one: some 60 bytes for two
  // bytes of wire), where the fast path passes over them.
  size_t unknown = 0;
};

// Counts what `message` (of schema message `type`) builds, at every depth, into `tally`.
// Data that is not wire format ends the count there, for the general path's parse to report.
void Count(WireReader message, const Schema& schema, int type, Tally* tally) {
  const std::vector<FieldShape>& fields = schema.messages[type];
  ForEachField(message, [&](uint32_t number, uint32_t wire_type, WireReader* in) {
    static const FieldShape kUnknown;
    const FieldShape& field = number < fields.size() ? fields[number] : kUnknown;
    const bool packed = field.packable && wire_type == kLengthDelimited;
    if (!field.known || (wire_type != field.wire_type && !packed)) {
      // A group keeps every field inside it too: at most one per two of its bytes.
      const char* const start = in->position();
      if (!Skip(number, wire_type, in)) return false;
      tally->unknown += wire_type == protowire::kStartGroup
                            ? 1 + static_cast<size_t>(in->position() - start) / 2
                            : 1;
      return true;
    }
    if (packed) {
      absl::string_view values;
      if (!in->ReadBytes(&values)) return false;
      tally->samples += field.samples * PackedValues(values, field.wire_type);
      return true;
    }
    tally->samples += field.samples;
    if (field.enum_type != nullptr) {
      uint64_t value;
      if (!in->ReadVarint(&value)) return false;
      if (field.enum_type->FindValueByNumber(static_cast<int>(value)) == nullptr) {
        ++tally->unknown;
      }
      return true;
    }
    if (field.message < 0) return Skip(number, wire_type, in);
    WireReader nested;
    if (!in->ReadMessage(&nested)) return false;
    Count(nested, schema, field.message, tally);
    return true;
  });
}

}  // namespace

FamilyCounts CountFamily(absl::string_view bytes, size_t max_labels_per_series) {
  FamilyCounts counts;
  ForEachField(WireReader(bytes, 0), [&](uint32_t number, uint32_t wire_type, WireReader* in) {
    if (number == client::MetricFamily::kNameFieldNumber && wire_type == kLengthDelimited) {
      return in->ReadBytes(&counts.name);
    }
    if (number != client::MetricFamily::kMetricFieldNumber || wire_type != kLengthDelimited) {
      return Skip(number, wire_type, in);
    }
    WireReader metric;
    if (!in->ReadMessage(&metric)) return false;
    size_t labels = 0;
    ForEachField(metric, [&](uint32_t field, uint32_t type, WireReader* m) {
      labels += field == client::Metric::kLabelFieldNumber && type == kLengthDelimited;
      return Skip(field, type, m);
    });
    if (counts.metric_over_labels < 0 && max_labels_per_series != 0 &&
        labels > max_labels_per_series) {
      counts.metric_over_labels = static_cast<int>(counts.metrics);
      counts.labels_of_that_metric = labels;
    }
    ++counts.metrics;
    return true;
  });
  Tally tally;
  Count(WireReader(bytes, 0), ClientSchema(), 0, &tally);
  counts.unknown_fields = tally.unknown;
  counts.samples = tally.samples + tally.unknown;
  return counts;
}

}  // namespace protobuf_decoder_internal
}  // namespace pushgate
