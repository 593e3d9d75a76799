#include "jobs/rate_limiter.h"

#include <algorithm>

namespace imagen::jobs {

RateLimiter::Decision RateLimiter::Acquire(const std::string& key, double rate, double burst) {
  if (rate <= 0) return {};
  burst = std::max(1.0, burst);
  int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  if (inserted) {
    b.tokens = burst;
  } else {
    double elapsed = static_cast<double>(std::max<int64_t>(0, now - b.last_us)) / 1e6;
    b.tokens = std::min(burst, b.tokens + elapsed * rate);
  }
  b.last_us = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {};
  }
  double wait = (1.0 - b.tokens) / rate;
  return {false, absl::Seconds(wait)};
}

}  // namespace imagen::jobs
