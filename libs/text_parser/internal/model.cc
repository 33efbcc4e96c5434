#include "libs/text_parser/internal/model.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "libs/protowire/wire_writer.h"

namespace pushgate {
namespace text_parser_internal {

using ::pushgate::protowire::IsSetDouble;
using ::pushgate::protowire::kDoubleFieldSize;
using ::pushgate::protowire::LengthDelimitedFieldSize;
using ::pushgate::protowire::OptionalDoubleFieldSize;
using ::pushgate::protowire::StringFieldSize;
using ::pushgate::protowire::VarintSize;
using ::pushgate::protowire::WireWriter;
namespace {

// Field numbers of proto/ingest.proto.
namespace field {
constexpr int kPushRequestFamilies = 4;
constexpr int kFamilyName = 1, kFamilyHelp = 2, kFamilyType = 3, kFamilySeries = 4;
constexpr int kSeriesLabels = 1, kSeriesValue = 2, kSeriesSummary = 3, kSeriesHistogram = 4,
              kSeriesTimestamp = 5;
constexpr int kLabelName = 1, kLabelValue = 2;
// Summary and Histogram share their first three numbers, Quantile and Bucket both theirs.
constexpr int kCount = 1, kSum = 2, kPoints = 3;
constexpr int kPointBound = 1, kPointValue = 2;
}  // namespace field

// The payload of a Label message.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline size_t LabelSize(const LabelRef& label) {
  return StringFieldSize(label.name.size()) + StringFieldSize(label.value.size());
}

// A Series.labels field.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void WriteLabel(const LabelRef& label, WireWriter* w) {
  const size_t name_size = label.name.size();
  const size_t value_size = label.value.size();
  // Nearly every label: all three lengths below 128, one byte each, no varint loops.
  if (ABSL_PREDICT_TRUE(name_size + value_size < 0x80 - 4)) {
    w->ShortLengthDelimitedHeader(field::kSeriesLabels, LabelSize(label));
    if (name_size != 0) {
      w->ShortLengthDelimitedHeader(field::kLabelName, name_size);
      w->Bytes(label.name);
    }
    if (value_size != 0) {
      w->ShortLengthDelimitedHeader(field::kLabelValue, value_size);
      w->Bytes(label.value);
    }
    return;
  }
  w->LengthDelimitedHeader(field::kSeriesLabels, LabelSize(label));
  w->StringField(field::kLabelName, label.name);
  w->StringField(field::kLabelValue, label.value);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// StableText

namespace {
constexpr size_t kBlockSize = 16 << 10;
// Blocks beyond these are freed at Clear(): a huge push does not pin its memory.
constexpr size_t kKeepBlocks = 4;
}  // namespace

char* StableText::Reserve(size_t n) {
  if (current_ < blocks_.size() && blocks_[current_].size - used_ >= n) {
    return blocks_[current_].data.get() + used_;
  }
  // Move to the next block that is large enough, making one if none is. Skipped blocks stay
  // for later pushes.
  if (current_ < blocks_.size()) ++current_;
  while (current_ < blocks_.size() && blocks_[current_].size < n) ++current_;
  if (current_ == blocks_.size()) {
    const size_t size = std::max(n, kBlockSize);
    blocks_.push_back(Block{std::unique_ptr<char[]>(new char[size]), size});
  }
  used_ = 0;
  return blocks_[current_].data.get();
}

absl::string_view StableText::Commit(size_t n) {
  const absl::string_view committed(blocks_[current_].data.get() + used_, n);
  used_ += n;
  return committed;
}

absl::string_view StableText::Copy(absl::string_view s) {
  if (s.empty()) return absl::string_view();
  std::memcpy(Reserve(s.size()), s.data(), s.size());
  return Commit(s.size());
}

void StableText::Clear() {
  if (blocks_.size() > kKeepBlocks) blocks_.resize(kKeepBlocks);
  for (Block& block : blocks_) {
    if (block.size > kBlockSize) {
      block = Block{std::unique_ptr<char[]>(new char[kBlockSize]), kBlockSize};
    }
  }
  current_ = 0;
  used_ = 0;
}

// ---------------------------------------------------------------------------------------
// ByteBuffer

namespace {
// A buffer beyond this is freed at Clear(): a huge push does not pin its memory.
constexpr size_t kKeepBufferBytes = 1 << 20;
}  // namespace

void ByteBuffer::Grow(size_t n) {
  const size_t capacity = std::max({size_ + n, 2 * capacity_, size_t{4096}});
  std::unique_ptr<char[]> grown(new char[capacity]);
  if (size_ != 0) std::memcpy(grown.get(), data_.get(), size_);
  data_ = std::move(grown);
  capacity_ = capacity;
}

void ByteBuffer::Clear() {
  size_ = 0;
  if (capacity_ > kKeepBufferBytes) {
    data_.reset();
    capacity_ = 0;
  }
}

// ---------------------------------------------------------------------------------------
// Model

void Model::Clear() {
  constexpr size_t kKeepElements = 4096;
  ClearOrRelease(&families, kKeepElements);
  value_series.Clear();
  ClearOrRelease(&value_runs, kKeepElements);
  ClearOrRelease(&series, kKeepElements);
  ClearOrRelease(&labels, kKeepElements);
  ClearOrRelease(&points, kKeepElements);
  ClearOrRelease(&family_sizes, kKeepElements);
  ClearOrRelease(&series_sizes, kKeepElements);
  ClearOrRelease(&data_sizes, kKeepElements);
  ClearOrRelease(&sort_scratch, kKeepElements);
  ClearOrRelease(&value_series_slots, kKeepElements);
  slots = nullptr;
  text.Clear();
}

void Model::AddValueSeries(uint32_t family, const std::vector<LabelRef>& series_labels,
                           double value, uint32_t slot, bool has_timestamp, int64_t timestamp_ms) {
  // The series' length comes before it but is known once it is written. Nearly every series is
  // shorter than 128 bytes, so the payload is written after a one-byte length and moved in the
  // rare case that the length takes more.
  constexpr size_t kMaxVarint = 10;
  constexpr size_t kMaxLabelOverhead = 3 * (1 + kMaxVarint);  // tag and length, three times
  size_t text_size = 0;
  for (const LabelRef& label : series_labels) text_size += label.name.size() + label.value.size();
  const size_t room = 1 + kMaxVarint + series_labels.size() * kMaxLabelOverhead + text_size +
                      kDoubleFieldSize + 1 + kMaxVarint;
  char* const start = value_series.Reserve(room);
  char* const payload = start + 2;
  WireWriter w(payload);
  for (const LabelRef& label : series_labels) WriteLabel(label, &w);
  const size_t value_offset = w.position() + 1 - payload;  // after the tag
  w.DoubleField(field::kSeriesValue, value);
  if (has_timestamp) {
    w.VarintField(field::kSeriesTimestamp, static_cast<uint64_t>(timestamp_ms));
  }
  const size_t payload_size = w.position() - payload;
  const size_t length_size = VarintSize(payload_size);
  if (length_size > 1) std::memmove(payload + length_size - 1, payload, payload_size);
  WireWriter(start).LengthDelimitedHeader(field::kFamilySeries, payload_size);
  const size_t field_size = 1 + length_size + payload_size;
  const size_t begin = value_series.size();
  value_series.Commit(field_size);
  if (slots != nullptr) {
    value_series_slots.emplace_back(slot,
                                    static_cast<uint32_t>(begin + 1 + length_size + value_offset));
  }

  // Samples of a family usually come together: then this series extends the last run, which
  // is the family's.
  FamilyRecord& f = families[family];
  if (f.last_run != kNoIndex && f.last_run + 1 == value_runs.size()) {
    value_runs.back().end += field_size;
  } else {
    const uint32_t run = static_cast<uint32_t>(value_runs.size());
    ValueRun& value_run = value_runs.emplace_back();  // field by field, as in AddPoint
    value_run.begin = begin;
    value_run.end = begin + field_size;
    if (f.last_run == kNoIndex) {
      f.first_run = run;
    } else {
      value_runs[f.last_run].next = run;
    }
    f.last_run = run;
  }
  f.value_series_size += field_size;
  ++f.series_count;
}

uint32_t Model::AddSeries(uint32_t family, SeriesKind kind) {
  const uint32_t index = static_cast<uint32_t>(series.size());
  series.emplace_back();
  series.back().kind = kind;
  FamilyRecord& f = families[family];
  if (f.last_series == kNoIndex) {
    f.first_series = index;
  } else {
    series[f.last_series].next_in_family = index;
  }
  f.last_series = index;
  ++f.series_count;
  return index;
}

void Model::SetLabels(uint32_t s, const std::vector<LabelRef>& new_labels, int skip) {
  SeriesRecord& record = series[s];
  record.labels_begin = static_cast<uint32_t>(labels.size());
  size_t wire_size = 0;
  for (int k = 0; k < static_cast<int>(new_labels.size()); ++k) {
    if (k == skip) continue;
    labels.push_back(new_labels[k]);
    wire_size += LengthDelimitedFieldSize(LabelSize(new_labels[k]));
  }
  record.labels_count = static_cast<uint32_t>(labels.size()) - record.labels_begin;
  record.labels_wire_size = static_cast<uint32_t>(wire_size);
}

void Model::AddPoint(uint32_t s, double bound, double value, uint32_t slot) {
  const uint32_t index = static_cast<uint32_t>(points.size());
  // Field by field: a Point built on the stack and copied in was written in two halves and
  // read back whole, which store-to-load forwarding cannot serve (a stall on every bucket).
  Point& point = points.emplace_back();
  point.bound = bound;
  point.value = value;
  point.value_slot = slot;
  SeriesRecord& record = series[s];
  if (record.last_point == kNoIndex) {
    record.first_point = index;
  } else {
    points[record.last_point].next = index;
  }
  record.last_point = index;
}

void Model::SortBuckets() {
  for (SeriesRecord& record : series) {
    if (record.kind != SeriesKind::kHistogram || record.first_point == kNoIndex) continue;
    bool sorted = true;
    for (uint32_t p = record.first_point; points[p].next != kNoIndex; p = points[p].next) {
      if (points[points[p].next].bound < points[p].bound) {
        sorted = false;
        break;
      }
    }
    if (sorted) continue;
    sort_scratch.clear();
    for (uint32_t p = record.first_point; p != kNoIndex; p = points[p].next) {
      sort_scratch.push_back(p);
    }
    std::stable_sort(sort_scratch.begin(), sort_scratch.end(),
                     [this](uint32_t a, uint32_t b) { return points[a].bound < points[b].bound; });
    for (size_t k = 0; k + 1 < sort_scratch.size(); ++k) {
      points[sort_scratch[k]].next = sort_scratch[k + 1];
    }
    points[sort_scratch.back()].next = kNoIndex;
    record.first_point = sort_scratch.front();
    record.last_point = sort_scratch.back();
  }
}

// ---------------------------------------------------------------------------------------
// Wire encoding of summary and histogram series, and of the whole push.

namespace {

constexpr absl::string_view kInfoSuffix = "_info";

size_t PointSize(const Point& point) {
  return OptionalDoubleFieldSize(point.bound) + OptionalDoubleFieldSize(point.value);
}

// The payload of a series' Summary or Histogram message.
size_t GroupedDataSize(const Model& model, const SeriesRecord& series) {
  size_t size = OptionalDoubleFieldSize(series.count) + OptionalDoubleFieldSize(series.sum);
  for (uint32_t p = series.first_point; p != kNoIndex; p = model.points[p].next) {
    size += LengthDelimitedFieldSize(PointSize(model.points[p]));
  }
  return size;
}

// The payload of a Series message; `data_size` receives that of its Summary/Histogram.
size_t SeriesSize(const Model& model, const SeriesRecord& series, size_t* data_size) {
  *data_size = GroupedDataSize(model, series);
  size_t size = series.labels_wire_size + LengthDelimitedFieldSize(*data_size);
  if (series.has_timestamp) size += 1 + VarintSize(static_cast<uint64_t>(series.timestamp_ms));
  return size;
}

size_t FamilyHeaderSize(const FamilyRecord& family) {
  const size_t name_size = family.name.size() + (family.info_suffix ? kInfoSuffix.size() : 0);
  size_t size = StringFieldSize(name_size) + StringFieldSize(family.help.size());
  if (family.type != kUntyped) size += 1 + VarintSize(static_cast<uint64_t>(family.type));
  return size;
}

// With the model traced, records that the optional double field for `value`, from sample
// `slot`, is about to be written at `field` (or left out); `base` is where AppendWire began.
void TraceOptionalValue(const Model& model, uint32_t slot, double value, const char* field,
                        const char* base) {
  if (model.slots == nullptr || slot == kNoIndex) return;
  ValueSlot& traced = (*model.slots)[slot];
  if (IsSetDouble(value)) {
    traced.use = ValueUse::kNonZero;
    traced.wire_offset = static_cast<uint32_t>(field + 1 - base);  // after the tag
  } else {
    traced.use = ValueUse::kZero;
  }
}

void WriteGroupedData(const Model& model, const SeriesRecord& series, const char* base,
                      WireWriter* w) {
  TraceOptionalValue(model, series.count_slot, series.count, w->position(), base);
  w->OptionalDoubleField(field::kCount, series.count);
  TraceOptionalValue(model, series.sum_slot, series.sum, w->position(), base);
  w->OptionalDoubleField(field::kSum, series.sum);
  for (uint32_t p = series.first_point; p != kNoIndex; p = model.points[p].next) {
    const Point& point = model.points[p];
    w->LengthDelimitedHeader(field::kPoints, PointSize(point));
    w->OptionalDoubleField(field::kPointBound, point.bound);
    TraceOptionalValue(model, point.value_slot, point.value, w->position(), base);
    w->OptionalDoubleField(field::kPointValue, point.value);
  }
}

void WriteSeries(const Model& model, const SeriesRecord& series, size_t data_size, const char* base,
                 WireWriter* w) {
  for (uint32_t k = 0; k < series.labels_count; ++k) {
    WriteLabel(model.labels[series.labels_begin + k], w);
  }
  w->LengthDelimitedHeader(
      series.kind == SeriesKind::kSummary ? field::kSeriesSummary : field::kSeriesHistogram,
      data_size);
  WriteGroupedData(model, series, base, w);
  if (series.has_timestamp) {
    w->VarintField(field::kSeriesTimestamp, static_cast<uint64_t>(series.timestamp_ms));
  }
}

void WriteFamilyHeader(const FamilyRecord& family, WireWriter* w) {
  if (family.info_suffix) {
    w->LengthDelimitedHeader(field::kFamilyName, family.name.size() + kInfoSuffix.size());
    w->Bytes(family.name);
    w->Bytes(kInfoSuffix);
  } else {
    w->StringField(field::kFamilyName, family.name);
  }
  w->StringField(field::kFamilyHelp, family.help);
  if (family.type != kUntyped) {
    w->VarintField(field::kFamilyType, static_cast<uint64_t>(family.type));
  }
}

}  // namespace

void AppendWire(Model* model, std::string* out) {
  // Pass 1: sizes, innermost first, kept for pass 2 (a message's length precedes it).
  model->series_sizes.resize(model->series.size());
  model->data_sizes.resize(model->series.size());
  model->family_sizes.resize(model->families.size());
  size_t total = 0;
  for (size_t f = 0; f < model->families.size(); ++f) {
    const FamilyRecord& family = model->families[f];
    if (family.series_count == 0) continue;  // families without samples are not output
    size_t size = FamilyHeaderSize(family) + family.value_series_size;
    for (uint32_t s = family.first_series; s != kNoIndex; s = model->series[s].next_in_family) {
      size_t data_size;
      const size_t series_size = SeriesSize(*model, model->series[s], &data_size);
      model->series_sizes[s] = static_cast<uint32_t>(series_size);
      model->data_sizes[s] = static_cast<uint32_t>(data_size);
      size += LengthDelimitedFieldSize(series_size);
    }
    model->family_sizes[f] = size;
    total += LengthDelimitedFieldSize(size);
  }

  // Pass 2: write into space made once.
  const size_t start = out->size();
  out->resize(start + total);
  const char* const base = out->data() + start;
  WireWriter w(&(*out)[start]);
  // Traced: where each value run went, to place the values of value series.
  std::vector<uint32_t> run_starts;
  if (model->slots != nullptr) run_starts.resize(model->value_runs.size());
  for (size_t f = 0; f < model->families.size(); ++f) {
    const FamilyRecord& family = model->families[f];
    if (family.series_count == 0) continue;
    w.LengthDelimitedHeader(field::kPushRequestFamilies, model->family_sizes[f]);
    WriteFamilyHeader(family, &w);
    for (uint32_t r = family.first_run; r != kNoIndex; r = model->value_runs[r].next) {
      const ValueRun& run = model->value_runs[r];
      if (model->slots != nullptr) run_starts[r] = static_cast<uint32_t>(w.position() - base);
      w.Bytes(absl::string_view(model->value_series.data() + run.begin, run.end - run.begin));
    }
    for (uint32_t s = family.first_series; s != kNoIndex; s = model->series[s].next_in_family) {
      w.LengthDelimitedHeader(field::kFamilySeries, model->series_sizes[s]);
      WriteSeries(*model, model->series[s], model->data_sizes[s], base, &w);
    }
  }
  if (model->slots == nullptr) return;
  // Runs were made in value_series order, and so were the traced values: walk both.
  size_t r = 0;
  for (const auto& [slot, offset] : model->value_series_slots) {
    while (model->value_runs[r].end <= offset) ++r;
    ValueSlot& traced = (*model->slots)[slot];
    traced.use = ValueUse::kAlways;
    traced.wire_offset = run_starts[r] + static_cast<uint32_t>(offset - model->value_runs[r].begin);
  }
}

}  // namespace text_parser_internal
}  // namespace pushgate
