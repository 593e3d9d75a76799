// Issue 15 item 4 ("sweeper loses accepted inputs") and the orphan input
// files a kill -9 inside a group commit leaves. The races are interleaved
// deterministically through the sweeper's and the committer's step hooks.
#include "jobs/sweeper.h"

#include <filesystem>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/test_dir.h"
#include "gtest/gtest.h"
#include "jobs/submit_committer.h"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;

class SweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = imagen::testing::FreshTestDir("sweeper_test");
    auto s = JobStore::Open((dir_ / "jobs.db").string(), &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    blobs_ = std::make_unique<BlobStore>(Env::Default(), (dir_ / "blobs").string());
    ASSERT_TRUE(blobs_->Init().ok());
    committer_ = std::make_unique<SubmitCommitter>(store_.get(), blobs_.get());
    sweeper_ = std::make_unique<Sweeper>(store_.get(), blobs_.get(), &clock_, options_);
  }
  void TearDown() override {
    sweeper_.reset();
    committer_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  NewJob Job() { return {.key_id = "key_a", .operation = "copy", .input_type = "image/png"}; }
  // A job on `bytes` that finished long enough ago to be swept.
  std::string FinishedJob(const std::string& bytes) {
    auto c = committer_->SubmitAndWait(Job(), bytes);
    EXPECT_TRUE(c.ok()) << c.status();
    auto l = store_->Lease("w", absl::Seconds(30));
    EXPECT_TRUE(l.ok() && l->has_value());
    EXPECT_TRUE(store_->Complete(c->job.id, "w", "", "image/png").ok());
    return c->job.id;
  }

  FakeClock clock_{absl::Now()};
  SweeperOptions options_{.retention = absl::Hours(24), .orphan_grace = absl::Hours(1)};
  fs::path dir_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<SubmitCommitter> committer_;
  std::unique_ptr<Sweeper> sweeper_;
  const std::string big_ = std::string(300 * 1024, 'x');  // > 256 KiB: a file input
};

// The bug: the sweep commits "no row names this input", then an identical
// upload is accepted (the committer skips writing the file that exists and
// commits its row), then the sweeper deleted the file under the 202.
TEST_F(SweeperTest, SweeperLosesAcceptedInputs_SubmissionCommitsBetweenCheckAndDelete) {
  std::string ref = BlobStore::InputRef(big_);
  FinishedJob(big_);
  clock_.Advance(absl::Hours(25));
  absl::StatusOr<CreateResult> second;
  sweeper_->SetHook([&](std::string_view step, const std::string& r) {
    if (step != "unreferenced" || r != ref) return;
    // Paused between "found unreferenced" and "delete": the same bytes are
    // submitted and acknowledged meanwhile.
    second = committer_->SubmitAndWait(Job(), big_);
  });
  auto report = sweeper_->RunOnce();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->jobs, 1);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(report->inputs, 0);
  auto input = ReadJobInput(store_.get(), blobs_.get(), second->job.input_ref);
  ASSERT_TRUE(input.ok()) << "a 202 lost its input: " << input.status();
  EXPECT_EQ(*input, big_);
}

// The submission is between "file checked" and "row committed" (claimed)
// while the sweeper removes unreferenced inputs: the file stays.
TEST_F(SweeperTest, SweeperLosesAcceptedInputs_SubmissionInFlightDuringSweep) {
  FinishedJob(big_);
  clock_.Advance(absl::Hours(25));
  absl::Notification at_commit, go_on;
  committer_->SetStepHook([&](std::string_view step) {
    if (step == "inputs_durable") {
      at_commit.Notify();
      go_on.WaitForNotification();
    }
    return absl::OkStatus();
  });
  absl::StatusOr<CreateResult> second;
  std::thread submitter([&] { second = committer_->SubmitAndWait(Job(), big_); });
  at_commit.WaitForNotification();
  auto report = sweeper_->RunOnce();  // the old row goes, the file must not
  go_on.Notify();
  submitter.join();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->jobs, 1);
  EXPECT_EQ(report->inputs, 0);
  ASSERT_TRUE(second.ok()) << second.status();
  auto input = ReadJobInput(store_.get(), blobs_.get(), second->job.input_ref);
  ASSERT_TRUE(input.ok()) << "a 202 lost its input: " << input.status();
}

// The same race through the sweep loop `imagen serve` ran before
// jobs::Sweeper (SweepFinished, then BlobStore::RemoveInput for each input):
// RemoveInput asks the committer's store too, so the file stays.
TEST_F(SweeperTest, SweeperLosesAcceptedInputs_PlainRemoveInputChecksTheRows) {
  FinishedJob(big_);
  clock_.Advance(absl::Hours(25));
  auto swept = store_->SweepFinished(clock_.Now() - absl::Hours(24), 100);
  ASSERT_TRUE(swept.ok());
  ASSERT_EQ(swept->input_refs.size(), 1u);
  auto second = committer_->SubmitAndWait(Job(), big_);  // between "found unreferenced" and "delete"
  ASSERT_TRUE(second.ok());
  for (const auto& ref : swept->input_refs) ASSERT_TRUE(blobs_->RemoveInput(ref).ok());
  auto input = ReadJobInput(store_.get(), blobs_.get(), second->job.input_ref);
  ASSERT_TRUE(input.ok()) << "a 202 lost its input: " << input.status();
  // Once nothing names it, RemoveInput removes it.
  auto l = store_->Lease("w", absl::Seconds(30));
  ASSERT_TRUE(l.ok() && l->has_value());
  ASSERT_TRUE(store_->Complete(second->job.id, "w", "", "image/png").ok());
  clock_.Advance(absl::Hours(25));
  swept = store_->SweepFinished(clock_.Now() - absl::Hours(24), 100);
  ASSERT_TRUE(swept.ok());
  for (const auto& ref : swept->input_refs) ASSERT_TRUE(blobs_->RemoveInput(ref).ok());
  EXPECT_FALSE(fs::exists(blobs_->InputPath(second->job.input_ref)));
}

// Without a racing submission the last job's input file is removed.
TEST_F(SweeperTest, RemovesTheInputOfTheLastSweptJob) {
  std::string ref = BlobStore::InputRef(big_);
  FinishedJob(big_);
  clock_.Advance(absl::Hours(25));
  auto report = sweeper_->RunOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->inputs, 1);
  EXPECT_FALSE(fs::exists(blobs_->InputPath(ref)));
}

// kill -9 between a group's file sync and its commit leaves a file no row
// names; it goes once it has been unreferenced for the grace period.
TEST_F(SweeperTest, OrphanInputFileIsRemovedAfterTheGracePeriod) {
  auto orphan = blobs_->PutInput(big_);
  ASSERT_TRUE(orphan.ok());
  std::string kept_bytes(280 * 1024, 'k');
  auto kept = committer_->SubmitAndWait(Job(), kept_bytes);  // referenced by a queued job
  ASSERT_TRUE(kept.ok());
  ASSERT_TRUE(sweeper_->RunOnce().ok());  // first seen
  clock_.Advance(absl::Minutes(59));
  auto r1 = sweeper_->RunOnce();
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->orphans, 0);
  EXPECT_TRUE(fs::exists(blobs_->InputPath(*orphan)));
  clock_.Advance(absl::Minutes(2));
  auto r2 = sweeper_->RunOnce();
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->orphans, 1);
  EXPECT_FALSE(fs::exists(blobs_->InputPath(*orphan)));
  EXPECT_TRUE(fs::exists(blobs_->InputPath(kept->job.input_ref)));
}

// An orphan that a new submission names before its grace ends is kept, and
// a claimed one is never removed.
TEST_F(SweeperTest, OrphanThatGetsReferencedOrClaimedIsKept) {
  auto orphan = blobs_->PutInput(big_);
  ASSERT_TRUE(orphan.ok());
  ASSERT_TRUE(sweeper_->RunOnce().ok());
  clock_.Advance(absl::Hours(2));
  {
    InputClaim claim = blobs_->ClaimInputs({*orphan});
    auto r = sweeper_->RunOnce();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->orphans, 0);
  }
  auto c = committer_->SubmitAndWait(Job(), big_);
  ASSERT_TRUE(c.ok());
  clock_.Advance(absl::Hours(2));
  auto r = sweeper_->RunOnce();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->orphans, 0);
  EXPECT_TRUE(ReadJobInput(store_.get(), blobs_.get(), c->job.input_ref).ok());
}

}  // namespace
}  // namespace imagen::jobs
