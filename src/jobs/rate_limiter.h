// Per-key token-bucket rate limiter on a Clock: each key refills at `rate`
// tokens per second up to `burst`. Thread-safe.
#pragma once

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace imagen::jobs {

class RateLimiter {
 public:
  explicit RateLimiter(Clock* clock) : clock_(clock) {}

  struct Decision {
    bool allowed = true;
    absl::Duration retry_after;  // when not allowed: until one token is back
  };
  // Takes one token from `key`'s bucket. rate <= 0 means unlimited.
  Decision Acquire(const std::string& key, double rate, double burst);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t last_us = 0;
  };
  Clock* clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace imagen::jobs
