// A circuit breaker for calls to a remote service: after `failure_threshold`
// consecutive transient failures it opens and fails fast for `open_for`; then
// one trial call is let through (half-open) and its outcome closes or reopens
// it. Time comes from a Clock. Thread-safe.
#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace imagen::worker {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  CircuitBreaker(int failure_threshold, absl::Duration open_for, Clock* clock)
      : threshold_(failure_threshold), open_for_(open_for), clock_(clock) {}

  // False while open (the caller fails fast with Unavailable).
  bool Allow();
  void RecordSuccess();
  void RecordFailure();
  State state() const;

 private:
  const int threshold_;
  const absl::Duration open_for_;
  Clock* clock_;
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kClosed;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time opened_at_ ABSL_GUARDED_BY(mu_);
  bool trial_in_flight_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace imagen::worker
