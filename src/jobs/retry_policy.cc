#include "jobs/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace imagen::jobs {

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

absl::Duration RetryPolicy::Backoff(int attempt, double unit) const {
  double exp = std::pow(options_.multiplier, std::max(0, attempt - 1));
  double base = absl::ToDoubleSeconds(options_.base_delay) * exp;
  double cap = absl::ToDoubleSeconds(options_.max_delay);
  double delay = std::min(base, cap);
  double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  unit = std::clamp(unit, 0.0, 1.0);
  return absl::Seconds(delay * (1.0 - jitter + jitter * unit));
}

absl::Duration RetryPolicy::Backoff(int attempt, std::mt19937_64& rng) const {
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  return Backoff(attempt, dist(rng));
}

}  // namespace imagen::jobs
