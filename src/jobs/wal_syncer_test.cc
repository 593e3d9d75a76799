#include "jobs/wal_syncer.h"

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace imagen::jobs {
namespace {

class WalSyncerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("wal_syncer_test_" + std::to_string(::getpid()));
    std::ofstream(path_) << "wal";
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_;
};

TEST_F(WalSyncerTest, ASyncedTicketNeedsNoFurtherSync) {
  auto w = WalSyncer::Open(path_.string());
  ASSERT_TRUE(w.ok()) << w.status();
  uint64_t t1 = (*w)->Committed();
  uint64_t t2 = (*w)->Committed();
  EXPECT_GT(t2, t1);
  ASSERT_TRUE((*w)->SyncThrough(t2).ok());
  EXPECT_EQ((*w)->syncs(), 1);
  // One sync covered both commits.
  ASSERT_TRUE((*w)->SyncThrough(t1).ok());
  ASSERT_TRUE((*w)->SyncAll().ok());
  EXPECT_EQ((*w)->syncs(), 1);
  ASSERT_TRUE((*w)->SyncThrough((*w)->Committed()).ok());
  EXPECT_EQ((*w)->syncs(), 2);
}

TEST_F(WalSyncerTest, ConcurrentWritersAllReturnDurable) {
  auto w = WalSyncer::Open(path_.string());
  ASSERT_TRUE(w.ok()) << w.status();
  constexpr int kThreads = 16, kEach = 30;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) EXPECT_TRUE((*w)->SyncThrough((*w)->Committed()).ok());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE((*w)->syncs(), kThreads * kEach);
  EXPECT_GE((*w)->syncs(), 1);
}

TEST_F(WalSyncerTest, AMissingWalIsAnError) { EXPECT_FALSE(WalSyncer::Open(path_.string() + ".missing").ok()); }

}  // namespace
}  // namespace imagen::jobs
