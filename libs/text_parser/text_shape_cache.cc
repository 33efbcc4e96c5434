#include "libs/text_parser/text_shape_cache.h"

#include <algorithm>
#include <atomic>
#include <list>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "libs/text_parser/internal/text_shape.h"

namespace pushgate {

using ::pushgate::text_parser_internal::ParseAndMakeShape;
using ::pushgate::text_parser_internal::SameSkeleton;
using ::pushgate::text_parser_internal::TextShape;
using ::pushgate::text_parser_internal::WriteFromShape;

class TextShapeCache::Impl {
 public:
  Impl(const TextParserLimits& limits, size_t max_bytes) : limits_(limits), max_bytes_(max_bytes) {}

  absl::Status ParseToWire(absl::string_view group, absl::string_view body, std::string* out,
                           size_t* series) {
    // A body too large to keep a shape of is parsed (a shape holds the body, its encoding and
    // 16 bytes per sample line: at least twice the body, often 2.5 times; the shape's own size
    // is checked once made); so is every body when nothing is kept.
    if (max_bytes_ == 0 || body.size() > MaxShapeBody()) {
      Count(&misses_);
      return ParseTextToWire(body, limits_, out, series);
    }
    std::shared_ptr<const TextShape> own;
    std::shared_ptr<const TextShape> last;
    bool seen = true;
    {
      absl::MutexLock lock(&mu_);
      auto found = index_.find(group);
      if (found != index_.end()) {
        groups_.splice(groups_.begin(), groups_, found->second);  // now the most recent
        own = found->second->shape;
      } else {
        seen = SeenBefore(absl::HashOf(group));
      }
      last = last_shape_;
    }
    // The texts are compared outside the lock: shapes are never changed once made.
    if (own != nullptr && WriteFromShape(*own, body, out, series)) {
      Count(&hits_);
      return absl::OkStatus();
    }
    // Many groups push the same metrics (one per instance of a service): a group without a
    // shape that fits tries the one made or shared last before its push is parsed. A group is
    // kept with it from its second push, so groups that come once (a run id in the grouping
    // key) do not push recurring ones out.
    if (last != nullptr && last != own && WriteFromShape(*last, body, out, series)) {
      Count(&hits_);
      if (seen) {
        absl::MutexLock lock(&mu_);
        Keep(group, std::move(last));
      }
      return absl::OkStatus();
    }
    Count(&misses_);
    // A shape is made the second time a group comes: making one costs about a tenth of a parse
    // more, which groups that never come back would pay on every push.
    bool admit = false;
    if (seen) {
      absl::MutexLock lock(&mu_);
      admit = Admit();
    }
    if (!admit) return ParseTextToWire(body, limits_, out, series);
    auto made = std::make_shared<TextShape>();
    absl::Status status = ParseAndMakeShape(body, limits_, out, series, made.get());
    if (!status.ok() || made->bytes() > max_bytes_ / kMaxShapeFraction) return status;
    // Another group may have the same text (but for values) under a shape of its own, made when
    // another shape was the last one: share that one. Compared outside the lock.
    std::shared_ptr<const TextShape> twin;
    {
      absl::MutexLock lock(&mu_);
      auto found = by_skeleton_.find(made->skeleton_hash);
      if (found != by_skeleton_.end()) twin = found->second;
    }
    const bool shared = twin != nullptr && SameSkeleton(*twin, *made);
    std::shared_ptr<const TextShape> kept = shared ? std::move(twin) : std::move(made);
    absl::MutexLock lock(&mu_);
    if (!shared) last_made_bytes_ = kept->bytes();
    last_shape_ = kept;
    Keep(group, std::move(kept));
    return absl::OkStatus();
  }

  Stats stats() const {
    Stats stats;
    stats.hits = hits_.load(std::memory_order_relaxed);
    stats.misses = misses_.load(std::memory_order_relaxed);
    stats.evictions = evictions_.load(std::memory_order_relaxed);
    absl::MutexLock lock(&mu_);
    stats.groups = index_.size();
    stats.shapes = refs_.size();
    stats.bytes = bytes_;
    return stats;
  }

 private:
  // A shape larger than this fraction of the cache is not kept: one huge push must not push out
  // every group.
  static constexpr size_t kMaxShapeFraction = 16;
  // Shapes record offsets as 32-bit numbers; bodies stay well below that whatever the flag.
  static constexpr size_t kMaxShapeBodyBytes = size_t{1} << 30;

  // The largest body whose shape is made.
  size_t MaxShapeBody() const {
    return std::min(max_bytes_ / kMaxShapeFraction / 2, kMaxShapeBodyBytes);
  }
  // Bytes of a group's entry beyond its name: the list node and the index slot, roughly.
  static constexpr size_t kEntryOverhead = 64;
  // The record of groups seen once is cleared at this many (about 1 MiB).
  static constexpr size_t kMaxSeen = 64 << 10;
  // Once full, one new shape in this many is let in.
  static constexpr uint64_t kAdmitOneIn = 16;

  struct Group {
    std::string name;
    std::shared_ptr<const TextShape> shape;
  };

  static void Count(std::atomic<uint64_t>* counter) {
    counter->fetch_add(1, std::memory_order_relaxed);
  }

  static size_t EntryBytes(const Group& group) {
    return sizeof(Group) + group.name.capacity() + kEntryOverhead;
  }

  // Whether a group with this hash came since the record was last cleared; records it.
  bool SeenBefore(size_t hash) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (seen_.size() >= kMaxSeen) seen_.clear();
    return !seen_.insert(hash).second;
  }

  // Whether to make a shape. Always while there is room; once full, one in kAdmitOneIn, each
  // pushing out the least recently used groups: when more shapes recur than fit, making one
  // for every push would push each out before its group came back.
  bool Admit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (bytes_ + last_made_bytes_ <= max_bytes_) return true;
    return ++admissions_asked_ % kAdmitOneIn == 0;
  }

  // Makes `shape` the group's, and the group the most recently used.
  void Keep(absl::string_view name, std::shared_ptr<const TextShape> shape)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto found = index_.find(name);
    if (found != index_.end()) {
      Group& group = *found->second;
      groups_.splice(groups_.begin(), groups_, found->second);
      if (group.shape == shape) return;
      Release(group.shape.get());
      AddRef(shape);
      group.shape = std::move(shape);
    } else {
      groups_.push_front(Group{std::string(name), std::move(shape)});
      Group& group = groups_.front();
      index_.emplace(group.name, groups_.begin());
      bytes_ += EntryBytes(group);
      AddRef(group.shape);
    }
    // The group just kept is the front, and stays.
    while (bytes_ > max_bytes_ && groups_.size() > 1) {
      Group& oldest = groups_.back();
      bytes_ -= EntryBytes(oldest);
      Release(oldest.shape.get());
      index_.erase(oldest.name);
      groups_.pop_back();
      Count(&evictions_);
    }
  }

  // A shape's bytes count once, however many groups share it.
  void AddRef(const std::shared_ptr<const TextShape>& shape) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = refs_.try_emplace(shape.get(), 0);
    if (inserted) {
      bytes_ += shape->bytes();
      by_skeleton_.try_emplace(shape->skeleton_hash, shape);  // a live twin keeps its place
    }
    ++it->second;
  }

  void Release(const TextShape* shape) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = refs_.find(shape);
    if (--it->second != 0) return;
    bytes_ -= shape->bytes();
    refs_.erase(it);
    // Not kept by any group, so not by the cache either.
    auto twin = by_skeleton_.find(shape->skeleton_hash);
    if (twin != by_skeleton_.end() && twin->second.get() == shape) by_skeleton_.erase(twin);
    if (last_shape_.get() == shape) last_shape_.reset();
  }

  const TextParserLimits limits_;
  const size_t max_bytes_;

  mutable absl::Mutex mu_;
  // Most recently used first; index_'s keys point into the names.
  std::list<Group> groups_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<absl::string_view, std::list<Group>::iterator> index_ ABSL_GUARDED_BY(mu_);
  // How many groups hold each shape.
  absl::flat_hash_map<const TextShape*, size_t> refs_ ABSL_GUARDED_BY(mu_);
  // The shapes held, by skeleton hash (one per hash).
  absl::flat_hash_map<size_t, std::shared_ptr<const TextShape>> by_skeleton_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const TextShape> last_shape_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<size_t> seen_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t last_made_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t admissions_asked_ ABSL_GUARDED_BY(mu_) = 0;

  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> evictions_{0};
};

TextShapeCache::TextShapeCache(const TextParserLimits& limits, size_t max_bytes)
    : impl_(std::make_unique<Impl>(limits, max_bytes)) {}

TextShapeCache::~TextShapeCache() = default;

absl::Status TextShapeCache::ParseToWire(absl::string_view group, absl::string_view body,
                                         std::string* out, size_t* series) {
  return impl_->ParseToWire(group, body, out, series);
}

TextShapeCache::Stats TextShapeCache::stats() const { return impl_->stats(); }

}  // namespace pushgate
