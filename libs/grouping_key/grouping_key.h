// The grouping key of a push, read from the URL path the way the Prometheus Pushgateway
// (1.5.1) reads it, so that clients see the same answers and error texts from pushgate.
//
// A push path is `<prefix>/metrics/job/<JOB>{/<NAME>/<VALUE>}`, where `job` and any `<NAME>`
// may carry an `@base64` suffix that marks the value as URL-safe base64. The front first
// percent-decodes the whole path (PercentDecodePath, as Go's net/url does for r.URL.Path, so a
// `%2F` becomes a segment separator), strips `<prefix>/metrics/`, and hands the rest to
// ParseGroupingKey.
#ifndef PUSHGATE_LIBS_GROUPING_KEY_GROUPING_KEY_H_
#define PUSHGATE_LIBS_GROUPING_KEY_GROUPING_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/ingest.pb.h"

namespace pushgate {

// Decodes every `%XX` escape (hex digits of either case) in a URL path. `+` stays `+` (it
// means a space only in query strings). A `%` not followed by two hex digits is
// InvalidArgument `invalid URL escape "%zz"`, quoting up to three bytes from the `%`, as Go's
// url.EscapeError does.
absl::StatusOr<std::string> PercentDecodePath(absl::string_view raw_path);

// Parses the grouping key from the percent-decoded path that follows `<prefix>/metrics/`, e.g.
// `job/myjob/instance@base64/aG9zdA` or `job@base64/=`.
//
// Returns NotFound if the path is not a push route at all: it must start with `job/` or
// `job@base64/`. Otherwise every problem is InvalidArgument with the Pushgateway's message,
// checked in the Pushgateway's order:
//   1. a `job@base64` value that is not base64:
//      `invalid base64 encoding in job name "<raw value>": illegal base64 data at input byte N`
//      (the Pushgateway quotes its partly decoded output here; pushgate quotes what was sent);
//   2. an odd number of `/`-separated components after the job:
//      `odd number of components in label string "/a/b/c"` (the string keeps its leading `/`);
//   3. a name that is not `[a-zA-Z_][a-zA-Z0-9_]*` or starts with `__`, checked after removing
//      one `@base64` suffix: `improper label name "<name>"`;
//   4. a `<NAME>@base64` value that is not base64:
//      `invalid base64 encoding for label <name>="<raw value>": illegal base64 data at input
//      byte N`;
//   5. an empty job (also `job@base64/=`): `job name is required`;
//   6. a job or label value that is not UTF-8 (after base64 decoding; a value the key does
//      not keep, such as an overridden `job` label, is not checked):
//      `invalid UTF-8 in job name "<job>"`, `invalid UTF-8 in value of label <name>="<value>"`.
//      The key is a proto3 message, whose strings must be UTF-8; the Pushgateway refuses such
//      a push too, in its consistency check, with a message about the whole metric.
// Quoting follows Go's %q (backslash escapes for quotes, backslashes and control bytes).
//
// base64 is the URL-safe alphabet of RFC 4648 §5 without padding; trailing `=` are removed
// first (so padding is optional and `=` alone is the empty string), `\r` and `\n` are skipped,
// and unused trailing bits are ignored, all as Go's base64.RawURLEncoding does.
//
// The result has the job in `job` and the other labels sorted by name. A name given more than
// once keeps its last value; a `job` (or `job@base64`) pair in the label path is overridden by
// the job segment. A trailing `/` after the job is allowed (`job/j/` has no labels). Empty
// values are kept: `a/` (in `job/j/a/`) is the label a="".
absl::StatusOr<pushgate::v1::GroupingKey> ParseGroupingKey(absl::string_view path);

// A canonical, unambiguous text for a key, for map keys and logs: equal keys (same job, same
// set of labels in any order) give equal strings and different keys different strings. The
// form is `{job="myjob",instance="host1"}`: job first, then the labels sorted by name, values
// quoted with `\\`, `\"` and `\n` escaped.
std::string CanonicalGroupingKey(const pushgate::v1::GroupingKey& key);

}  // namespace pushgate

#endif  // PUSHGATE_LIBS_GROUPING_KEY_GROUPING_KEY_H_
