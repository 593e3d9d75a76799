// For tests: a fixture with a fresh SQLite JobStore on a FakeClock in its own
// temp folder, removed afterwards. Header-only (tests link GoogleTest).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/test_dir.h"
#include "gtest/gtest.h"
#include "jobs/job_store.h"

namespace imagen::jobs::testing {

class StoreTest : public ::testing::Test {
 protected:
  explicit StoreTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    dir_ = imagen::testing::FreshTestDir(prefix_);
    auto s = JobStore::Open((dir_ / "jobs.db").string(), &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<JobStore> store_;

 private:
  std::string prefix_;
};

}  // namespace imagen::jobs::testing
