#include "common/thread_pool.h"

#include <atomic>

#include "gtest/gtest.h"

namespace imagen {
namespace {

TEST(ThreadPoolTest, RunsEveryTask) {
  std::atomic<int> sum{0};
  ThreadPool pool(3, "test");
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(pool.Submit([&sum, i] { sum += i; }));
  pool.Wait();
  EXPECT_EQ(sum.load(), 5050);
}

TEST(ThreadPoolTest, ShutdownDrainsQueueAndRefusesNewTasks) {
  std::atomic<int> count{0};
  ThreadPool pool(1);
  for (int i = 0; i < 10; ++i) pool.Submit([&count] { ++count; });
  pool.Shutdown();
  EXPECT_EQ(count.load(), 10);
  EXPECT_FALSE(pool.Submit([] {}));
}

TEST(ThreadPoolTest, ZeroThreadsMeansOne) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.size(), 1);
}

}  // namespace
}  // namespace imagen
