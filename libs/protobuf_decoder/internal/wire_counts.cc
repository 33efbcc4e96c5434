#include "libs/protobuf_decoder/internal/wire_counts.h"

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

// Protobuf's parser keeps a message field written with another wire type as an unknown field
// (so it is skipped here too, and counting goes on); a message that does not parse fails the
// general path's parse as well, so counting may stop there.
constexpr bool IsMessage(uint32_t wire_type) { return wire_type == kLengthDelimited; }

// The fields numbered `repeated` (a summary's quantiles, an exemplar's labels) in a message.
size_t CountRepeated(WireReader message, uint32_t repeated) {
  size_t count = 0;
  ForEachField(message, [&](uint32_t number, uint32_t wire_type, WireReader* in) {
    if (number == repeated && wire_type == kLengthDelimited) ++count;
    return Skip(number, wire_type, in);
  });
  return count;
}

// An Exemplar materializes itself and each of its labels. Exemplars are not carried, but the
// general path builds them before it drops them.
size_t CountExemplar(WireReader exemplar) {
  return 1 + CountRepeated(exemplar, client::Exemplar::kLabelFieldNumber);
}

// The values of a repeated scalar field whose tag was just read: one when it is written
// unpacked, each value of a packed run otherwise (a varint ends at a byte below 0x80; a double
// takes 8 bytes). False on data that is not wire format.
bool CountScalars(uint32_t number, uint32_t wire_type, bool doubles, WireReader* in,
                  size_t* count) {
  if (wire_type != kLengthDelimited) {
    ++*count;
    return Skip(number, wire_type, in);
  }
  absl::string_view packed;
  if (!in->ReadBytes(&packed)) return false;
  if (doubles) {
    *count += packed.size() / 8;
  } else {
    for (const char c : packed) *count += static_cast<unsigned char>(c) < 0x80;
  }
  return true;
}

// A counter's value and its exemplar.
size_t CountCounter(WireReader counter) {
  size_t count = 1;
  ForEachField(counter, [&](uint32_t number, uint32_t wire_type, WireReader* in) {
    WireReader exemplar;
    if (number != client::Counter::kExemplarFieldNumber || !IsMessage(wire_type)) {
      return Skip(number, wire_type, in);
    }
    if (!in->ReadMessage(&exemplar)) return false;
    count += CountExemplar(exemplar);
    return true;
  });
  return count;
}

// A histogram's sum, count and buckets, and what else it materializes: native spans, deltas
// and counts (carried), exemplars with their labels (built, then dropped).
size_t CountHistogram(WireReader histogram) {
  size_t count = 2;
  ForEachField(histogram, [&](uint32_t number, uint32_t wire_type, WireReader* in) {
    WireReader nested;
    switch (number) {
      case client::Histogram::kBucketFieldNumber:
        if (!IsMessage(wire_type)) break;
        if (!in->ReadMessage(&nested)) return false;
        ++count;
        return ForEachField(nested, [&](uint32_t field, uint32_t type, WireReader* bucket) {
          WireReader exemplar;
          if (field != client::Bucket::kExemplarFieldNumber || !IsMessage(type)) {
            return Skip(field, type, bucket);
          }
          if (!bucket->ReadMessage(&exemplar)) return false;
          count += CountExemplar(exemplar);
          return true;
        });
      case client::Histogram::kNegativeSpanFieldNumber:
      case client::Histogram::kPositiveSpanFieldNumber:
        if (wire_type == kLengthDelimited) ++count;
        break;
      case client::Histogram::kNegativeDeltaFieldNumber:
      case client::Histogram::kPositiveDeltaFieldNumber:
        return CountScalars(number, wire_type, /*doubles=*/false, in, &count);
      case client::Histogram::kNegativeCountFieldNumber:
      case client::Histogram::kPositiveCountFieldNumber:
        return CountScalars(number, wire_type, /*doubles=*/true, in, &count);
      case client::Histogram::kExemplarsFieldNumber:
        if (!IsMessage(wire_type)) break;
        if (!in->ReadMessage(&nested)) return false;
        count += CountExemplar(nested);
        return true;
    }
    return Skip(number, wire_type, in);
  });
  return count;
}

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
};
struct Schema {
  std::vector<std::vector<FieldShape>> messages;  // [message][field number]
};

int AddMessage(const google::protobuf::Descriptor* type,
               std::vector<const google::protobuf::Descriptor*>* seen, Schema* schema) {
  for (size_t i = 0; i < seen->size(); ++i) {
    if ((*seen)[i] == type) return static_cast<int>(i);
  }
  const int index = static_cast<int>(seen->size());
  seen->push_back(type);
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
      shape.message = AddMessage(field->message_type(), seen, schema);
    }
  }
  schema->messages[index] = std::move(fields);
  return index;
}

const Schema& ClientSchema() {
  static const Schema* const schema = [] {
    auto* built = new Schema;
    std::vector<const google::protobuf::Descriptor*> seen;
    AddMessage(client::MetricFamily::descriptor(), &seen, built);  // index 0
    return built;
  }();
  return *schema;
}

// The fields in `message` (of schema message `type`), at any depth, that protobuf's parser
// keeps as unknown fields: numbers the schema does not have, known fields written with another
// wire type, and enum values outside their enumeration (proto2). It builds each (an entry, and
// a string for a length-delimited one: some 60 bytes for two bytes of wire), where the fast
// path passes over them.
size_t CountUnknownFields(WireReader message, const Schema& schema, int type) {
  const std::vector<FieldShape>& fields = schema.messages[type];
  size_t count = 0;
  ForEachField(message, [&](uint32_t number, uint32_t wire_type, WireReader* in) {
    static const FieldShape kUnknown;
    const FieldShape& field = number < fields.size() ? fields[number] : kUnknown;
    const bool packed = field.packable && wire_type == kLengthDelimited;
    if (!field.known || (wire_type != field.wire_type && !packed)) {
      // A group keeps every field inside it too: at most one per two of its bytes.
      const char* const start = in->position();
      if (!Skip(number, wire_type, in)) return false;
      count += wire_type == protowire::kStartGroup
                   ? 1 + static_cast<size_t>(in->position() - start) / 2
                   : 1;
      return true;
    }
    if (field.enum_type != nullptr && !packed) {
      // proto2 keeps a value outside the enumeration as an unknown field too.
      uint64_t value;
      if (!in->ReadVarint(&value)) return false;
      if (field.enum_type->FindValueByNumber(static_cast<int>(value)) == nullptr) ++count;
      return true;
    }
    if (field.message < 0) return Skip(number, wire_type, in);
    WireReader nested;
    if (!in->ReadMessage(&nested)) return false;
    count += CountUnknownFields(nested, schema, field.message);
    return true;
  });
  return count;
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
      WireReader value;
      switch (field) {
        case client::Metric::kLabelFieldNumber:
          if (type == kLengthDelimited) ++labels;
          break;
        case client::Metric::kGaugeFieldNumber:
        case client::Metric::kUntypedFieldNumber:
          if (type == kLengthDelimited) ++counts.samples;
          break;
        case client::Metric::kCounterFieldNumber:
          if (!IsMessage(type)) break;
          if (!m->ReadMessage(&value)) return false;
          counts.samples += CountCounter(value);
          return true;
        case client::Metric::kSummaryFieldNumber:
          if (!IsMessage(type)) break;
          if (!m->ReadMessage(&value)) return false;
          counts.samples += 2 + CountRepeated(value, client::Summary::kQuantileFieldNumber);
          return true;
        case client::Metric::kHistogramFieldNumber:
          if (!IsMessage(type)) break;
          if (!m->ReadMessage(&value)) return false;
          counts.samples += CountHistogram(value);
          return true;
      }
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
  counts.unknown_fields = CountUnknownFields(WireReader(bytes, 0), ClientSchema(), 0);
  counts.samples += counts.unknown_fields;
  return counts;
}

}  // namespace protobuf_decoder_internal
}  // namespace pushgate
