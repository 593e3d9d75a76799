// Issue 15 (also-fix list): 1,500 idle SSE streams cost ~90% of a core
// because each polled every 25 ms. StreamHub slots wait on a timer that only
// a job change, the keep-alive or StopAll wakes; wakeups are counted through
// stream_stats (a seam), not CPU time.
#include "api/stream_hub.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/strand.hpp"
#include "gtest/gtest.h"

namespace imagen::api {
namespace {

namespace asio = boost::asio;

jobs::Job JobIn(const std::string& id, jobs::JobState state) {
  jobs::Job j;
  j.id = id;
  j.state = state;
  return j;
}

class StreamHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  // Spawns a stream that waits for changes of `id` until one is reported
  // (or the hub stops) and records what it saw.
  void Spawn(StreamHub& hub, const std::string& key, const std::string& id, absl::Duration keep_alive,
             std::atomic<int>* changes, std::atomic<int>* ended) {
    auto ex = asio::make_strand(io_);
    asio::co_spawn(
        ex,
        [&hub, key, id, keep_alive, changes, ended, ex]() -> asio::awaitable<void> {
          auto slot = hub.Open(key, id, ex);
          if (!slot) co_return;
          while (!slot->stopped()) {
            if (co_await slot->WaitForChange(keep_alive)) {
              changes->fetch_add(1);
              break;
            }
          }
          ended->fetch_add(1);
        },
        asio::detached);
  }
  void WaitOpen(StreamHub& hub, uint64_t n) {
    for (int i = 0; i < 5000 && hub.stats().open != n; ++i) absl::SleepFor(absl::Milliseconds(1));
    ASSERT_EQ(hub.stats().open, n);
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{asio::make_work_guard(io_)};
  std::thread thread_;
  jobs::JobEvents events_;
};

TEST_F(StreamHubTest, SseIdleStreamsConsumeNoWakeups) {
  StreamHub hub(&events_, 0);
  std::atomic<int> changes{0}, ended{0};
  for (int i = 0; i < 500; ++i) {
    Spawn(hub, "key_a", "job_" + std::to_string(i), absl::Hours(1), &changes, &ended);
  }
  WaitOpen(hub, 500);
  // The old loop woke each stream every 25 ms: 500 streams, 200 ms = 4,000.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(hub.stats().wakeups, 0u);
  // Other jobs' changes wake nobody either.
  events_.Publish(JobIn("job_other", jobs::JobState::kRunning));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(hub.stats().wakeups, 0u);
  // One job's change wakes exactly its stream.
  events_.Publish(JobIn("job_7", jobs::JobState::kRunning));
  WaitOpen(hub, 499);
  EXPECT_EQ(hub.stats().wakeups, 1u);
  EXPECT_EQ(changes.load(), 1);
  hub.StopAll();
  WaitOpen(hub, 0);
  EXPECT_EQ(ended.load(), 500);
}

TEST_F(StreamHubTest, SseEventArrivesPromptlyAfterStateChange) {
  StreamHub hub(&events_, 0);
  std::atomic<int> changes{0}, ended{0};
  Spawn(hub, "key_a", "job_1", absl::Hours(1), &changes, &ended);
  WaitOpen(hub, 1);
  absl::Time t0 = absl::Now();
  events_.Publish(JobIn("job_1", jobs::JobState::kSucceeded));
  WaitOpen(hub, 0);
  EXPECT_LT(absl::Now() - t0, absl::Milliseconds(500));  // the old loop's floor was 25 ms; no timer involved
  EXPECT_EQ(changes.load(), 1);
}

TEST_F(StreamHubTest, SseChangeBeforeTheFirstWaitIsNotLost) {
  StreamHub hub(&events_, 0);
  auto slot = hub.Open("key_a", "job_1", asio::make_strand(io_));
  events_.Publish(JobIn("job_1", jobs::JobState::kRunning));
  absl::Notification done;
  bool changed = false;
  asio::co_spawn(
      asio::make_strand(io_),
      [&]() -> asio::awaitable<void> {
        changed = co_await slot->WaitForChange(absl::Hours(1));
        done.Notify();
      },
      asio::detached);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(changed);
  EXPECT_EQ(hub.stats().wakeups, 0u);  // reported without waiting
}

TEST_F(StreamHubTest, SseKeepAliveWakesOncePerInterval) {
  StreamHub hub(&events_, 0);
  absl::Notification done;
  int keep_alives = 0;
  asio::co_spawn(
      asio::make_strand(io_),
      [&]() -> asio::awaitable<void> {
        {
          // Closed before Notify: the hub is gone once the test body returns.
          auto slot = hub.Open("key_a", "job_1", co_await asio::this_coro::executor);
          for (int i = 0; i < 3; ++i) {
            if (!co_await slot->WaitForChange(absl::Milliseconds(1))) ++keep_alives;
          }
        }
        done.Notify();
      },
      asio::detached);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(keep_alives, 3);
  EXPECT_EQ(hub.stats().wakeups, 3u);
}

TEST_F(StreamHubTest, SseStreamCapPerKey) {
  StreamHub hub(&events_, 2);
  auto ex = asio::make_strand(io_);
  auto a1 = hub.Open("key_a", "job_1", ex);
  auto a2 = hub.Open("key_a", "job_1", ex);
  ASSERT_NE(a1, nullptr);
  ASSERT_NE(a2, nullptr);
  EXPECT_EQ(hub.Open("key_a", "job_2", ex), nullptr);
  auto b1 = hub.Open("key_b", "job_3", ex);  // another key has its own cap
  EXPECT_NE(b1, nullptr);
  EXPECT_EQ(hub.stats().refused, 1u);
  a1.reset();
  EXPECT_NE(hub.Open("key_a", "job_2", ex), nullptr);  // a closed stream frees its place
}

}  // namespace
}  // namespace imagen::api
