// Issue 15 item 1 at the worker: a job whose operation fails with an error
// text that is not UTF-8 (raw upload bytes quoted by a library) finishes
// `failed`, its webhook payload is valid UTF-8, and the worker goes on; an
// operation that throws fails its job instead of ending the process.
#include <filesystem>

#include "common/utf8.h"
#include "gtest/gtest.h"
#include "jobs/submit_committer.h"
#include "nlohmann/json.hpp"
#include "worker/worker.h"

namespace imagen::worker {
namespace {

namespace fs = std::filesystem;

class BadOp : public ops::Operation {
 public:
  BadOp(std::string name, bool throws) : throws_(throws) {
    spec_.name = name;
    spec_.route = "test/" + name;
    spec_.summary = "test: fails badly";
  }
  const ops::OpSpec& spec() const override { return spec_; }
  absl::StatusOr<ops::ImageBlob> Run(const ops::ImageBlob&, const ops::ParamValues&,
                                     const ops::OpContext&) const override {
    if (throws_) throw std::runtime_error("lcms: \xff\xfe bad tag");
    return absl::InvalidArgumentError("icc transform failed: \xff\xfe\x80 raw bytes");
  }

 private:
  ops::OpSpec spec_;
  bool throws_;
};

class WorkerRobustnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("worker_robust_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto s = jobs::JobStore::Open((dir_ / "jobs.db").string(), &clock_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    blobs_ = std::make_unique<jobs::BlobStore>(Env::Default(), (dir_ / "blobs").string());
    ASSERT_TRUE(blobs_->Init().ok());
    ASSERT_TRUE(registry_.Register(std::make_unique<BadOp>("bad_utf8", false)).ok());
    ASSERT_TRUE(registry_.Register(std::make_unique<BadOp>("throws", true)).ok());
    worker_ =
        std::make_unique<Worker>(store_.get(), blobs_.get(), &registry_, nullptr, nullptr, WorkerOptions{}, "w-test");
  }
  void TearDown() override {
    worker_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  std::string Submit(const std::string& op) {
    jobs::SubmitCommitter committer(store_.get(), blobs_.get());
    auto c = committer.SubmitAndWait(
        {.key_id = "key_a", .operation = op, .input_type = "image/png", .webhook_url = "http://hooks.example/x"},
        "input bytes");
    EXPECT_TRUE(c.ok()) << c.status();
    return c->job.id;
  }

  FakeClock clock_;
  fs::path dir_;
  std::unique_ptr<jobs::JobStore> store_;
  std::unique_ptr<jobs::BlobStore> blobs_;
  ops::OpRegistry registry_;
  std::unique_ptr<Worker> worker_;
};

TEST_F(WorkerRobustnessTest, NonUtf8ErrorMessageFinishesWithValidWebhookPayload) {
  std::string id = Submit("bad_utf8");
  auto ran = worker_->RunOne();
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_TRUE(*ran);
  auto job = store_->Get(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, jobs::JobState::kFailed);
  EXPECT_TRUE(IsValidUtf8(job->error_message));
  auto d = store_->DeliveriesForJob(id);
  ASSERT_TRUE(d.ok() && d->size() == 1);
  EXPECT_TRUE(IsValidUtf8((*d)[0].payload));
  EXPECT_FALSE(nlohmann::json::parse((*d)[0].payload, nullptr, false).is_discarded());
  // The worker goes on with the next job.
  std::string next = Submit("bad_utf8");
  EXPECT_TRUE(*worker_->RunOne());
  EXPECT_EQ(store_->Get(next)->state, jobs::JobState::kFailed);
}

TEST_F(WorkerRobustnessTest, ThrowingOperationFailsItsJobInsteadOfTheProcess) {
  std::string id = Submit("throws");
  absl::StatusOr<bool> ran;
  ASSERT_NO_THROW(ran = worker_->RunOne());
  ASSERT_TRUE(ran.ok()) << ran.status();
  auto job = store_->Get(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, jobs::JobState::kFailed);
  EXPECT_EQ(job->error_code, "internal");
  EXPECT_TRUE(IsValidUtf8(job->error_message));
}

}  // namespace
}  // namespace imagen::worker
