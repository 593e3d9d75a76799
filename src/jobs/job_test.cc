#include "jobs/job.h"

#include "gtest/gtest.h"
#include "jobs/rate_limiter.h"
#include "jobs/retry_policy.h"

namespace imagen::jobs {
namespace {

TEST(JobStateTest, NamesRoundTrip) {
  for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                     JobState::kCanceled, JobState::kDead}) {
    auto parsed = ParseJobState(JobStateName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_FALSE(ParseJobState("done").ok());
}

TEST(JobStateTest, TransitionsFollowTheStateMachine) {
  EXPECT_TRUE(CanTransition(JobState::kQueued, JobState::kRunning));
  EXPECT_TRUE(CanTransition(JobState::kQueued, JobState::kCanceled));
  EXPECT_FALSE(CanTransition(JobState::kQueued, JobState::kSucceeded));
  EXPECT_TRUE(CanTransition(JobState::kRunning, JobState::kSucceeded));
  EXPECT_TRUE(CanTransition(JobState::kRunning, JobState::kQueued));  // retry / lease expiry
  EXPECT_TRUE(CanTransition(JobState::kRunning, JobState::kDead));
  EXPECT_TRUE(CanTransition(JobState::kDead, JobState::kQueued));  // replay
  for (JobState terminal : {JobState::kSucceeded, JobState::kFailed, JobState::kCanceled}) {
    EXPECT_TRUE(IsTerminal(terminal));
    for (JobState to : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                        JobState::kCanceled, JobState::kDead}) {
      EXPECT_FALSE(CanTransition(terminal, to)) << JobStateName(terminal) << " -> " << JobStateName(to);
    }
  }
  EXPECT_FALSE(IsTerminal(JobState::kQueued));
  EXPECT_FALSE(IsTerminal(JobState::kRunning));
}

TEST(RetryPolicyTest, RetryableCodes) {
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("x")));
  EXPECT_TRUE(IsRetryable(absl::DeadlineExceededError("x")));
  EXPECT_TRUE(IsRetryable(absl::ResourceExhaustedError("x")));
  EXPECT_FALSE(IsRetryable(absl::InvalidArgumentError("bad image")));
  EXPECT_FALSE(IsRetryable(absl::InternalError("x")));
  EXPECT_FALSE(IsRetryable(absl::CancelledError("x")));
}

TEST(RetryPolicyTest, ExponentialBackoffWithJitterAndCap) {
  RetryPolicy p({.max_attempts = 5,
                 .base_delay = absl::Seconds(1),
                 .max_delay = absl::Seconds(10),
                 .multiplier = 2,
                 .jitter = 0.5});
  // Without jitter contribution (unit = 1) the delays are 1, 2, 4, 8, 10 (cap).
  EXPECT_EQ(p.Backoff(1, 1.0), absl::Seconds(1));
  EXPECT_EQ(p.Backoff(2, 1.0), absl::Seconds(2));
  EXPECT_EQ(p.Backoff(3, 1.0), absl::Seconds(4));
  EXPECT_EQ(p.Backoff(4, 1.0), absl::Seconds(8));
  EXPECT_EQ(p.Backoff(5, 1.0), absl::Seconds(10));
  // Jitter takes off up to half.
  EXPECT_EQ(p.Backoff(3, 0.0), absl::Seconds(2));
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100; ++i) {
    absl::Duration d = p.Backoff(3, rng);
    EXPECT_GE(d, absl::Seconds(2));
    EXPECT_LE(d, absl::Seconds(4));
  }
}

TEST(RetryPolicyTest, ShouldRetryStopsAtMaxAttempts) {
  RetryPolicy p({.max_attempts = 3});
  EXPECT_TRUE(p.ShouldRetry(absl::UnavailableError("x"), 1));
  EXPECT_TRUE(p.ShouldRetry(absl::UnavailableError("x"), 2));
  EXPECT_FALSE(p.ShouldRetry(absl::UnavailableError("x"), 3));
  EXPECT_FALSE(p.ShouldRetry(absl::InvalidArgumentError("x"), 1));
}

TEST(RateLimiterTest, TokenBucketOnFakeClock) {
  FakeClock clock;
  RateLimiter limiter(&clock);
  // rate 2/s, burst 4: four at once, then one every 0.5 s.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.Acquire("k", 2, 4).allowed) << i;
  auto d = limiter.Acquire("k", 2, 4);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, absl::Milliseconds(500));
  clock.Advance(absl::Milliseconds(250));
  d = limiter.Acquire("k", 2, 4);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, absl::Milliseconds(250));
  clock.Advance(absl::Milliseconds(250));
  EXPECT_TRUE(limiter.Acquire("k", 2, 4).allowed);
  EXPECT_FALSE(limiter.Acquire("k", 2, 4).allowed);
  // Keys are independent; rate 0 is unlimited.
  EXPECT_TRUE(limiter.Acquire("other", 2, 4).allowed);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Acquire("free", 0, 0).allowed);
  // A long pause refills only up to the burst.
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.Acquire("k", 2, 4).allowed);
  EXPECT_FALSE(limiter.Acquire("k", 2, 4).allowed);
}

}  // namespace
}  // namespace imagen::jobs
