// A cache of text pushes' shapes, so that a push whose text is the same as an earlier one's
// but for its values is written without being parsed. Pushgateway clients are cron jobs and
// services that push the same metrics over and over, each time with new values: the front
// parses such a push by comparing its text with the last push to the group and reading only
// the numbers (libs/text_parser/internal/text_shape.h says why that is exact).
//
// Thread-safe: the front's HTTP threads share one cache.
#ifndef PUSHGATE_LIBS_TEXT_PARSER_TEXT_SHAPE_CACHE_H_
#define PUSHGATE_LIBS_TEXT_PARSER_TEXT_SHAPE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/text_parser/text_parser.h"

namespace pushgate {

class TextShapeCache {
 public:
  // Every parse through the cache uses `limits`. Keeps at most about `max_bytes` of shapes
  // (about the body and its encoding, per distinct shape, and the group's name per group);
  // 0 keeps nothing, and every push is parsed. A group's shape is made the second time the
  // group pushes; groups whose pushes differ only in their values share one shape. Once the
  // cache is full, one new shape in 16 gets in, pushing out the least recently used groups.
  TextShapeCache(const TextParserLimits& limits, size_t max_bytes);
  ~TextShapeCache();
  TextShapeCache(const TextShapeCache&) = delete;
  TextShapeCache& operator=(const TextShapeCache&) = delete;

  // Does exactly what ParseTextToWire(body, limits, out, series) does: the same status, the
  // same bytes appended, `out` untouched on error. `group` says where the push goes (the front
  // passes the grouping key's URL path); a group's pushes are expected to share their text.
  absl::Status ParseToWire(absl::string_view group, absl::string_view body, std::string* out,
                           size_t* series = nullptr);

  struct Stats {
    uint64_t hits = 0;       // pushes written from a shape
    uint64_t misses = 0;     // pushes parsed
    uint64_t evictions = 0;  // groups dropped to stay within max_bytes
    size_t groups = 0;
    size_t shapes = 0;
    size_t bytes = 0;
  };
  Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_TEXT_PARSER_TEXT_SHAPE_CACHE_H_
