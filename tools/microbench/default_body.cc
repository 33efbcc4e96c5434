#include "tools/microbench/default_body.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace pushgate {

std::string BenchDefaultBody() {
  std::string body;
  const auto family = [&body](absl::string_view name, absl::string_view help,
                              absl::string_view type) {
    absl::StrAppend(&body, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  };
  // One sample per (first, second) pair for each third label value, as bodies.py nests them.
  using Pair = std::pair<const char*, const char*>;
  const auto counter = [&](absl::string_view name, absl::string_view help,
                           std::vector<const char*> outer, std::vector<Pair> inner,
                           const char* outer_label, const char* first_label,
                           const char* second_label, bool outer_first, auto value) {
    family(name, help, "counter");
    int i = 0;
    for (const char* o : outer) {
      for (const Pair& p : inner) {
        if (outer_first) {
          absl::StrAppend(&body, name, "{", outer_label, "=\"", o, "\",", first_label, "=\"",
                          p.first, "\",", second_label, "=\"", p.second, "\"} ", value(i), "\n");
        } else {
          absl::StrAppend(&body, name, "{", first_label, "=\"", p.first, "\",", outer_label, "=\"",
                          o, "\",", second_label, "=\"", p.second, "\"} ", value(i), "\n");
        }
        ++i;
      }
    }
  };
  const std::vector<const char*> handlers = {"/items", "/orders", "/users", "/health"};
  counter("http_requests_total", "HTTP requests served.", handlers,
          {{"GET", "200"}, {"GET", "404"}, {"POST", "201"}, {"POST", "500"}}, "handler", "method",
          "code", false, [](int i) { return absl::StrCat(1000 * (i + 1) + 7); });
  counter("http_errors_total", "HTTP requests that failed.", handlers,
          {{"GET", "timeout"}, {"POST", "validation"}}, "handler", "method", "reason", false,
          [](int i) { return absl::StrCat(3 * (i + 1)); });
  counter("rpc_calls_total", "Outgoing RPCs.",
          {"billing", "inventory", "search", "auth", "shipping"},
          {{"Get", "OK"}, {"List", "UNAVAILABLE"}}, "service", "method", "status", true,
          [](int i) { return absl::StrCat(250 * (i + 1), ".5"); });
  counter("cache_ops_total", "Cache operations.", {"sessions", "catalog"},
          {{"get", "hit"}, {"get", "miss"}, {"set", "ok"}}, "cache", "op", "result", true,
          [](int i) { return absl::StrCat(12345 + i); });

  const auto plain_gauge = [&](absl::string_view name, absl::string_view help,
                               absl::string_view value) {
    family(name, help, "gauge");
    absl::StrAppend(&body, name, " ", value, "\n");
  };
  plain_gauge("process_rss_bytes", "Resident memory size in bytes.", "210000000");
  plain_gauge("process_open_fds", "Open file descriptors.", "87");
  plain_gauge("process_start_time_seconds", "Start time since the epoch.", "1764000000.25");
  plain_gauge("worker_threads", "Worker threads running.", "16");
  const auto labelled_gauge = [&](absl::string_view name, absl::string_view help,
                                  absl::string_view label, std::vector<const char*> values,
                                  auto value) {
    family(name, help, "gauge");
    for (size_t i = 0; i < values.size(); ++i) {
      absl::StrAppend(&body, name, "{", label, "=\"", values[i], "\"} ", value(i), "\n");
    }
  };
  labelled_gauge("queue_depth", "Items waiting, by queue.", "queue",
                 {"ingest", "email", "export", "reindex", "thumbnails", "webhooks"},
                 [](int i) { return i * 3 + 1; });
  labelled_gauge("connection_pool_in_use", "Connections checked out, by pool.", "pool",
                 {"primary", "replica", "cache", "search"}, [](int i) { return i + 2; });
  labelled_gauge("job_last_success_seconds", "Last successful run, by job.", "job_name",
                 {"compact", "backup", "rollup", "gc", "report", "sync"},
                 [](int i) { return 1764000000 + i * 60; });

  struct Histogram {
    const char* name;
    const char* help;
    const char* label;
  };
  const Histogram histograms[] = {
      {"http_latency_seconds", "Request latency.", "handler=\"/items\""},
      {"rpc_latency_seconds", "RPC latency.", "service=\"auth\""},
      {"batch_duration_seconds", "Batch run time.", "job_name=\"gc\""},
  };
  const char* bounds[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                          "0.5",   "1",    "2.5",   "5",    "10",  "30"};
  for (int k = 0; k < 3; ++k) {
    const Histogram& h = histograms[k];
    family(h.name, h.help, "histogram");
    int running = 0;
    for (int i = 0; i < 12; ++i) {
      running += (i + 1) * (k + 3);
      absl::StrAppend(&body, h.name, "_bucket{", h.label, ",le=\"", bounds[i], "\"} ", running,
                      "\n");
    }
    absl::StrAppend(&body, h.name, "_bucket{", h.label, ",le=\"+Inf\"} ", running + 5, "\n");
    absl::StrAppend(&body, h.name, "_sum{", h.label, "} ", 1234 + k, ".5\n");
    absl::StrAppend(&body, h.name, "_count{", h.label, "} ", running + 5, "\n");
  }
  return body;
}

}  // namespace pushgate
