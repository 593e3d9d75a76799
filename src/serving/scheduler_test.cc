#include "serving/scheduler.h"

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace imagen::serving {
namespace {

// A scheduler whose execute function records the thread and batch size of
// every execution and takes `exec` of wall time.
class Harness {
 public:
  Harness(BatchPolicy policy, absl::Duration exec)
      : exec_(exec),
        scheduler_(
            std::move(policy), 1,
            [this](int, Batch batch) {
              absl::SleepFor(exec_);
              absl::MutexLock l(&mu_);
              threads_.push_back(std::this_thread::get_id());
              sizes_.push_back(batch.size());
            },
            [](std::unique_ptr<QueuedRequest>, absl::Status) {}, Clock::Real()) {}

  // Enqueues one request and returns once it has run and the scheduler has
  // released its instance and recorded its time (or after 5 s), so the next
  // request sees the decision this one led to.
  void RunOne() {
    size_t before = Executions();
    Enqueue();
    {
      absl::MutexLock l(&mu_);
      auto ran = [&] {
        mu_.AssertHeld();
        return threads_.size() > before;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ran), absl::Seconds(5));
    }
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (!scheduler_.idle() && absl::Now() < deadline) absl::SleepFor(absl::Microseconds(100));
  }
  void Enqueue() {
    auto r = std::make_unique<QueuedRequest>();
    r->item.enqueue_us = Clock::Real()->NowMicros();
    ASSERT_TRUE(scheduler_.Enqueue(&r, 0).ok());
  }
  size_t Executions() {
    absl::MutexLock l(&mu_);
    return threads_.size();
  }
  std::vector<std::thread::id> threads() {
    absl::MutexLock l(&mu_);
    return threads_;
  }
  std::vector<size_t> sizes() {
    absl::MutexLock l(&mu_);
    return sizes_;
  }

 private:
  absl::Duration exec_;
  absl::Mutex mu_;
  std::vector<std::thread::id> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> sizes_ ABSL_GUARDED_BY(mu_);
  Scheduler scheduler_;
};

TEST(SchedulerTest, ShortModelWithoutBatcherRunsOnCallerThreadOnceMeasured) {
  BatchPolicy policy;
  policy.max_batch_size = 8;
  Harness h(policy, absl::ZeroDuration());
  for (int i = 0; i < 6; ++i) h.RunOne();
  auto threads = h.threads();
  ASSERT_EQ(threads.size(), 6u);
  // The first three executions measure the model on the worker thread.
  for (int i = 0; i < 3; ++i) EXPECT_NE(threads[static_cast<size_t>(i)], std::this_thread::get_id()) << i;
  for (int i = 3; i < 6; ++i) EXPECT_EQ(threads[static_cast<size_t>(i)], std::this_thread::get_id()) << i;
}

TEST(SchedulerTest, SlowModelStaysOnWorkerThread) {
  BatchPolicy policy;
  policy.max_batch_size = 8;
  Harness h(policy, absl::Microseconds(3 * Scheduler::kInlineMaxUs));
  for (int i = 0; i < 5; ++i) h.RunOne();
  for (auto id : h.threads()) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(SchedulerTest, DynamicBatchingNeverRunsOnCallerThread) {
  BatchPolicy policy;
  policy.dynamic_batching = true;
  policy.max_batch_size = 8;
  Harness h(policy, absl::ZeroDuration());
  for (int i = 0; i < 5; ++i) h.RunOne();
  for (auto id : h.threads()) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(SchedulerTest, PartialBatchRunsWhenQueueDelayExpires) {
  BatchPolicy policy;
  policy.dynamic_batching = true;
  policy.max_batch_size = 8;
  policy.max_queue_delay_us = 30'000;
  Harness h(policy, absl::ZeroDuration());
  absl::Time t0 = absl::Now();
  h.Enqueue();
  h.Enqueue();
  while (h.Executions() == 0 && absl::Now() - t0 < absl::Seconds(5)) absl::SleepFor(absl::Milliseconds(1));
  absl::Duration waited = absl::Now() - t0;
  ASSERT_EQ(h.sizes().size(), 1u);
  EXPECT_EQ(h.sizes()[0], 2u);
  EXPECT_GE(waited, absl::Milliseconds(29));
  EXPECT_LT(waited, absl::Seconds(2));
}

TEST(SchedulerTest, QueuedRequestsRunWhenTheInstanceFrees) {
  BatchPolicy policy;
  policy.dynamic_batching = true;
  policy.max_batch_size = 2;
  Harness h(policy, absl::Milliseconds(20));
  for (int i = 0; i < 5; ++i) h.Enqueue();
  absl::Time t0 = absl::Now();
  while (h.Executions() < 3 && absl::Now() - t0 < absl::Seconds(5)) absl::SleepFor(absl::Milliseconds(1));
  size_t rows = 0;
  for (size_t n : h.sizes()) rows += n;
  EXPECT_EQ(rows, 5u);
}

}  // namespace
}  // namespace imagen::serving
