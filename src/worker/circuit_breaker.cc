#include "worker/circuit_breaker.h"

namespace imagen::worker {

bool CircuitBreaker::Allow() {
  absl::MutexLock l(&mu_);
  if (state_ == State::kClosed) return true;
  if (state_ == State::kOpen) {
    if (clock_->Now() - opened_at_ < open_for_) return false;
    state_ = State::kHalfOpen;
    trial_in_flight_ = false;
  }
  if (trial_in_flight_) return false;
  trial_in_flight_ = true;
  return true;
}

void CircuitBreaker::RecordSuccess() {
  absl::MutexLock l(&mu_);
  state_ = State::kClosed;
  failures_ = 0;
  trial_in_flight_ = false;
}

void CircuitBreaker::RecordFailure() {
  absl::MutexLock l(&mu_);
  trial_in_flight_ = false;
  if (state_ == State::kHalfOpen || ++failures_ >= threshold_) {
    state_ = State::kOpen;
    opened_at_ = clock_->Now();
    failures_ = 0;
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  absl::MutexLock l(&mu_);
  return state_;
}

}  // namespace imagen::worker
