#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "absl/base/call_once.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/compression/compression.h"
#include "libs/deflate/deflate.h"
#include "libs/uploader/internal/sinks.h"
#include "libs/uploader/uploader.h"

namespace pushgate {
namespace uploader_internal {
namespace {

// Enough of an error response to show the backend's message.
constexpr size_t kMaxResponseBytes = 512;

void InitCurlOnce() {
  static absl::once_flag once;
  absl::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t CaptureResponse(char* data, size_t size, size_t n, void* user) {
  auto* response = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (response->size() < kMaxResponseBytes) {
    response->append(data, std::min(bytes, kMaxResponseBytes - response->size()));
  }
  return bytes;  // keep reading (and discarding) so the connection stays reusable
}

// Notes whether an answer comes from InfluxDB (1.x and 2.x name themselves in X-Influxdb-*
// headers), whose write endpoints take line protocol only.
size_t NoteInfluxDbHeader(char* data, size_t size, size_t n, void* user) {
  const size_t bytes = size * n;
  constexpr absl::string_view kPrefix = "x-influxdb-";
  if (absl::StartsWithIgnoreCase(absl::string_view(data, bytes), kPrefix)) {
    *static_cast<bool*>(user) = true;
  }
  return bytes;
}

absl::StatusCode PermanentCode(long http_status) {
  switch (http_status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 413:
      return absl::StatusCode::kOutOfRange;
    default:
      return absl::StatusCode::kFailedPrecondition;
  }
}

// A redirect is retried too: it says nothing about the data, only that --upload_url points
// at the wrong address (http:// behind an ingress that redirects to https://, say), which
// curl does not follow for a POST. So are 401, 403, 404 and 405: a wrong or expired token,
// a wrong path (InfluxDB 2's /api/v2/write on a 1.x server), a wrong method. Dropping the
// data as refused would lose every batch to a configuration mistake; retrying keeps it in
// the spool until the configuration is fixed (and the spool, once full, answers clients 503).
bool IsConfigurationError(long http_status) {
  return (http_status >= 300 && http_status < 400) || http_status == 401 || http_status == 403 ||
         http_status == 404 || http_status == 405;
}

bool Retryable(long http_status) {
  return http_status == 408 || http_status == 429 || http_status >= 500 ||
         IsConfigurationError(http_status);
}

class CurlSink : public Sink {
 public:
  explicit CurlSink(const HttpSinkOptions& options)
      : options_(options),
        described_(RedactUrl(options.url)),
        influxdb_remote_write_endpoint_(absl::EndsWith(described_, "/prom/write") ||
                                        absl::EndsWith(described_, "/prom/write/")) {
    InitCurlOnce();
    curl_ = curl_easy_init();
    headers_ = curl_slist_append(headers_, ("Content-Type: " + options_.content_type).c_str());
    if (options_.gzip && !options_.snappy_block) {
      headers_ = curl_slist_append(headers_, "Content-Encoding: gzip");
    }
    if (!options_.token.empty()) {
      headers_ = curl_slist_append(headers_, ("Authorization: Token " + options_.token).c_str());
    }
    for (const std::string& h : options_.extra_headers) {
      headers_ = curl_slist_append(headers_, h.c_str());
    }
    // curl would otherwise send "Expect: 100-continue" for larger bodies and wait up to a
    // second for a 100 that many servers never send.
    headers_ = curl_slist_append(headers_, "Expect:");

    if (curl_ == nullptr) return;
    curl_easy_setopt(curl_, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "pushgate");
    // Signals for DNS timeouts are not safe in a multi-threaded process.
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
    curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &CaptureResponse);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response_);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &NoteInfluxDbHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &from_influxdb_);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_);
  }

  ~CurlSink() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
    curl_slist_free_all(headers_);
  }

  absl::Status Send(absl::string_view body) override {
    absl::MutexLock lock(&mu_);
    if (curl_ == nullptr) return absl::UnavailableError("cannot create a curl handle");
    absl::string_view payload = body;
    if (options_.snappy_block) {
      compressed_.clear();
      SnappyBlockCompress(body, &compressed_);
      payload = compressed_;
    } else if (options_.gzip) {
      compressed_.clear();
      if (options_.gzip_level == HttpSinkOptions::kFastGzip) {
        FastGzipCompress(body, &compressed_);
      } else {
        absl::Status s = GzipCompress(body, &compressed_, options_.gzip_level);
        // Our own failure (zlib out of memory, say), not the backend's verdict: retry.
        if (!s.ok()) return absl::UnavailableError(s.message());
      }
      payload = compressed_;
    }
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    response_.clear();
    from_influxdb_ = false;
    error_[0] = '\0';
    const CURLcode rc = curl_easy_perform(curl_);
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    const std::string curl_error = rc == CURLE_OK      ? std::string()
                                   : error_[0] != '\0' ? std::string(error_)
                                                       : curl_easy_strerror(rc);
    // Without a status line, or with a success whose reply broke off, nothing says the data was
    // taken: retried. A refusal whose reply curl could not read to the end is still the
    // backend's verdict on the data (InfluxDB repeats a refused line in X-Influxdb-Error, NUL
    // bytes and all, which curl refuses): retried as a network error, one push that InfluxDB
    // refuses would hold back every push after it for good.
    if (rc != CURLE_OK && status < 300) {
      return absl::UnavailableError(absl::StrCat("POST ", described_, ": ", curl_error));
    }
    if (status >= 200 && status < 300) return absl::OkStatus();

    std::string message = absl::StrCat("HTTP ", status, " from ", described_);
    const absl::string_view text = absl::StripAsciiWhitespace(response_);
    if (!text.empty()) absl::StrAppend(&message, ": ", text);
    if (rc != CURLE_OK) absl::StrAppend(&message, " (the rest of the answer: ", curl_error, ")");
    if (status >= 300 && status < 400) {
      char* location = nullptr;
      curl_easy_getinfo(curl_, CURLINFO_REDIRECT_URL, &location);
      absl::StrAppend(&message, " (a redirect",
                      location != nullptr ? absl::StrCat(" to ", RedactUrl(location)) : "",
                      ", which uploads do not follow: set --upload_url to the final address)");
    } else if (status == 401 || status == 403) {
      absl::StrAppend(&message,
                      " (check --upload_token, or the credentials in --upload_url; the data is "
                      "kept and retried)");
    } else if (status == 404 || status == 405) {
      absl::StrAppend(&message,
                      " (check the path of --upload_url, and the database it names; the data is "
                      "kept and retried)");
    }
    // Remote write refused as unreadable (400) by one of InfluxDB's line-protocol endpoints is
    // the upload, not the data; InfluxDB takes the empty upload that would tell the two apart
    // otherwise. Its remote-write endpoint (1.x's /api/v1/prom/write) refuses data like any
    // other backend.
    const bool wrong_format = options_.snappy_block && from_influxdb_ && status == 400 &&
                              !influxdb_remote_write_endpoint_;
    if (wrong_format) {
      absl::StrAppend(&message,
                      " (InfluxDB takes line protocol, not remote write: check --upload_format "
                      "and --upload_url; the data is kept and retried)");
    }
    absl::Status failed = Retryable(status) || wrong_format
                              ? absl::UnavailableError(message)
                              : absl::Status(PermanentCode(status), message);
    if (status == 429 || status == 503) {
      curl_off_t retry_after = 0;  // curl parses both delta-seconds and HTTP dates
      if (curl_easy_getinfo(curl_, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
          retry_after > 0) {
        failed = UnavailableWithRetryAfter(message, absl::Seconds(retry_after));
      }
    }
    SetHttpStatus(static_cast<int>(status), &failed);
    return failed;
  }

  std::string Describe() const override { return described_; }

 private:
  const HttpSinkOptions options_;
  const std::string described_;                // the URL without credentials, query or fragment
  const bool influxdb_remote_write_endpoint_;  // the URL's path is InfluxDB's remote write
  absl::Mutex mu_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string compressed_;  // reused across sends
  std::string response_;
  bool from_influxdb_ = false;  // the last answer had an X-Influxdb-* header
  char error_[CURL_ERROR_SIZE] = {};
};

}  // namespace

std::string RedactUrl(absl::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) {
    // Not a URL we understand; keep nothing that could be a secret.
    return std::string(url.substr(0, url.find_first_of("?#@")));
  }
  const absl::string_view scheme = url.substr(0, scheme_end + 3);
  absl::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  const size_t authority_end = rest.find('/');
  absl::string_view authority = rest.substr(0, authority_end);
  const absl::string_view path =
      authority_end == absl::string_view::npos ? absl::string_view() : rest.substr(authority_end);
  const size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) authority.remove_prefix(at + 1);
  return absl::StrCat(scheme, authority, path);
}

std::unique_ptr<Sink> MakeCurlSink(const HttpSinkOptions& options) {
  return std::make_unique<CurlSink>(options);
}

}  // namespace uploader_internal
}  // namespace pushgate
