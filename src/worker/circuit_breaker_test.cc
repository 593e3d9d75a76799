#include "worker/circuit_breaker.h"

#include "gtest/gtest.h"

namespace imagen::worker {
namespace {

TEST(CircuitBreakerTest, OpensAfterThresholdAndRecoversAfterTrial) {
  FakeClock clock;
  CircuitBreaker b(3, absl::Seconds(5), &clock);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(b.Allow());
    b.RecordFailure();
  }
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.Allow());
  clock.Advance(absl::Seconds(5));
  EXPECT_TRUE(b.Allow());   // the half-open trial
  EXPECT_FALSE(b.Allow());  // only one trial at a time
  b.RecordSuccess();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  EXPECT_TRUE(b.Allow());
}

TEST(CircuitBreakerTest, FailedTrialReopens) {
  FakeClock clock;
  CircuitBreaker b(1, absl::Seconds(1), &clock);
  b.RecordFailure();
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(b.Allow());
  b.RecordFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.Allow());
}

TEST(CircuitBreakerTest, SuccessResetsConsecutiveCount) {
  FakeClock clock;
  CircuitBreaker b(2, absl::Seconds(1), &clock);
  b.RecordFailure();
  b.RecordSuccess();
  b.RecordFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
}

}  // namespace
}  // namespace imagen::worker
