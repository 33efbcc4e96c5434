// The text parser's flat intermediate model of one push, and its encoding as protobuf wire
// format. The parser fills plain vectors (no messages, no per-string allocation: texts are
// views into the body or into StableText), and AppendWire writes what serializing the
// corresponding pushgate.v1.MetricFamily messages as `PushRequest.families` (field 4) gives,
// byte for byte.
//
// A counter, gauge, untyped or info sample is a whole series as soon as it is read, so it is
// encoded right away (AddValueSeries) and AppendWire only copies those bytes; summary and
// histogram series grow until the end of the body and are encoded then.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_MODEL_H_
#define PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace pushgate {
namespace text_parser_internal {

// Text that must stay in place until Clear() (unescaped label values, repaired help texts),
// in blocks that are kept across pushes, so the steady state allocates nothing.
class StableText {
 public:
  // Room for at least `n` bytes, valid until the next Reserve/Commit/Clear.
  char* Reserve(size_t n);
  // Keeps the first `n` bytes written at the last Reserve and returns them.
  absl::string_view Commit(size_t n);
  absl::string_view Copy(absl::string_view s);
  // Forgets everything; keeps the blocks unless a huge push grew them.
  void Clear();

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size;
  };
  std::vector<Block> blocks_;
  size_t current_ = 0;  // the block being filled
  size_t used_ = 0;     // bytes of it already committed
};

// Bytes appended in place, kept across pushes (unlike std::string, growing it does not zero
// what is about to be overwritten).
class ByteBuffer {
 public:
  size_t size() const { return size_; }
  const char* data() const { return data_.get(); }
  // Room for at least `n` more bytes at the end, valid until the next Reserve; Commit says how
  // many of them were written.
  char* Reserve(size_t n) {
    if (capacity_ - size_ < n) Grow(n);
    return data_.get() + size_;
  }
  void Commit(size_t n) { size_ += n; }
  // Empties it; keeps the memory unless a huge push grew it.
  void Clear();

 private:
  void Grow(size_t n);
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

constexpr uint32_t kNoIndex = UINT32_MAX;

// Field values of pushgate.v1.MetricType that the model needs to tell apart.
enum FamilyType : int {
  kUntyped = 0,
  kCounter = 1,
  kGauge = 2,
  kSummary = 3,
  kHistogram = 4,
  kInfo = 5,
  kGaugeHistogram = 6,
};

struct LabelRef {
  absl::string_view name;
  absl::string_view value;
};

enum class SeriesKind : uint8_t { kSummary, kHistogram };

// A summary quantile (quantile, value) or a histogram bucket (upper_bound, cumulative_count),
// chained per series in the order added.
struct Point {
  double bound;
  double value;
  uint32_t next = kNoIndex;
  uint32_t value_slot = kNoIndex;  // the sample that gave the value
};

// How one sample's value shows in the encoding. TextShapeCache writes a push from another one
// with the same text but its values by patching these 8-byte fields; a value whose field is
// left out for 0 fixes the layout only as long as it stays 0 (or stays not 0).
enum class ValueUse : uint8_t {
  kUnused,   // in no field: a later `_sum`/`_count` replaced it, or the sample was dropped
  kAlways,   // a double field written whatever the value (a value series')
  kNonZero,  // a field written because the value is not 0 (IsSetDouble)
  kZero,     // a field left out because the value is 0
};

// Where a sample's value came from and went: one per sample line, in body order.
struct ValueSlot {
  uint32_t text_begin = 0;  // the value's text in the body
  uint32_t text_end = 0;
  ValueUse use = ValueUse::kUnused;
  uint32_t wire_offset = 0;  // its 8 bytes in what AppendWire appended, unless kUnused/kZero
};

// A summary or histogram series.
struct SeriesRecord {
  uint32_t labels_begin = 0;  // into Model::labels
  uint32_t labels_count = 0;
  uint32_t labels_wire_size = 0;  // the label fields as encoded, known once they are set
  SeriesKind kind = SeriesKind::kSummary;
  bool has_timestamp = false;
  int64_t timestamp_ms = 0;
  double sum = 0;
  double count = 0;
  uint32_t sum_slot = kNoIndex;  // the samples that gave them
  uint32_t count_slot = kNoIndex;
  uint32_t first_point = kNoIndex;
  uint32_t last_point = kNoIndex;
  uint32_t next_in_family = kNoIndex;
};

// Consecutive bytes of Model::value_series that belong to one family: the encodings of some of
// its value series, in order.
struct ValueRun {
  size_t begin = 0;
  size_t end = 0;
  uint32_t next = kNoIndex;  // the family's next run
};

struct FamilyRecord {
  // The name it was declared or first sampled under: how the parser finds it.
  absl::string_view key;
  // The output name is `name`, plus "_info" when `info_suffix` (`# TYPE foo info`).
  absl::string_view name;
  bool info_suffix = false;
  absl::string_view help;
  FamilyType type = kUntyped;
  uint32_t series_count = 0;
  // Summary and histogram families: their series, chained.
  uint32_t first_series = kNoIndex;
  uint32_t last_series = kNoIndex;
  // The other types: their series as encoded, in runs of Model::value_series.
  uint32_t first_run = kNoIndex;
  uint32_t last_run = kNoIndex;
  size_t value_series_size = 0;  // bytes in all its runs
};

// One push. Series of a family and points of a series are chained (they need not be adjacent
// in the body, or in these vectors).
struct Model {
  std::vector<FamilyRecord> families;  // in order of first mention
  // Value series (counter, gauge, untyped, info), each encoded as a PushRequest.families'
  // MetricFamily.series field (tag, length, Series), and the runs of them by family.
  ByteBuffer value_series;
  std::vector<ValueRun> value_runs;
  // Summary and histogram series, their labels and points.
  std::vector<SeriesRecord> series;
  std::vector<LabelRef> labels;
  std::vector<Point> points;
  StableText text;

  // When set (by the parser, before the first sample), where each sample's value lands is
  // recorded: the parser appends the slots' text, AppendWire fills in their use and offset.
  std::vector<ValueSlot>* slots = nullptr;
  // Traced values of value series: (slot, offset of the double in value_series).
  std::vector<std::pair<uint32_t, uint32_t>> value_series_slots;

  // Scratch of AppendWire and SortBuckets, kept here to be reused.
  std::vector<size_t> family_sizes;
  std::vector<uint32_t> series_sizes;
  std::vector<uint32_t> data_sizes;
  std::vector<uint32_t> sort_scratch;

  void Clear();

  // Appends a value series of `family` with `labels` (in that order), encoded. `slot` is the
  // sample's index among the body's samples (for `slots`).
  void AddValueSeries(uint32_t family, const std::vector<LabelRef>& labels, double value,
                      uint32_t slot, bool has_timestamp, int64_t timestamp_ms);
  // Adds a summary or histogram series to `family` (appended to its chain) and returns its
  // index.
  uint32_t AddSeries(uint32_t family, SeriesKind kind);
  // Gives `series` the labels, but the one at `skip` (-1: none).
  void SetLabels(uint32_t series, const std::vector<LabelRef>& labels, int skip);
  // Appends a point to the chain of `series`; its value came from sample `slot`.
  void AddPoint(uint32_t series, double bound, double value, uint32_t slot);
  // Puts the buckets of every histogram series in increasing bound order, repeated bounds in
  // the order added.
  void SortBuckets();
};

// Appends, for every family with series in order, tag 0x22, the length and the family's
// MetricFamily serialization. Sizes are computed first so `out` grows once. With
// `model->slots` set, fills in each slot's use and offset (from where this call started
// appending).
void AppendWire(Model* model, std::string* out);

// Empties `c` for reuse, but lets go of its memory when it grew beyond `keep` elements: what
// a huge push grew is not kept for the thread's lifetime.
template <typename Container>
void ClearOrRelease(Container* c, size_t keep) {
  if (c->capacity() > keep) {
    Container().swap(*c);
  } else {
    c->clear();
  }
}

}  // namespace text_parser_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_INTERNAL_MODEL_H_
