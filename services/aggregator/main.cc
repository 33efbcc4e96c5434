// pushgate-aggregator: receives pushes over the gRPC ingest API, names and converts them,
// batches them and uploads them to the configured backends. Wiring only: flags -> sinks and
// uploaders (libs/uploader), the PushPipeline (libs/pipeline) behind an IngestServer, and a
// small HTTP endpoint for health and self metrics.
#include <limits.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "libs/build_info/build_info.h"
#include "libs/http_server/http_server.h"
#include "libs/ingest_server/ingest_server.h"
#include "libs/pipeline/pipeline.h"
#include "libs/remote_write/remote_write.h"
#include "libs/self_metrics/self_metrics.h"
#include "libs/service_util/service_util.h"
#include "libs/spool/spool.h"
#include "libs/uploader/uploader.h"

ABSL_FLAG(std::string, grpc_listen, "0.0.0.0:9092", "gRPC address of the ingest API.");
ABSL_FLAG(int, ingest_threads, 1,
          "Threads that serve ingest streams (at least 1); each stream stays on one. With one "
          "producer connected a thread reads, checks and spools its pushes itself, with no "
          "hand-off; with several, the spool's own thread commits while it reads the others' "
          "messages. More than one thread spreads the checking of many producers' pushes over "
          "cores, at the cost of gRPC handing reads between the threads.");
ABSL_FLAG(std::string, http_listen, "0.0.0.0:9093",
          "HTTP address for /-/healthy, /-/ready and /metrics.");
ABSL_FLAG(std::string, measurement_name, "",
          "Put every point in this measurement (env ENV_INPUT_PUSHGATEWAY_MEASUREMENT_NAME).");
ABSL_FLAG(bool, job_as_measurement, false,
          "Use the push's job as the measurement (env ENV_INPUT_PUSHGATEWAY_JOB_AS_MEASUREMENT).");
ABSL_FLAG(bool, keep_exist_metric_name, true,
          "Field names keep the whole metric name (env "
          "ENV_INPUT_PUSHGATEWAY_KEEP_EXIST_METRIC_NAME).");
ABSL_FLAG(bool, honor_timestamps, true,
          "Use samples' own timestamps (env ENV_INPUT_PUSHGATEWAY_HONOR_TIMESTAMPS).");
ABSL_FLAG(std::string, upload_url, "",
          "Where points go: http(s)://... (POST) or file:///path (append). Repeat the flag to "
          "fan out to several backends, each with its own queue. Empty: the embedded default, "
          "a line-protocol file under --data_dir.");
ABSL_FLAG(int64_t, file_sink_max_bytes, int64_t{256} << 20,
          "The default sink's points.lp (and, when this flag is given, a file:// backend's "
          "file) becomes <file>.1, replacing the one before, when the next batch would take it "
          "past this, so the two stay within about twice it. 0 = the file only grows. Any file "
          "sink's file moved or deleted by another program (logrotate) is made again.");
ABSL_FLAG(std::string, upload_format, "lineproto",
          "lineproto (DataKit-named points) or remote_write (Prometheus remote write 1.0).");
ABSL_FLAG(bool, upload_gzip, true, "gzip line-protocol upload bodies (Content-Encoding: gzip).");
ABSL_FLAG(std::string, upload_gzip_level, "fast",
          "How gzip upload bodies are compressed: fast (pushgate's own encoder: about zlib "
          "level 1's size on line protocol in about half its CPU time) or a zlib level, 1-9.");
ABSL_FLAG(std::string, upload_token, "",
          "Sent as 'Authorization: Token <t>' (InfluxDB 2.x); env PUSHGATE_UPLOAD_TOKEN.");
ABSL_FLAG(absl::Duration, upload_timeout, absl::Seconds(10), "Timeout of one upload request.");
ABSL_FLAG(absl::Duration, upload_backoff_max, absl::Seconds(5),
          "Longest wait between retries of a failed upload: delays double from 100 ms up to it, "
          "with jitter (a backend's Retry-After is honoured instead, up to 5 minutes). While a "
          "backend is down, its return can go unnoticed this long, and the spool keeps filling "
          "meanwhile.");
ABSL_FLAG(absl::Duration, flush_interval, absl::Seconds(1),
          "Longest time points wait in a batch before it is uploaded.");
ABSL_FLAG(int64_t, batch_max_points, 5000, "Upload a batch once it has this many points.");
ABSL_FLAG(int64_t, batch_max_bytes, 1 << 20,
          "Upload a batch once it has this many bytes (before compression).");
ABSL_FLAG(std::string, data_dir, "pushgate-data",
          "Directory for the aggregator's files: the spool (unless --spool_dir) and the "
          "embedded default sink's points.lp.");
ABSL_FLAG(std::string, spool_dir, "",
          "Write-ahead log of acknowledged pushes; default <data_dir>/spool.");
ABSL_FLAG(std::string, spool_fsync, "batch",
          "When a push counts as durable: batch (group commit), always, never.");
ABSL_FLAG(int64_t, spool_max_bytes, int64_t{1} << 30,
          "Undelivered bytes the spool may hold; beyond it pushes are refused (503).");
ABSL_FLAG(int64_t, spool_segment_bytes, 64 << 20, "Size of one spool segment file.");
ABSL_FLAG(int64_t, spool_prefill_bytes, 1 << 20,
          "Zeros written ahead of the spool's records in steps of this size, so that a group "
          "commit's fdatasync need not also write the file's new size (about half the sync "
          "time); each spool byte then reaches the disk twice. 0 turns it off.");
ABSL_FLAG(int64_t, conversion_cache_bytes, 32 << 20,
          "Memory for the line templates of pushes whose shape (group, families, series, "
          "labels, bucket bounds) comes again: such a push is then written without sorting and "
          "escaping its tags again, in about half the CPU time. About 13 KiB per group of 100 "
          "series; least recently pushed shapes are dropped beyond it. 0 turns it off.");
ABSL_FLAG(int64_t, upload_queue_max_bytes, int64_t{64} << 20,
          "Line protocol (or remote write) held in memory per backend, waiting for upload; "
          "while a backend holds this much the spool is not read for it, so a slow or absent "
          "backend fills the spool on disk, not memory.");
ABSL_FLAG(int64_t, max_converted_bytes_per_push, int64_t{512} << 20,
          "Largest output one push may convert to, as bounded before it is accepted from its "
          "points and the labels each carries (grouping key, info labels, its series' labels, "
          "names): a push over it is refused (the front answers 400) and not stored. A label "
          "written once is copied onto every point made from it, so a small push could "
          "otherwise expand to more than the aggregator's memory. 0 = no limit.");
ABSL_FLAG(int, background_nice, 10,
          "Nice value (0-19) of the threads that convert, compress and upload spooled pushes, "
          "so that acknowledging new pushes gets the CPU first; those threads still use all "
          "idle CPU. When the CPU is saturated for long, the spool takes up the difference and "
          "pushes are refused (503) once it is full. 0 keeps normal priority.");

namespace pushgate {
namespace {

absl::StatusOr<ConversionOptions> ConversionOptionsFromFlags() {
  ConversionOptions options;
  options.naming.measurement_name =
      StringFlagOrEnv("measurement_name", "ENV_INPUT_PUSHGATEWAY_MEASUREMENT_NAME");
  absl::StatusOr<bool> job_as_measurement =
      BoolFlagOrEnv("job_as_measurement", "ENV_INPUT_PUSHGATEWAY_JOB_AS_MEASUREMENT");
  absl::StatusOr<bool> keep =
      BoolFlagOrEnv("keep_exist_metric_name", "ENV_INPUT_PUSHGATEWAY_KEEP_EXIST_METRIC_NAME");
  absl::StatusOr<bool> honor =
      BoolFlagOrEnv("honor_timestamps", "ENV_INPUT_PUSHGATEWAY_HONOR_TIMESTAMPS");
  for (const auto* value : {&job_as_measurement, &keep, &honor}) {
    if (!value->ok()) return value->status();
  }
  options.naming.job_as_measurement = *job_as_measurement;
  options.naming.keep_exist_metric_name = *keep;
  options.honor_timestamps = *honor;
  return options;
}

// The numeric flags' ranges: the first one out of range, if any.
absl::Status CheckNumericFlags() {
  return FirstError({
      CheckFlagInRange("ingest_threads", absl::GetFlag(FLAGS_ingest_threads), 1, 256),
      CheckFlagInRange("batch_max_points", absl::GetFlag(FLAGS_batch_max_points), 1),
      CheckFlagInRange("batch_max_bytes", absl::GetFlag(FLAGS_batch_max_bytes), 1),
      CheckFlagInRange("file_sink_max_bytes", absl::GetFlag(FLAGS_file_sink_max_bytes), 0),
      CheckFlagInRange("spool_max_bytes", absl::GetFlag(FLAGS_spool_max_bytes), 1),
      CheckFlagInRange("spool_segment_bytes", absl::GetFlag(FLAGS_spool_segment_bytes), 1),
      CheckFlagInRange("spool_prefill_bytes", absl::GetFlag(FLAGS_spool_prefill_bytes), 0),
      CheckFlagInRange("conversion_cache_bytes", absl::GetFlag(FLAGS_conversion_cache_bytes), 0),
      CheckFlagInRange("upload_queue_max_bytes", absl::GetFlag(FLAGS_upload_queue_max_bytes), 1),
      CheckFlagInRange("max_converted_bytes_per_push",
                       absl::GetFlag(FLAGS_max_converted_bytes_per_push), 0),
      CheckFlagInRange("background_nice", absl::GetFlag(FLAGS_background_nice), 0, 19),
      CheckDurationFlag("upload_timeout", absl::GetFlag(FLAGS_upload_timeout), false),
      CheckDurationFlag("upload_backoff_max", absl::GetFlag(FLAGS_upload_backoff_max), false,
                        absl::Hours(1)),
      CheckDurationFlag("flush_interval", absl::GetFlag(FLAGS_flush_interval), false),
  });
}

int Run() {
  const absl::Status in_range = CheckNumericFlags();
  if (!in_range.ok()) {
    LOG(ERROR) << in_range.message();
    return 2;
  }
  absl::StatusOr<ConversionOptions> conversion = ConversionOptionsFromFlags();
  if (!conversion.ok()) {
    LOG(ERROR) << conversion.status();
    return 2;
  }
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (mkdir(data_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    PLOG(ERROR) << "cannot create --data_dir " << data_dir;
    return 2;
  }
  std::vector<std::string> urls = FlagValuesGiven("upload_url");
  urls.erase(std::remove(urls.begin(), urls.end(), ""), urls.end());
  const bool default_sink = urls.empty();
  if (default_sink) {
    char resolved[PATH_MAX];
    if (realpath(data_dir.c_str(), resolved) == nullptr) {
      PLOG(ERROR) << "cannot resolve --data_dir " << data_dir;
      return 2;
    }
    urls.push_back(absl::StrCat("file://", resolved, "/points.lp"));
  }
  absl::StatusOr<UploadFormat> format = ParseUploadFormat(absl::GetFlag(FLAGS_upload_format));
  if (!format.ok()) {
    LOG(ERROR) << "--upload_format: " << format.status();
    return 2;
  }
  HttpSinkOptions sink_options;
  sink_options.gzip = absl::GetFlag(FLAGS_upload_gzip);
  const std::string gzip_level = absl::GetFlag(FLAGS_upload_gzip_level);
  if (gzip_level == "fast") {
    sink_options.gzip_level = HttpSinkOptions::kFastGzip;
  } else if (!absl::SimpleAtoi(gzip_level, &sink_options.gzip_level) ||
             sink_options.gzip_level < 1 || sink_options.gzip_level > 9) {
    LOG(ERROR) << "--upload_gzip_level must be fast or a zlib level 1-9, not \"" << gzip_level
               << "\"";
    return 2;
  }
  sink_options.token = StringFlagOrEnv("upload_token", "PUSHGATE_UPLOAD_TOKEN");
  sink_options.timeout = absl::GetFlag(FLAGS_upload_timeout);
  if (*format == UploadFormat::kRemoteWrite) {
    sink_options.snappy_block = true;
    sink_options.content_type = kRemoteWriteContentType;
    for (const char* header : kRemoteWriteHeaders) sink_options.extra_headers.push_back(header);
  }
  UploaderOptions uploader_options;
  uploader_options.flush_interval = absl::GetFlag(FLAGS_flush_interval);
  uploader_options.batch_max_points = absl::GetFlag(FLAGS_batch_max_points);
  uploader_options.batch_max_bytes = absl::GetFlag(FLAGS_batch_max_bytes);
  uploader_options.backoff_max = absl::GetFlag(FLAGS_upload_backoff_max);
  // The default sink's file rotates unless told otherwise; a file:// backend's only when the
  // flag says so: its `.1` may be logrotate's, which a rotation of ours would replace.
  FileSinkOptions file_sink_options;
  if (default_sink || !FlagValuesGiven("file_sink_max_bytes").empty()) {
    file_sink_options.rotate_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_file_sink_max_bytes));
  }
  std::vector<BackendSpec> backends;
  for (const std::string& url : urls) {
    absl::StatusOr<std::unique_ptr<Sink>> sink =
        MakeSinkForUrl(url, sink_options, file_sink_options);
    if (!sink.ok()) {
      LOG(ERROR) << (default_sink ? "the default sink (no --upload_url given): " : "--upload_url: ")
                 << sink.status();
      return 2;
    }
    LOG(INFO) << "uploading to " << (*sink)->Describe();
    backends.push_back({*format, std::move(*sink), uploader_options});
  }

  SpoolOptions spool_options;
  spool_options.dir = absl::GetFlag(FLAGS_spool_dir);
  if (spool_options.dir.empty()) spool_options.dir = data_dir + "/spool";
  absl::StatusOr<FsyncMode> fsync = ParseFsyncMode(absl::GetFlag(FLAGS_spool_fsync));
  if (!fsync.ok()) {
    LOG(ERROR) << "--spool_fsync: " << fsync.status();
    return 2;
  }
  spool_options.fsync = *fsync;
  spool_options.max_bytes = absl::GetFlag(FLAGS_spool_max_bytes);
  spool_options.segment_bytes = absl::GetFlag(FLAGS_spool_segment_bytes);
  spool_options.prefill_bytes = absl::GetFlag(FLAGS_spool_prefill_bytes);
  const int background_nice = absl::GetFlag(FLAGS_background_nice);
  const int64_t conversion_cache_bytes = absl::GetFlag(FLAGS_conversion_cache_bytes);
  const int ingest_threads = absl::GetFlag(FLAGS_ingest_threads);
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(spool_options);
  if (!spool.ok()) {
    LOG(ERROR) << "spool " << spool_options.dir << ": " << spool.status();
    return 1;
  }
  LOG(INFO) << "spool " << spool_options.dir << ": " << (*spool)->stats().records_recovered
            << " unsent pushes to replay";

  MetricsRegistry registry;
  RegisterProcessMetrics(&registry);
  RegisterBuildInfoMetric("pushgate_aggregator_build_info", &registry);
  PipelineOptions pipeline_options;
  pipeline_options.conversion = *conversion;
  pipeline_options.background_nice = background_nice;
  pipeline_options.conversion_cache_bytes = static_cast<size_t>(conversion_cache_bytes);
  pipeline_options.max_queued_bytes_per_backend =
      static_cast<size_t>(absl::GetFlag(FLAGS_upload_queue_max_bytes));
  pipeline_options.max_converted_bytes_per_push =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_max_converted_bytes_per_push));
  PushPipeline pipeline(pipeline_options, spool->get(), std::move(backends), &registry);

  IngestServer ingest(absl::GetFlag(FLAGS_grpc_listen), &pipeline, ingest_threads);
  registry.CallbackGauge("pushgate_aggregator_ingest_streams",
                         "Producers' streams open now (a front keeps one; 0 means no front is "
                         "connected).",
                         [&ingest] { return double(ingest.open_streams()); });
  absl::Status started = ingest.Start();
  if (!started.ok()) {
    LOG(ERROR) << started;
    return 1;
  }
  HttpServerOptions http_options;
  http_options.listen = absl::GetFlag(FLAGS_http_listen);
  http_options.max_body_bytes = 0;
  Spool* const spool_for_health = spool->get();
  HttpServer http(
      http_options, [&registry, spool_for_health](HttpRequest request, HttpResponder respond) {
        absl::string_view path = request.Path();
        HttpResponse response;
        if (path == "/-/healthy" || path == "/-/ready") {
          // A failed spool refuses every push until a restart, which it asks for: unhealthy, so
          // that a liveness probe restarts the process.
          const absl::Status spool_health = spool_for_health->health();
          if (spool_health.ok()) {
            response.body = "OK\n";
          } else {
            response = HttpResponse::Error(path == "/-/healthy" ? 500 : 503,
                                           absl::StrCat("spool failed: ", spool_health.message()));
          }
        } else if (path == "/metrics") {
          response.body = registry.Render();
          response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        } else {
          response = HttpResponse::Error(
              404,
              "not found: this port serves /metrics, /-/healthy and /-/ready; pushes go to "
              "the front");
        }
        respond(std::move(response));
      });
  started = http.Start();
  if (!started.ok()) {
    LOG(ERROR) << started;
    return 1;
  }
  LOG(INFO) << "pushgate-aggregator: ingest on " << absl::GetFlag(FLAGS_grpc_listen) << " (port "
            << ingest.port() << "), http on " << http_options.listen;

  const std::string signal = WaitForTerminationSignal();
  LOG(INFO) << "received " << signal << ", shutting down";
  ingest.Stop();
  http.Stop();
  pipeline.Stop();
  (*spool)->Close();
  const uint64_t undelivered = (*spool)->stats().unreleased_bytes;
  if (undelivered == 0) {
    LOG(INFO) << "stopped; the spool holds nothing undelivered (every acknowledged push was "
                 "taken by the backends, or refused by them and counted as dropped)";
  } else {
    LOG(INFO) << "stopped; " << undelivered
              << " bytes of acknowledged pushes stay in the spool and are delivered after the "
                 "next start";
  }
  return 0;
}

}  // namespace
}  // namespace pushgate

int main(int argc, char** argv) {
  pushgate::InitService(argc, argv, "pushgate-aggregator: names, batches and uploads pushes");
  return pushgate::Run();
}
