#include "tests/fault/seq_pusher.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tests/harness/harness.h"

namespace pushgate::testing {

SeqPusher::SeqPusher(std::string front_url, int threads) : front_url_(std::move(front_url)) {
  for (int t = 0; t < threads; ++t) {
    threads_.emplace_back([this, t] {
      while (!stop_) Push(t);
    });
  }
}

SeqPusher::~SeqPusher() { Stop(); }

void SeqPusher::Stop() {
  stop_ = true;
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

void SeqPusher::Push(int instance) {
  const int seq = next_seq_++;
  HttpResult result =
      HttpRequestTo("PUT", absl::StrCat(front_url_, "/metrics/job/fault/instance/t", instance),
                    absl::StrCat("fault_seq{seq=\"", seq, "\"} ", seq, "\n"));
  absl::MutexLock lock(&mu_);
  if (result.status == 200) {
    acked_.insert(seq);
  } else {
    ++refused_;
    if (refusals_by_status_[result.status]++ == 0 && first_refusal_body_.empty()) {
      first_refusal_body_ = result.status == 0 ? result.error : result.body;
    }
  }
}

std::set<int> SeqPusher::acked() {
  absl::MutexLock lock(&mu_);
  return acked_;
}

int SeqPusher::refused() {
  absl::MutexLock lock(&mu_);
  return refused_;
}

std::string SeqPusher::RefusalSummary() {
  absl::MutexLock lock(&mu_);
  std::string summary;
  for (const auto& [status, count] : refusals_by_status_) {
    absl::StrAppend(&summary, summary.empty() ? "" : ", ", status, " x", count);
  }
  if (!summary.empty()) {
    absl::StrAppend(&summary, " (first: ", absl::StripAsciiWhitespace(first_refusal_body_), ")");
  }
  return summary;
}

}  // namespace pushgate::testing
