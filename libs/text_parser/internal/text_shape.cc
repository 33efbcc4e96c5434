#include "libs/text_parser/internal/text_shape.h"

#include <cstdint>
#include <cstring>

#include "absl/base/optimization.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "libs/protowire/wire_writer.h"
#include "libs/text_parser/internal/numbers.h"
#include "libs/text_parser/internal/traced_parse.h"

namespace pushgate {
namespace text_parser_internal {
namespace {

using ::pushgate::protowire::IsSetDouble;
using ::pushgate::protowire::StoreFixedDouble;

// memcmp, but defined for n == 0 with a null pointer (an empty body's data()).
inline bool SameBytes(const char* a, const char* b, size_t n) {
  return n == 0 || std::memcmp(a, b, n) == 0;
}

// Where a value's text starting at `p` ends: at the first blank, '\r' or '\n', which is also
// where the text after an accepted value starts.
inline const char* ValueTextEnd(const char* p, const char* end) {
  while (p < end && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') ++p;
  return p;
}

// The text before value k of `shape` (k == slots.size(): after the last value).
absl::string_view TextBefore(const TextShape& shape, size_t k) {
  const size_t begin = k == 0 ? 0 : shape.slots[k - 1].text_end;
  const size_t end = k == shape.slots.size() ? shape.body.size() : shape.slots[k].text_begin;
  return absl::string_view(shape.body).substr(begin, end - begin);
}

size_t SkeletonHash(const TextShape& shape) {
  size_t hash = absl::HashOf(shape.slots.size(), TextBefore(shape, shape.slots.size()));
  for (size_t k = 0; k < shape.slots.size(); ++k) {
    hash = absl::HashOf(hash, TextBefore(shape, k), static_cast<int>(shape.slots[k].use));
  }
  return hash;
}

}  // namespace

bool SameSkeleton(const TextShape& a, const TextShape& b) {
  if (a.skeleton_hash != b.skeleton_hash || a.slots.size() != b.slots.size()) return false;
  for (size_t k = 0; k < a.slots.size(); ++k) {
    if (a.slots[k].use != b.slots[k].use || TextBefore(a, k) != TextBefore(b, k)) return false;
  }
  return TextBefore(a, a.slots.size()) == TextBefore(b, b.slots.size());
}

size_t TextShape::bytes() const {
  return sizeof(TextShape) + body.capacity() + wire.capacity() +
         slots.capacity() * sizeof(ValueSlot);
}

absl::Status ParseAndMakeShape(absl::string_view body, const TextParserLimits& limits,
                               std::string* out, size_t* series, TextShape* shape) {
  size_t count = 0;
  const size_t start = out->size();
  absl::Status status = ParseTextToWireTraced(body, limits, out, &count, &shape->slots);
  if (!status.ok()) return status;
  if (series != nullptr) *series = count;
  shape->body.assign(body.data(), body.size());
  shape->wire.assign(out->data() + start, out->size() - start);
  shape->series = count;
  shape->slots.shrink_to_fit();
  shape->skeleton_hash = SkeletonHash(*shape);
  return absl::OkStatus();
}

bool WriteFromShape(const TextShape& shape, absl::string_view body, std::string* out,
                    size_t* series) {
  const size_t start = out->size();
  out->append(shape.wire);
  char* const wire = out->data() + start;
  const char* const old_text = shape.body.data();
  const char* p = body.data();
  const char* const end = p + body.size();
  size_t old_pos = 0;  // in shape.body: the end of the last value compared
  for (const ValueSlot& slot : shape.slots) {
    // The text up to this value is the shape's, byte for byte.
    const size_t same = slot.text_begin - old_pos;
    if (ABSL_PREDICT_FALSE(static_cast<size_t>(end - p) < same ||
                           !SameBytes(p, old_text + old_pos, same))) {
      out->resize(start);
      return false;
    }
    p += same;
    old_pos = slot.text_end;
    const char* const value_end = ValueTextEnd(p, end);
    double value;
    if (ABSL_PREDICT_FALSE(!ParseFloat(absl::string_view(p, value_end - p), &value))) {
      out->resize(start);
      return false;
    }
    p = value_end;
    switch (slot.use) {
      case ValueUse::kAlways:
        StoreFixedDouble(value, wire + slot.wire_offset);
        break;
      case ValueUse::kNonZero:
        if (ABSL_PREDICT_FALSE(!IsSetDouble(value))) {
          out->resize(start);
          return false;
        }
        StoreFixedDouble(value, wire + slot.wire_offset);
        break;
      case ValueUse::kZero:
        if (ABSL_PREDICT_FALSE(IsSetDouble(value))) {
          out->resize(start);
          return false;
        }
        break;
      case ValueUse::kUnused:
        break;
    }
  }
  // And so is all the text after the last value.
  const size_t rest = shape.body.size() - old_pos;
  if (static_cast<size_t>(end - p) != rest || !SameBytes(p, old_text + old_pos, rest)) {
    out->resize(start);
    return false;
  }
  if (series != nullptr) *series = shape.series;
  return true;
}

std::string ReplaceValues(const TextShape& shape,
                          absl::FunctionRef<std::string(size_t, absl::string_view)> value_text) {
  const absl::string_view body = shape.body;
  std::string replaced;
  size_t pos = 0;
  for (size_t k = 0; k < shape.slots.size(); ++k) {
    const ValueSlot& slot = shape.slots[k];
    absl::StrAppend(&replaced, body.substr(pos, slot.text_begin - pos),
                    value_text(k, body.substr(slot.text_begin, slot.text_end - slot.text_begin)));
    pos = slot.text_end;
  }
  absl::StrAppend(&replaced, body.substr(pos));
  return replaced;
}

}  // namespace text_parser_internal
}  // namespace pushgate
