#include "tests/backends/backend_util.h"

#include <fstream>
#include <sstream>

// Boost.JSON is used header-only: its implementation is compiled into this one file.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/json/src.hpp"
#include "glog/logging.h"
#include "tests/harness/harness.h"

namespace pushgate::testing {

std::string UrlQueryEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

absl::StatusOr<boost::json::value> ParseJson(absl::string_view text) {
  boost::json::error_code error;
  boost::json::value value =
      boost::json::parse(boost::json::string_view(text.data(), text.size()), error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat("not JSON (", error.message(), "): ", text));
  }
  return value;
}

absl::StatusOr<boost::json::value> FetchJson(const std::string& url, const std::string& method) {
  HttpResult result = HttpRequestTo(method, url);
  if (result.status < 200 || result.status > 299) {
    return absl::UnavailableError(absl::StrCat(method, " ", url, ": status ", result.status, " ",
                                               result.error, " ", result.body));
  }
  return ParseJson(result.body);
}

void WriteFileOrDie(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  out.close();
  CHECK(out.good()) << "cannot write " << path;
}

std::string FileTail(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  return all.size() <= bytes ? all : all.substr(all.size() - bytes);
}

bool PollUntil(absl::Duration timeout, const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace pushgate::testing
