#include "serving/batch_policy.h"

#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace imagen::serving {
namespace {

using ::testing::ElementsAre;

// A queue whose enqueue times come from a FakeClock, as the scheduler does.
class Queue {
 public:
  explicit Queue(FakeClock* clock) : clock_(clock) {}
  void Add(int64_t batch = 1, uint64_t shape = 0, uint32_t level = 1, int64_t timeout_us = 0, bool delay = false) {
    QueuedItem q;
    q.seq = seq_++;
    q.level = level;
    q.enqueue_us = clock_->NowMicros();
    q.deadline_us = timeout_us > 0 ? q.enqueue_us + timeout_us : 0;
    q.delay_on_timeout = delay;
    q.batch_size = batch;
    q.shape_key = shape;
    items.push_back(q);
  }
  std::vector<QueuedItem> items;

 private:
  FakeClock* clock_;
  uint64_t seq_ = 0;
};

BatchPolicy Dynamic(int64_t max, std::vector<int64_t> preferred, int64_t delay_us) {
  BatchPolicy p;
  p.dynamic_batching = true;
  p.max_batch_size = max;
  p.preferred_batch_sizes = std::move(preferred);
  p.max_queue_delay_us = delay_us;
  return p;
}

TEST(BatchPolicyTest, EmptyQueueDoesNothing) {
  FakeClock clock;
  Queue q(&clock);
  auto d = DecideNextBatch(q.items, clock.NowMicros(), Dynamic(8, {}, 100), true);
  EXPECT_TRUE(d.run.empty());
  EXPECT_EQ(d.wake_at_us, -1);
}

TEST(BatchPolicyTest, WithoutDynamicBatchingRunsOneAtATime) {
  FakeClock clock;
  Queue q(&clock);
  q.Add();
  q.Add();
  BatchPolicy p;
  p.max_batch_size = 8;
  auto d = DecideNextBatch(q.items, clock.NowMicros(), p, true);
  EXPECT_THAT(d.run, ElementsAre(0));
}

TEST(BatchPolicyTest, WaitsForDelayThenRunsWhatIsThere) {
  FakeClock clock;
  Queue q(&clock);
  q.Add();
  clock.Advance(absl::Microseconds(40));
  q.Add();
  auto policy = Dynamic(8, {}, 100);
  auto d = DecideNextBatch(q.items, clock.NowMicros(), policy, true);
  EXPECT_TRUE(d.run.empty());
  EXPECT_EQ(d.wake_at_us, q.items[0].enqueue_us + 100);
  clock.Advance(absl::Microseconds(60));
  d = DecideNextBatch(q.items, clock.NowMicros(), policy, true);
  EXPECT_THAT(d.run, ElementsAre(0, 1));
}

TEST(BatchPolicyTest, ZeroDelayRunsImmediately) {
  FakeClock clock;
  Queue q(&clock);
  q.Add();
  auto d = DecideNextBatch(q.items, clock.NowMicros(), Dynamic(8, {}, 0), true);
  EXPECT_THAT(d.run, ElementsAre(0));
}

TEST(BatchPolicyTest, PreferredSizeRunsWithoutWaiting) {
  FakeClock clock;
  Queue q(&clock);
  for (int i = 0; i < 4; ++i) q.Add();
  auto d = DecideNextBatch(q.items, clock.NowMicros(), Dynamic(8, {4}, 1'000'000), true);
  EXPECT_THAT(d.run, ElementsAre(0, 1, 2, 3));
}

TEST(BatchPolicyTest, LargestReachablePreferredSizeRunsFirst) {
  FakeClock clock;
  Queue q(&clock);
  for (int i = 0; i < 6; ++i) q.Add();
  auto d = DecideNextBatch(q.items, clock.NowMicros(), Dynamic(8, {2, 4}, 1'000'000), true);
  EXPECT_THAT(d.run, ElementsAre(0, 1, 2, 3));
}

TEST(BatchPolicyTest, PreferredSizeWinsOverAFullBatch) {
  FakeClock clock;
  Queue q(&clock);
  for (int i = 0; i < 8; ++i) q.Add();
  auto d = DecideNextBatch(q.items, clock.NowMicros(), Dynamic(8, {4}, 1'000'000), true);
  EXPECT_THAT(d.run, ElementsAre(0, 1, 2, 3));
}

TEST(BatchPolicyTest, FullBatchRunsAndLeavesTheRest) {
  FakeClock clock;
  Queue q(&clock);
  for (int i = 0; i < 5; ++i) q.Add(2);
  auto d = DecideNextBatch(q.items, clock.NowMicros(), Dynamic(8, {}, 1'000'000), true);
  EXPECT_THAT(d.run, ElementsAre(0, 1, 2, 3));
}

TEST(BatchPolicyTest, DifferentShapesNeverBatchTogether) {
  FakeClock clock;
  Queue q(&clock);
  q.Add(1, /*shape=*/1);
  q.Add(1, /*shape=*/2);
  q.Add(1, /*shape=*/1);
  auto d = DecideNextBatch(q.items, clock.NowMicros(), Dynamic(8, {}, 1'000'000), true);
  // The head cannot grow past the mismatch, so it runs alone at once.
  EXPECT_THAT(d.run, ElementsAre(0));
}

TEST(BatchPolicyTest, HigherPriorityLevelRunsFirst) {
  FakeClock clock;
  Queue q(&clock);
  q.Add(1, 0, /*level=*/2);
  q.Add(1, 0, /*level=*/1);
  BatchPolicy p;
  p.max_batch_size = 8;
  auto d = DecideNextBatch(q.items, clock.NowMicros(), p, true);
  EXPECT_THAT(d.run, ElementsAre(1));
}

TEST(BatchPolicyTest, ExpiredRequestIsRejectedAtItsDeadlineEvenWhenBusy) {
  FakeClock clock;
  Queue q(&clock);
  q.Add(1, 0, 1, /*timeout_us=*/500);
  q.Add();
  auto policy = Dynamic(8, {}, 0);
  auto d = DecideNextBatch(q.items, clock.NowMicros(), policy, /*instance_available=*/false);
  EXPECT_TRUE(d.run.empty());
  EXPECT_TRUE(d.expired.empty());
  EXPECT_EQ(d.wake_at_us, q.items[0].enqueue_us + 500);
  clock.Advance(absl::Microseconds(500));
  d = DecideNextBatch(q.items, clock.NowMicros(), policy, false);
  EXPECT_THAT(d.expired, ElementsAre(0));
  EXPECT_TRUE(d.run.empty());
}

TEST(BatchPolicyTest, DelayActionDemotesInsteadOfRejecting) {
  FakeClock clock;
  Queue q(&clock);
  q.Add(1, 0, 1, /*timeout_us=*/100, /*delay=*/true);
  clock.Advance(absl::Microseconds(150));
  q.Add();
  BatchPolicy p;
  p.max_batch_size = 8;
  auto d = DecideNextBatch(q.items, clock.NowMicros(), p, true);
  EXPECT_TRUE(d.expired.empty());
  EXPECT_THAT(d.run, ElementsAre(1));
}

TEST(BatchPolicyTest, BusyInstancesPostponeBatches) {
  FakeClock clock;
  Queue q(&clock);
  q.Add();
  auto d = DecideNextBatch(q.items, clock.NowMicros(), Dynamic(8, {}, 0), false);
  EXPECT_TRUE(d.run.empty());
}

}  // namespace
}  // namespace imagen::serving
