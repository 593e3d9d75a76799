// Retry policy for jobs and webhook deliveries: which errors are retried and
// how long to wait (exponential backoff with full jitter, capped). Immutable
// after construction; thread-safe (the jitter source is passed in).
#pragma once

#include <cstdint>
#include <random>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace imagen::jobs {

struct RetryOptions {
  int max_attempts = 5;  // total attempts including the first
  absl::Duration base_delay = absl::Seconds(1);
  absl::Duration max_delay = absl::Minutes(5);
  double multiplier = 2.0;
  // Fraction of the delay that is randomised: delay * (1 - jitter + jitter*U[0,1)).
  double jitter = 0.5;
};

// Unavailable, DeadlineExceeded and ResourceExhausted are transient; everything
// else (InvalidArgument for a bad image, ...) fails at once.
bool IsRetryable(const absl::Status& status);

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options = {}) : options_(options) {}
  const RetryOptions& options() const { return options_; }

  // Delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed.
  // `unit` is a uniform sample in [0, 1) (the jitter).
  absl::Duration Backoff(int attempt, double unit) const;
  absl::Duration Backoff(int attempt, std::mt19937_64& rng) const;
  // True when a job that failed its `attempt`-th attempt with `status` runs again.
  bool ShouldRetry(const absl::Status& status, int attempt) const {
    return IsRetryable(status) && attempt < options_.max_attempts;
  }

 private:
  RetryOptions options_;
};

}  // namespace imagen::jobs
