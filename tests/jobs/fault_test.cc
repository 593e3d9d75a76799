// Integration: the worker against the real SQLite store and blob folder, with
// faults injected through the Env seam and the worker's step hook: a process
// that dies between any two steps of a job, a full disk while the result is
// written, transient and permanent operation errors.
#include <filesystem>

#include "common/test_dir.h"
#include "gtest/gtest.h"
#include "jobs/blob_store.h"
#include "jobs/job_events.h"
#include "jobs/job_store.h"
#include "test_ops.h"
#include "worker/worker.h"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;

// Kills "the process" at the N-th step: every mutating Env call and every
// worker step counts; from the N-th on, everything fails.
class CrashingEnv : public EnvWrapper {
 public:
  explicit CrashingEnv(int crash_at) : EnvWrapper(Env::Default()), crash_at_(crash_at) {}
  bool crashed() const { return crashed_; }
  int steps() const { return steps_; }
  absl::Status Tick(const std::string& what) {
    if (crashed_) return absl::AbortedError("process is dead");
    if (++steps_ == crash_at_) {
      crashed_ = true;
      crashed_at_ = what;
      return absl::AbortedError("simulated crash at " + what);
    }
    return absl::OkStatus();
  }
  std::string crashed_at_;

  class File : public WritableFile {
   public:
    File(CrashingEnv* env, std::unique_ptr<WritableFile> f) : env_(env), f_(std::move(f)) {}
    absl::Status Append(std::string_view d) override {
      if (auto s = env_->Tick("append"); !s.ok()) return s;
      return f_->Append(d);
    }
    absl::Status Sync() override {
      if (auto s = env_->Tick("sync"); !s.ok()) return s;
      return f_->Sync();
    }
    absl::Status Close() override {
      if (auto s = env_->Tick("close"); !s.ok()) return s;
      return f_->Close();
    }

   private:
    CrashingEnv* env_;
    std::unique_ptr<WritableFile> f_;
  };
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    if (auto s = Tick("create"); !s.ok()) return s;
    auto f = target()->NewWritableFile(path);
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(new File(this, std::move(*f)));
  }
  absl::Status RenameFile(const std::string& a, const std::string& b) override {
    if (auto s = Tick("rename"); !s.ok()) return s;
    return target()->RenameFile(a, b);
  }
  absl::Status SyncDir(const std::string& d) override {
    if (auto s = Tick("syncdir"); !s.ok()) return s;
    return target()->SyncDir(d);
  }
  absl::Status RemoveFile(const std::string& p) override {
    if (auto s = Tick("remove"); !s.ok()) return s;
    return target()->RemoveFile(p);
  }

 private:
  int crash_at_;
  int steps_ = 0;
  bool crashed_ = false;
};

// Fails writes under results/ with "No space left on device" while full.
class FullDiskEnv : public EnvWrapper {
 public:
  FullDiskEnv() : EnvWrapper(Env::Default()) {}
  std::atomic<bool> full{true};
  class File : public WritableFile {
   public:
    File(FullDiskEnv* env, std::unique_ptr<WritableFile> f) : env_(env), f_(std::move(f)) {}
    absl::Status Append(std::string_view d) override {
      if (env_->full) {
        // Half the data makes it to disk before the device fills up.
        f_->Append(d.substr(0, d.size() / 2)).IgnoreError();
        return absl::ResourceExhaustedError("write: No space left on device");
      }
      return f_->Append(d);
    }
    absl::Status Sync() override { return f_->Sync(); }
    absl::Status Close() override { return f_->Close(); }

   private:
    FullDiskEnv* env_;
    std::unique_ptr<WritableFile> f_;
  };
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    auto f = target()->NewWritableFile(path);
    if (!f.ok()) return f.status();
    if (path.find("/results/") == std::string::npos) return f;
    return std::unique_ptr<WritableFile>(new File(this, std::move(*f)));
  }
};

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = imagen::testing::FreshTestDir("jobs_fault"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<JobStore> OpenStore() {
    auto s = JobStore::Open((dir_ / "jobs.db").string(), &clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  // Results that exist for `job_id`, temp files included.
  std::vector<std::string> ResultFiles() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_ / "blobs" / "results")) out.push_back(e.path().filename());
    return out;
  }

  FakeClock clock_;
  fs::path dir_;
  ops::OpRegistry registry_;
  const std::string input_ = std::string("\x89PNG fake image bytes ") + std::string(1000, 'x');
};

TEST_F(FaultTest, ProcessDyingBetweenAnyTwoStepsLosesNoJobAndDuplicatesNoResult) {
  auto* op = new testing::CopyOp();
  ASSERT_TRUE(registry_.Register(std::unique_ptr<ops::Operation>(op)).ok());
  int points = 0;
  for (int crash_at = 1;; ++crash_at) {
    SCOPED_TRACE("crash at step " + std::to_string(crash_at));
    TearDown();
    SetUp();
    std::string job_id;
    {
      auto store = OpenStore();
      BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
      ASSERT_TRUE(blobs.Init().ok());
      auto ref = blobs.PutInput(input_);
      ASSERT_TRUE(ref.ok());
      auto created = store->Create(
          {.key_id = "k", .operation = "copy", .input_ref = *ref, .input_type = "image/png", .max_attempts = 5});
      ASSERT_TRUE(created.ok());
      job_id = created->job.id;
    }
    // First life: dies at step `crash_at`.
    CrashingEnv crash_env(crash_at);
    {
      auto store = OpenStore();
      BlobStore blobs(&crash_env, (dir_ / "blobs").string());
      worker::Worker w(store.get(), &blobs, &registry_, nullptr, nullptr, {.lease = absl::Seconds(30)}, "w1");
      w.SetStepHook([&](std::string_view step, const std::string&) { return crash_env.Tick(std::string(step)); });
      auto r = w.RunOne();
      if (!crash_env.crashed()) {
        // No crash point left: the job ran through.
        ASSERT_TRUE(r.ok()) << r.status();
        EXPECT_EQ(store->Get(job_id)->state, JobState::kSucceeded);
        break;
      }
      ++points;
      // The process is gone: the store object is dropped without cleanup.
    }
    // Second life: a fresh process on the same files.
    auto store = OpenStore();
    BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
    ASSERT_TRUE(blobs.Init().ok());
    if (crash_at % 2 == 0) {
      ASSERT_TRUE(store->RecoverLeases().ok());  // `imagen serve` start-up
    } else {
      clock_.Advance(absl::Seconds(31));  // lease expiry
    }
    worker::Worker w(store.get(), &blobs, &registry_, nullptr, nullptr, {.lease = absl::Seconds(30)}, "w2");
    for (int i = 0; i < 5; ++i) {
      auto r = w.RunOne();
      ASSERT_TRUE(r.ok()) << r.status();
      if (!*r) break;
    }
    auto job = store->Get(job_id);
    ASSERT_TRUE(job.ok());
    EXPECT_EQ(job->state, JobState::kSucceeded) << "crashed at " << crash_env.crashed_at_;
    auto result = blobs.GetResult(job->result_ref);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(*result, input_);
    EXPECT_EQ(ResultFiles(), std::vector<std::string>{job_id}) << "crashed at " << crash_env.crashed_at_;
    EXPECT_LE(job->attempts, 2);
  }
  // leased, input_read, op_ran, 6 file steps of the result write,
  // result_written, finishing, completed.
  EXPECT_GE(points, 10);
}

TEST_F(FaultTest, DiskFullWhileWritingTheResultRetriesAndLeavesNothingHalfWritten) {
  ASSERT_TRUE(registry_.Register(std::make_unique<testing::CopyOp>()).ok());
  auto store = OpenStore();
  FullDiskEnv env;
  BlobStore blobs(&env, (dir_ / "blobs").string());
  ASSERT_TRUE(blobs.Init().ok());
  auto ref = blobs.PutInput(input_);
  ASSERT_TRUE(ref.ok());
  auto created = store->Create(
      {.key_id = "k", .operation = "copy", .input_ref = *ref, .input_type = "image/png", .max_attempts = 5});
  ASSERT_TRUE(created.ok());
  const std::string id = created->job.id;
  worker::Worker w(store.get(), &blobs, &registry_, nullptr, nullptr,
                   {.lease = absl::Seconds(30), .retry = {.max_attempts = 5, .base_delay = absl::Seconds(2)}}, "w");
  ASSERT_TRUE(*w.RunOne());
  auto job = store->Get(id);
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_EQ(job->error_code, "unavailable");
  EXPECT_NE(job->error_message.find("No space left"), std::string::npos);
  EXPECT_TRUE(ResultFiles().empty());  // no partial result, no temp file
  EXPECT_FALSE(*w.RunOne());           // backing off
  env.full = false;
  clock_.Advance(absl::Seconds(3));
  ASSERT_TRUE(*w.RunOne());
  job = store->Get(id);
  EXPECT_EQ(job->state, JobState::kSucceeded);
  EXPECT_EQ(job->attempts, 2);
  EXPECT_EQ(*blobs.GetResult(job->result_ref), input_);
}

TEST_F(FaultTest, TransientErrorsRetryWithBackoffThenGoDeadAndReplay) {
  auto* flaky = new testing::FlakyOp(4, absl::UnavailableError("inference server down"));
  ASSERT_TRUE(registry_.Register(std::unique_ptr<ops::Operation>(flaky)).ok());
  auto store = OpenStore();
  BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
  ASSERT_TRUE(blobs.Init().ok());
  auto ref = blobs.PutInput(input_);
  auto created = store->Create(
      {.key_id = "k", .operation = "flaky", .input_ref = *ref, .input_type = "image/png", .max_attempts = 3});
  const std::string id = created->job.id;
  worker::Worker w(store.get(), &blobs, &registry_, nullptr, nullptr,
                   {.retry = {.max_attempts = 3, .base_delay = absl::Seconds(1), .max_delay = absl::Seconds(60)}}, "w");
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_TRUE(*w.RunOne()) << attempt;
    auto job = store->Get(id);
    if (attempt < 3) {
      EXPECT_EQ(job->state, JobState::kQueued);
      // Backoff 2^(n-1) s with up to 50% jitter taken off.
      absl::Duration wait = job->run_after - clock_.Now();
      EXPECT_GE(wait, absl::Seconds(0.5 * (1 << (attempt - 1))));
      EXPECT_LE(wait, absl::Seconds(1 << (attempt - 1)));
      EXPECT_FALSE(*w.RunOne());
      clock_.Advance(wait);
    } else {
      EXPECT_EQ(job->state, JobState::kDead);
      EXPECT_EQ(job->attempts, 3);
    }
  }
  ASSERT_TRUE(store->Replay(id).ok());
  ASSERT_TRUE(*w.RunOne());  // 4th failure (attempt 1 of the replay)
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(*w.RunOne());  // succeeds
  EXPECT_EQ(store->Get(id)->state, JobState::kSucceeded);
}

TEST_F(FaultTest, InvalidArgumentFailsAtOnce) {
  ASSERT_TRUE(
      registry_.Register(std::make_unique<testing::FlakyOp>(100, absl::InvalidArgumentError("bad image"))).ok());
  auto store = OpenStore();
  BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
  ASSERT_TRUE(blobs.Init().ok());
  auto ref = blobs.PutInput(input_);
  auto created = store->Create(
      {.key_id = "k", .operation = "flaky", .input_ref = *ref, .input_type = "image/png", .max_attempts = 5});
  worker::Worker w(store.get(), &blobs, &registry_, nullptr, nullptr, {}, "w");
  ASSERT_TRUE(*w.RunOne());
  auto job = store->Get(created->job.id);
  EXPECT_EQ(job->state, JobState::kFailed);
  EXPECT_EQ(job->attempts, 1);
  EXPECT_EQ(job->error_code, "invalid_argument");
  EXPECT_EQ(job->error_message, "bad image");
}

TEST_F(FaultTest, CancelStopsARunningJob) {
  auto* gated = new testing::GatedOp();
  ASSERT_TRUE(registry_.Register(std::unique_ptr<ops::Operation>(gated)).ok());
  auto store = OpenStore();
  JobEvents events;
  store->SetListener([&](const Job& j) { events.Publish(j); });
  BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
  ASSERT_TRUE(blobs.Init().ok());
  auto ref = blobs.PutInput(input_);
  auto created = store->Create({.key_id = "k", .operation = "gated", .input_ref = *ref, .input_type = "image/png"});
  worker::Worker w(store.get(), &blobs, &registry_, nullptr, &events, {}, "w");
  std::thread t([&] { ASSERT_TRUE(w.RunOne().ok()); });
  while (gated->started.load() == 0) absl::SleepFor(absl::Milliseconds(1));
  auto c = store->Cancel(created->job.id);
  ASSERT_TRUE(c.ok());
  t.join();
  auto job = store->Get(created->job.id);
  EXPECT_EQ(job->state, JobState::kCanceled);
  EXPECT_TRUE(ResultFiles().empty());
}

}  // namespace
}  // namespace imagen::jobs
