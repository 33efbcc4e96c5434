#include "libs/protobuf_decoder/protobuf_decoder.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/unknown_field_set.h"
#include "libs/go_text/go_text.h"
#include "libs/protobuf_decoder/internal/fast_path.h"
#include "libs/protobuf_decoder/internal/rules.h"
#include "libs/protobuf_decoder/internal/wire_counts.h"
#include "proto/prometheus_client.pb.h"

namespace pushgate {
namespace {

namespace client = ::io::prometheus::client;
namespace v1 = ::pushgate::v1;
using ::pushgate::protobuf_decoder_internal::IsValidLabelName;
using ::pushgate::protobuf_decoder_internal::IsValidMetricName;
using ::pushgate::protobuf_decoder_internal::MapType;
using ::pushgate::protobuf_decoder_internal::NeedsInfBucket;

// ---------------------------------------------------------------------------------------------
// Content-Type

// RFC 2045 "tspecials": the characters that end a token.
bool IsTSpecial(char c) {
  return absl::string_view("()<>@,;:\\\"/[]?=").find(c) != absl::string_view::npos;
}

// RFC 2045 token characters, as Go's mime package accepts them.
bool IsTokenChar(char c) { return c > ' ' && c < 0x7f && !IsTSpecial(c); }

// Go's unicode.IsSpace restricted to ASCII, which is all a header value can hold here.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

void SkipSpace(absl::string_view* s) {
  while (!s->empty() && IsSpace(s->front())) s->remove_prefix(1);
}

absl::string_view ConsumeToken(absl::string_view* s) {
  size_t n = 0;
  while (n < s->size() && IsTokenChar((*s)[n])) ++n;
  absl::string_view token = s->substr(0, n);
  s->remove_prefix(n);
  return token;
}

// A parameter value, as Go's mime package reads it: a token, or a quoted string in which a
// backslash escapes only a tspecial (elsewhere it is literal) and CR/LF may not appear.
// Returns false when neither is there (Go then rejects the whole header).
bool ConsumeValue(absl::string_view* s, std::string* value) {
  value->clear();
  if (s->empty()) return false;
  if (s->front() != '"') {
    absl::string_view token = ConsumeToken(s);
    if (token.empty()) return false;
    value->assign(token.data(), token.size());
    return true;
  }
  for (size_t i = 1; i < s->size(); ++i) {
    const char c = (*s)[i];
    if (c == '"') {
      s->remove_prefix(i + 1);
      return true;
    }
    if (c == '\\' && i + 1 < s->size() && IsTSpecial((*s)[i + 1])) {
      value->push_back((*s)[++i]);
      continue;
    }
    if (c == '\r' || c == '\n') return false;
    value->push_back(c);
  }
  return false;  // no closing quote
}

// ---------------------------------------------------------------------------------------------
// Checks

// A name or value for an error message: quoted, escaped so the message stays one line, and
// cut short when long.
std::string Quote(absl::string_view s) {
  constexpr size_t kMaxShown = 100;
  if (s.size() <= kMaxShown) return absl::StrCat("\"", absl::CHexEscape(s), "\"");
  return absl::StrCat("\"", absl::CHexEscape(s.substr(0, kMaxShown)), "\"...");
}

// ---------------------------------------------------------------------------------------------
// Decoding

// Where in the body the message being converted came from, for error messages.
struct Position {
  size_t family_index;  // from 1
  size_t offset;        // of its length prefix
};

absl::Status FamilyError(const Position& pos, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("family ", pos.family_index, " at byte ", pos.offset, ": ", what));
}

absl::Status MetricError(const Position& pos, absl::string_view family_name, int metric_index,
                         absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("family ", pos.family_index, " at byte ",
                                                 pos.offset, " (", Quote(family_name), "), metric ",
                                                 metric_index + 1, ": ", what));
}

// The limits a family's counts (from its wire bytes) already break, with the messages the
// checks on the built family would give; `*samples` adds up the push's samples.
absl::Status CheckCounts(const Position& pos, const TextParserLimits& limits,
                         const protobuf_decoder_internal::FamilyCounts& counts, size_t* samples) {
  // A family with more metrics than the push may have series breaks the limit whatever
  // families came before (the exact sum is checked once it is built).
  if (limits.max_series != 0 && counts.metrics > limits.max_series) {
    return FamilyError(pos, absl::StrCat("number of series exceeds --max_series_per_push (",
                                         limits.max_series, ")"));
  }
  if (counts.metric_over_labels >= 0) {
    return MetricError(
        pos, counts.name, counts.metric_over_labels,
        absl::StrCat("label count ", counts.labels_of_that_metric,
                     " exceeds --max_labels_per_series (", limits.max_labels_per_series, ")"));
  }
  *samples += counts.samples;
  if (limits.max_samples != 0 && *samples > limits.max_samples) {
    return FamilyError(pos, absl::StrCat("number of samples exceeds --max_samples_per_push (",
                                         limits.max_samples, ")"));
  }
  return absl::OkStatus();
}

// The type number of a family whose `type` field did not parse as a known enum value: proto2
// keeps such a value among the unknown fields. Returns false when there is none.
bool UnknownTypeNumber(const client::MetricFamily& family, int64_t* number) {
  const google::protobuf::UnknownFieldSet& unknown = family.unknown_fields();
  bool found = false;
  for (int i = 0; i < unknown.field_count(); ++i) {
    const google::protobuf::UnknownField& field = unknown.field(i);
    if (field.number() == client::MetricFamily::kTypeFieldNumber &&
        field.type() == google::protobuf::UnknownField::TYPE_VARINT) {
      *number = static_cast<int64_t>(field.varint());
      found = true;  // the last one wins, as for any repeated scalar field
    }
  }
  return found;
}

bool HasNativeFields(const client::Histogram& h) {
  return h.has_schema() || h.has_zero_threshold() || h.has_zero_count() ||
         h.has_zero_count_float() || h.negative_span_size() > 0 || h.negative_delta_size() > 0 ||
         h.negative_count_size() > 0 || h.positive_span_size() > 0 || h.positive_delta_size() > 0 ||
         h.positive_count_size() > 0;
}

void CopySpans(const google::protobuf::RepeatedPtrField<client::BucketSpan>& in,
               google::protobuf::RepeatedPtrField<v1::BucketSpan>* out) {
  out->Reserve(in.size());
  for (const client::BucketSpan& span : in) {
    v1::BucketSpan* o = out->Add();
    o->set_offset(span.offset());
    o->set_length(span.length());
  }
}

void ConvertHistogram(const client::Histogram& in, v1::Histogram* out) {
  out->set_count(in.has_sample_count_float() ? in.sample_count_float()
                                             : static_cast<double>(in.sample_count()));
  out->set_sum(in.sample_sum());
  auto* buckets = out->mutable_buckets();
  buckets->Reserve(in.bucket_size());
  for (const client::Bucket& b : in.bucket()) {
    // As in the text format (and Prometheus' parsers), a bucket without a bound that orders
    // is dropped, not the push.
    if (std::isnan(b.upper_bound())) continue;
    v1::Bucket* o = buckets->Add();
    o->set_upper_bound(b.upper_bound());
    o->set_cumulative_count(b.has_cumulative_count_float()
                                ? b.cumulative_count_float()
                                : static_cast<double>(b.cumulative_count()));
  }
  const auto by_bound = [](const v1::Bucket* a, const v1::Bucket* b) {
    return a->upper_bound() < b->upper_bound();
  };
  // Clients send buckets in order; sorting the element pointers keeps the rare other case
  // cheap. NaN bounds were left out, so the order is a strict weak one.
  if (!std::is_sorted(buckets->pointer_begin(), buckets->pointer_end(), by_bound)) {
    std::stable_sort(buckets->pointer_begin(), buckets->pointer_end(), by_bound);
  }
  const bool native = HasNativeFields(in);
  if (NeedsInfBucket(buckets->size(), native,
                     buckets->empty() ? 0.0 : buckets->rbegin()->upper_bound())) {
    v1::Bucket* inf = buckets->Add();
    inf->set_upper_bound(std::numeric_limits<double>::infinity());
    inf->set_cumulative_count(out->count());
  }
  if (!native) return;
  v1::NativeHistogram* n = out->mutable_native();
  n->set_schema(in.schema());
  n->set_zero_threshold(in.zero_threshold());
  n->set_zero_count(in.has_zero_count_float() ? in.zero_count_float()
                                              : static_cast<double>(in.zero_count()));
  CopySpans(in.negative_span(), n->mutable_negative_spans());
  n->mutable_negative_deltas()->Add(in.negative_delta().begin(), in.negative_delta().end());
  n->mutable_negative_counts()->Add(in.negative_count().begin(), in.negative_count().end());
  CopySpans(in.positive_span(), n->mutable_positive_spans());
  n->mutable_positive_deltas()->Add(in.positive_delta().begin(), in.positive_delta().end());
  n->mutable_positive_counts()->Add(in.positive_count().begin(), in.positive_count().end());
}

// True when two of `labels` share a name; `*duplicate` is then the first label that repeats
// an earlier name.
bool HasDuplicateName(const google::protobuf::RepeatedPtrField<v1::Label>& labels,
                      std::string* duplicate) {
  const int n = labels.size();
  // Comparing every pair is fastest for the usual handful of labels, but quadratic: without a
  // max_labels_per_series limit one metric with 100k labels would take minutes.
  static constexpr int kPairwiseMax = 32;
  if (n <= kPairwiseMax) {
    for (int i = 1; i < n; ++i) {
      for (int j = 0; j < i; ++j) {
        if (labels[i].name() == labels[j].name()) {
          *duplicate = labels[i].name();
          return true;
        }
      }
    }
    return false;
  }
  absl::flat_hash_set<absl::string_view> seen;
  seen.reserve(n);
  for (const v1::Label& label : labels) {
    if (!seen.insert(label.name()).second) {
      *duplicate = label.name();
      return true;
    }
  }
  return false;
}

// Converts one decoded message into `out`. Takes the strings out of `in` rather than copying
// them. `series_before` is the number of series the push holds without this family.
absl::Status ConvertFamily(const Position& pos, const TextParserLimits& limits,
                           size_t series_before, client::MetricFamily* in, v1::MetricFamily* out) {
  if (in->name().empty()) return FamilyError(pos, "metric family without a name");
  if (!IsValidMetricName(in->name())) {
    return FamilyError(pos, absl::StrCat("invalid metric name ", Quote(in->name())));
  }
  // As the text parser does (and the Pushgateway accepts): help is documentation, so bytes
  // that are not UTF-8 become U+FFFD rather than failing the push.
  if (!IsValidUtf8(in->help())) in->set_help(ToValidUtf8(in->help()));
  v1::MetricType type;
  int64_t unknown_type;
  if (!in->has_type() && UnknownTypeNumber(*in, &unknown_type)) {
    return FamilyError(
        pos, absl::StrCat("unknown metric type ", unknown_type, " of ", Quote(in->name())));
  }
  if (!MapType(in->type(), &type)) {
    return FamilyError(pos, absl::StrCat("unknown metric type ", static_cast<int>(in->type()),
                                         " of ", Quote(in->name())));
  }
  if (limits.max_series != 0 &&
      series_before + static_cast<size_t>(in->metric_size()) > limits.max_series) {
    return FamilyError(pos, absl::StrCat("number of series exceeds --max_series_per_push (",
                                         limits.max_series, ")"));
  }

  out->set_name(std::move(*in->mutable_name()));
  out->set_help(std::move(*in->mutable_help()));
  out->set_type(type);
  const absl::string_view name = out->name();
  auto* series_list = out->mutable_series();
  series_list->Reserve(in->metric_size());
  for (int m = 0; m < in->metric_size(); ++m) {
    client::Metric* metric = in->mutable_metric(m);
    v1::Series* series = series_list->Add();
    // The label count was checked on the wire (CheckCounts), before the family was built.
    auto* labels = series->mutable_labels();
    labels->Reserve(metric->label_size());
    for (client::LabelPair& pair : *metric->mutable_label()) {
      if (!IsValidLabelName(pair.name())) {
        return MetricError(pos, name, m, absl::StrCat("invalid label name ", Quote(pair.name())));
      }
      if (pair.name() == "__name__") {
        return MetricError(pos, name, m, "label name \"__name__\" is reserved");
      }
      if (limits.max_label_name_length != 0 && pair.name().size() > limits.max_label_name_length) {
        return MetricError(
            pos, name, m,
            absl::StrCat("label name ", Quote(pair.name()), " exceeds --max_label_name_length (",
                         limits.max_label_name_length, ")"));
      }
      if (limits.max_label_value_length != 0 &&
          pair.value().size() > limits.max_label_value_length) {
        return MetricError(pos, name, m,
                           absl::StrCat("value of label ", Quote(pair.name()),
                                        " exceeds --max_label_value_length (",
                                        limits.max_label_value_length, ")"));
      }
      if (!IsValidUtf8(pair.value())) {
        return MetricError(
            pos, name, m,
            absl::StrCat("value of label ", Quote(pair.name()), " is not valid UTF-8"));
      }
      v1::Label* label = labels->Add();
      label->set_name(std::move(*pair.mutable_name()));
      label->set_value(std::move(*pair.mutable_value()));
    }
    std::string duplicate;
    if (HasDuplicateName(*labels, &duplicate)) {
      return MetricError(pos, name, m, absl::StrCat("duplicate label name ", Quote(duplicate)));
    }

    switch (type) {
      case v1::COUNTER:
        if (!metric->has_counter()) {
          return MetricError(pos, name, m, "a COUNTER family's metric has no counter value");
        }
        series->set_value(metric->counter().value());
        break;
      case v1::GAUGE:
        if (!metric->has_gauge()) {
          return MetricError(pos, name, m, "a GAUGE family's metric has no gauge value");
        }
        series->set_value(metric->gauge().value());
        break;
      case v1::UNTYPED:
        if (!metric->has_untyped()) {
          return MetricError(pos, name, m, "an UNTYPED family's metric has no untyped value");
        }
        series->set_value(metric->untyped().value());
        break;
      case v1::SUMMARY: {
        if (!metric->has_summary()) {
          return MetricError(pos, name, m, "a SUMMARY family's metric has no summary");
        }
        const client::Summary& in_summary = metric->summary();
        v1::Summary* summary = series->mutable_summary();
        summary->set_count(static_cast<double>(in_summary.sample_count()));
        summary->set_sum(in_summary.sample_sum());
        auto* quantiles = summary->mutable_quantiles();
        quantiles->Reserve(in_summary.quantile_size());
        for (const client::Quantile& q : in_summary.quantile()) {
          v1::Quantile* o = quantiles->Add();
          o->set_quantile(q.quantile());
          o->set_value(q.value());
        }
        break;
      }
      case v1::HISTOGRAM:
      case v1::GAUGE_HISTOGRAM: {
        if (!metric->has_histogram()) {
          return MetricError(
              pos, name, m,
              absl::StrCat("a ", v1::MetricType_Name(type), " family's metric has no histogram"));
        }
        ConvertHistogram(metric->histogram(), series->mutable_histogram());
        break;
      }
      default:
        break;  // MapType produces no other type
    }
    if (metric->has_timestamp_ms()) series->set_timestamp_ms(metric->timestamp_ms());
  }
  return absl::OkStatus();
}

// Describes why the length prefix at the start of `rest` could not be read.
std::string PrefixProblem(absl::string_view rest) {
  for (size_t i = 0; i < rest.size() && i < 10; ++i) {
    if ((static_cast<unsigned char>(rest[i]) & 0x80) == 0) break;
    if (i + 1 == rest.size()) return "truncated length prefix (the body ends inside it)";
  }
  return "malformed length prefix (not a valid varint)";
}

// The messages a decode parses into and converts through, kept per thread: cleared and
// refilled, a message keeps its sub-messages and string buffers, so after the first push
// parsing and converting mostly fill memory that is already there, and what is new costs a
// pointer bump on the arena instead of a malloc and free per label, metric and bucket.
struct Scratch {
  google::protobuf::Arena arena;
  client::MetricFamily* in = nullptr;
  v1::MetricFamily* out = nullptr;  // for the wire form
  size_t body_bytes = 0;            // decoded since the messages were made
};

// A thread's scratch is dropped after a decode once its arena holds more than this, or once
// the bodies decoded into it since it was made add up to more: every string buffer the
// messages keep came from those bodies, so this bounds what they hold too (a byte count of
// only the last body would not: each push could leave a large value in another label).
// proto3's Clear() does not keep singular sub-messages (a Series' summary or histogram) on an
// arena, so the arena also grows a little with every push until it is dropped.
constexpr size_t kKeepBytes = 1 << 20;

Scratch& ThreadScratch() {
  static thread_local Scratch scratch;
  if (scratch.in == nullptr) {
    scratch.in = google::protobuf::Arena::CreateMessage<client::MetricFamily>(&scratch.arena);
    scratch.out = google::protobuf::Arena::CreateMessage<v1::MetricFamily>(&scratch.arena);
  }
  return scratch;
}

void ReleaseScratch(absl::string_view body, Scratch* scratch) {
  scratch->body_bytes += body.size();
  if (scratch->body_bytes > kKeepBytes || scratch->arena.SpaceUsed() > kKeepBytes) {
    scratch->in = nullptr;
    scratch->out = nullptr;
    scratch->body_bytes = 0;
    scratch->arena.Reset();
  }
}

// Where Decode puts the families it converts: `Begin` gives the message to convert the next
// one into, `Commit` keeps it (in the place of the earlier family of its name, the slot
// `earlier`, or else after the others) and returns its slot and a view of its name that
// stays valid until the decode ends; `SeriesOf` is the number of series in a slot.

// Appends families to a repeated field as messages. A slot is an index in it.
class MessageSink {
 public:
  explicit MessageSink(google::protobuf::RepeatedPtrField<v1::MetricFamily>* out) : out_(out) {}

  v1::MetricFamily* Begin() { return out_->Add(); }
  size_t SeriesOf(int slot) const { return static_cast<size_t>((*out_)[slot].series_size()); }
  absl::string_view Commit(int earlier, int* slot) {
    *slot = out_->size() - 1;
    if (earlier >= 0) {
      out_->SwapElements(earlier, *slot);
      out_->RemoveLast();
      *slot = earlier;
    }
    return (*out_)[*slot].name();
  }

 private:
  google::protobuf::RepeatedPtrField<v1::MetricFamily>* out_;
};

// Appends families to a string as PushRequest.families entries. Every family is converted
// into the same scratch message and written out at once, so nothing is built for the push
// as a whole (see DecodeProtobufPushToWire). A slot is an index in entries_.
class WireSink {
 public:
  WireSink(v1::MetricFamily* scratch, std::string* out)
      : family_(scratch), out_(out), start_(out->size()) {}

  v1::MetricFamily* Begin() {
    family_->Clear();
    return family_;
  }
  size_t SeriesOf(int slot) const { return entries_[slot].series; }
  absl::string_view Commit(int earlier, int* slot) {
    const size_t offset = out_->size();
    const size_t length = family_->ByteSizeLong();
    uint8_t prefix[1 + 10];
    prefix[0] = kFamiliesTag;
    const size_t prefix_size =
        google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(length, prefix + 1) - prefix;
    out_->append(reinterpret_cast<const char*>(prefix), prefix_size);
    out_->resize(offset + prefix_size + length);
    family_->SerializeWithCachedSizesToArray(
        reinterpret_cast<uint8_t*>(&(*out_)[offset + prefix_size]));
    const size_t size = prefix_size + length;
    const size_t series = static_cast<size_t>(family_->series_size());
    if (earlier < 0) {
      *slot = static_cast<int>(entries_.size());
      // A copy: the scratch message keeps its buffer for the next family.
      entries_.push_back({family_->name(), offset, size, series});
      return entries_.back().name;
    }
    // Rare (a client that sends one family twice): the earlier entry's bytes are left where
    // they are, dead, and Finish puts the new ones in their place. Splicing them in here
    // would move everything after them, for every repeat: quadratic in a hostile body.
    Entry& entry = entries_[earlier];
    entry.offset = offset;
    entry.size = size;
    entry.series = series;
    replaced_ = true;
    *slot = earlier;
    return entry.name;  // the same name
  }

  // After a successful decode: drops the bytes of replaced families, writing the entries in
  // their slots' order.
  void Finish() {
    if (!replaced_) return;
    std::string compact(*out_, 0, start_);
    for (const Entry& entry : entries_) compact.append(*out_, entry.offset, entry.size);
    out_->swap(compact);
  }

 private:
  // PushRequest.families: field 4, length-delimited.
  static constexpr char kFamiliesTag = (4 << 3) | 2;

  struct Entry {
    std::string name;
    size_t offset;  // in *out_, of the tag
    size_t size;    // tag, length and message
    size_t series;
  };

  v1::MetricFamily* family_;
  std::string* out_;
  const size_t start_;  // out_'s size before the decode
  bool replaced_ = false;
  // A deque, so that the names the decoder's index views do not move.
  std::deque<Entry> entries_;
};

// Decodes `body` into `sink`; `*series` is the number of series the push keeps.
template <typename Sink>
absl::Status Decode(absl::string_view body, const TextParserLimits& limits,
                    client::MetricFamily* scratch, Sink* sink, size_t* series_out) {
  if (body.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("protobuf body of ", body.size(), " bytes is too large to decode"));
  }
  const int size = static_cast<int>(body.size());
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(body.data()), size);
  client::MetricFamily& family = *scratch;  // one message reused for every family
  // Families of this push by name, for the last-one-wins rule; the keys view names the sink
  // keeps.
  absl::flat_hash_map<absl::string_view, int> slot_by_name;
  size_t series = 0;
  size_t samples = 0;
  Position pos{0, 0};
  while (input.CurrentPosition() < size) {
    ++pos.family_index;
    pos.offset = static_cast<size_t>(input.CurrentPosition());
    uint64_t length;
    if (!input.ReadVarint64(&length)) {
      return FamilyError(pos, PrefixProblem(body.substr(pos.offset)));
    }
    const uint64_t left = static_cast<uint64_t>(size - input.CurrentPosition());
    if (length > left) {
      return FamilyError(pos, absl::StrCat("message length ", length, " exceeds the ", left,
                                           " bytes left in the body"));
    }
    // The limits first, on counts read off the wire, before any message is built.
    const protobuf_decoder_internal::FamilyCounts counts = protobuf_decoder_internal::CountFamily(
        body.substr(static_cast<size_t>(input.CurrentPosition()), static_cast<size_t>(length)),
        limits.max_labels_per_series);
    absl::Status counted = CheckCounts(pos, limits, counts, &samples);
    if (!counted.ok()) return counted;
    const auto limit = input.PushLimit(static_cast<int>(length));
    family.Clear();
    if (!family.MergePartialFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
      return FamilyError(pos, absl::StrCat("message of ", length,
                                           " bytes is not a valid MetricFamily (bad wire data)"));
    }
    input.PopLimit(limit);

    auto earlier = slot_by_name.find(family.name());
    size_t series_before = series;
    if (earlier != slot_by_name.end()) series_before -= sink->SeriesOf(earlier->second);
    v1::MetricFamily* converted = sink->Begin();
    absl::Status status = ConvertFamily(pos, limits, series_before, &family, converted);
    if (!status.ok()) return status;
    series = series_before + static_cast<size_t>(converted->series_size());
    int slot;
    if (earlier == slot_by_name.end()) {
      const absl::string_view name = sink->Commit(-1, &slot);
      slot_by_name.emplace(name, slot);
    } else {
      // The earlier family's name may be the key's storage; re-key on the one the sink
      // keeps now.
      const int earlier_slot = earlier->second;
      slot_by_name.erase(earlier);
      const absl::string_view name = sink->Commit(earlier_slot, &slot);
      slot_by_name.emplace(name, slot);
    }
  }
  *series_out = series;
  return absl::OkStatus();
}

}  // namespace

bool IsDelimitedProtobuf(absl::string_view content_type) {
  absl::string_view rest = content_type;
  const size_t semicolon = rest.find(';');
  absl::string_view media_type =
      absl::StripAsciiWhitespace(rest.substr(0, std::min(semicolon, rest.size())));
  rest.remove_prefix(std::min(semicolon, rest.size()));
  {
    absl::string_view t = media_type;
    if (ConsumeToken(&t).empty() || t.empty() || t.front() != '/') return false;
    t.remove_prefix(1);
    if (ConsumeToken(&t).empty() || !t.empty()) return false;
  }
  if (!absl::EqualsIgnoreCase(media_type, "application/vnd.google.protobuf")) return false;

  bool proto_ok = false, encoding_ok = false;
  std::vector<std::string> names;  // lower-cased, to refuse a repeated one as Go does
  std::string value;
  while (true) {
    SkipSpace(&rest);
    if (rest.empty()) break;
    if (rest.front() != ';') return false;
    rest.remove_prefix(1);
    SkipSpace(&rest);
    if (rest.empty()) break;  // a trailing ';'
    std::string name = absl::AsciiStrToLower(ConsumeToken(&rest));
    if (name.empty()) return false;
    SkipSpace(&rest);
    if (rest.empty() || rest.front() != '=') return false;
    rest.remove_prefix(1);
    SkipSpace(&rest);
    if (!ConsumeValue(&rest, &value)) return false;
    if (std::find(names.begin(), names.end(), name) != names.end()) return false;
    if (name == "proto") proto_ok = value == "io.prometheus.client.MetricFamily";
    if (name == "encoding") encoding_ok = value == "delimited";
    names.push_back(std::move(name));
  }
  return proto_ok && encoding_ok;
}

absl::Status DecodeProtobufPush(absl::string_view body, const TextParserLimits& limits,
                                google::protobuf::RepeatedPtrField<v1::MetricFamily>* out) {
  const int original_size = out->size();
  Scratch& scratch = ThreadScratch();
  MessageSink sink(out);
  size_t series;
  absl::Status status = Decode(body, limits, scratch.in, &sink, &series);
  ReleaseScratch(body, &scratch);
  if (!status.ok()) out->DeleteSubrange(original_size, out->size() - original_size);
  return status;
}

absl::Status DecodeProtobufPushToWire(absl::string_view body, const TextParserLimits& limits,
                                      std::string* out, size_t* series) {
  size_t fast_series;
  if (protobuf_decoder_internal::TranscodeCommonPush(body, limits, out, &fast_series)) {
    if (series != nullptr) *series = fast_series;
    return absl::OkStatus();
  }
  const size_t original_size = out->size();
  Scratch& scratch = ThreadScratch();
  WireSink sink(scratch.out, out);
  size_t total_series = 0;
  absl::Status status = Decode(body, limits, scratch.in, &sink, &total_series);
  ReleaseScratch(body, &scratch);
  if (!status.ok()) {
    out->resize(original_size);
    return status;
  }
  sink.Finish();
  if (series != nullptr) *series = total_series;
  return status;
}

}  // namespace pushgate
