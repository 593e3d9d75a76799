#include "jobs/submit_committer.h"

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "common/test_dir.h"
#include "gtest/gtest.h"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;

// Fails every mutating file call from the N-th on ("the process died there");
// thread-safe, since PutInputs syncs files concurrently.
class DyingEnv : public EnvWrapper {
 public:
  explicit DyingEnv(int die_at) : EnvWrapper(Env::Default()), die_at_(die_at) {}
  bool dead() const { return dead_.load(); }
  absl::Status Tick() {
    if (dead_.load()) return absl::AbortedError("process is dead");
    if (die_at_ > 0 && ++steps_ >= die_at_) {
      dead_ = true;
      return absl::AbortedError("simulated crash");
    }
    return absl::OkStatus();
  }
  class File : public WritableFile {
   public:
    File(DyingEnv* env, std::unique_ptr<WritableFile> f) : env_(env), f_(std::move(f)) {}
    absl::Status Append(std::string_view d) override {
      RETURN_IF_ERROR(env_->Tick());
      return f_->Append(d);
    }
    absl::Status Sync() override {
      RETURN_IF_ERROR(env_->Tick());
      return f_->Sync();
    }
    absl::Status Close() override {
      RETURN_IF_ERROR(env_->Tick());
      return f_->Close();
    }

   private:
    DyingEnv* env_;
    std::unique_ptr<WritableFile> f_;
  };
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    RETURN_IF_ERROR(Tick());
    ASSIGN_OR_RETURN(auto f, target()->NewWritableFile(path));
    return std::unique_ptr<WritableFile>(new File(this, std::move(f)));
  }
  absl::Status RenameFile(const std::string& a, const std::string& b) override {
    RETURN_IF_ERROR(Tick());
    return target()->RenameFile(a, b);
  }
  absl::Status SyncDir(const std::string& d) override {
    RETURN_IF_ERROR(Tick());
    return target()->SyncDir(d);
  }

 private:
  const int die_at_;
  std::atomic<int> steps_{0};
  std::atomic<bool> dead_{false};
};

class SubmitCommitterTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = imagen::testing::FreshTestDir("committer_test"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<JobStore> OpenStore() {
    auto s = JobStore::Open((dir_ / "jobs.db").string(), &clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  static NewJob Job(const std::string& key = "k") {
    NewJob j;
    j.key_id = key;
    j.operation = "echo";
    j.input_type = "image/png";
    return j;
  }
  std::vector<std::string> TempFiles() {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "blobs")) {
      if (absl::StrContains(e.path().filename().string(), ".tmp.")) out.push_back(e.path().string());
    }
    return out;
  }

  FakeClock clock_;
  fs::path dir_;
};

TEST_F(SubmitCommitterTest, ManyConcurrentSubmittersAllGetDurableJobsInFewGroups) {
  constexpr int kThreads = 16;
  constexpr int kEach = 20;
  std::vector<std::string> ids(kThreads * kEach);
  std::vector<std::string> inputs(kThreads * kEach);
  SubmitCommitterStats stats;
  {
    auto store = OpenStore();
    BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
    ASSERT_TRUE(blobs.Init().ok());
    SubmitCommitter committer(store.get(), &blobs, {.max_inline_bytes = 1024});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          int n = t * kEach + i;
          // Every fourth input repeats another one: identical uploads share a blob.
          // Odd ones are over the inline limit: half go to files.
          inputs[n] = n % 4 == 3 ? inputs[n - 1]
                                 : absl::StrCat("image bytes #", n, std::string(n % 2 == 1 ? 2000 + n : 100 + n, 'x'));
          auto r = committer.SubmitAndWait(Job(), inputs[n]);
          ASSERT_TRUE(r.ok()) << r.status();
          EXPECT_TRUE(r->created);
          EXPECT_EQ(r->job.input_ref, BlobStore::InputRef(inputs[n]));
          ids[n] = r->job.id;
        }
      });
    }
    for (auto& th : threads) th.join();
    stats = committer.stats();
  }
  EXPECT_EQ(stats.submissions, kThreads * kEach);
  EXPECT_LT(stats.groups, stats.submissions) << "concurrent submissions were never grouped";
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  // A fresh process sees every job and its input.
  auto store = OpenStore();
  BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
  for (size_t n = 0; n < ids.size(); ++n) {
    auto job = store->Get(ids[n]);
    ASSERT_TRUE(job.ok()) << job.status();
    EXPECT_EQ(job->state, JobState::kQueued);
    auto bytes = ReadJobInput(store.get(), &blobs, job->input_ref);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(*bytes, inputs[n]);
  }
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(SubmitCommitterTest, EverythingQueuedDuringACommitGoesInTheNextGroup) {
  auto store = OpenStore();
  BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
  ASSERT_TRUE(blobs.Init().ok());
  SubmitCommitter committer(store.get(), &blobs);
  absl::Notification first_in_commit, release;
  std::atomic<int> calls{0};
  committer.SetStepHook([&](std::string_view step) {
    if (step == "inputs_durable" && calls.fetch_add(1) == 0) {
      first_in_commit.Notify();
      release.WaitForNotification();
    }
    return absl::OkStatus();
  });
  constexpr int kLater = 12;
  std::atomic<int> done{0};
  std::vector<std::string> inputs;
  for (int i = 0; i <= kLater; ++i) inputs.push_back(absl::StrCat("input ", i));
  committer.Submit(Job(), inputs[0], [&](absl::StatusOr<CreateResult> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    ++done;
  });
  first_in_commit.WaitForNotification();
  for (int i = 1; i <= kLater; ++i) {
    committer.Submit(Job(), inputs[i], [&](absl::StatusOr<CreateResult> r) {
      EXPECT_TRUE(r.ok()) << r.status();
      ++done;
    });
  }
  release.Notify();
  while (done.load() < kLater + 1) absl::SleepFor(absl::Milliseconds(1));
  SubmitCommitterStats stats = committer.stats();
  EXPECT_EQ(stats.groups, 2);
  EXPECT_EQ(stats.largest_group, kLater);
}

TEST_F(SubmitCommitterTest, AFailedInputSyncFailsEveryMemberAndStoresNoJob) {
  // Every folder sync fails; the first one waits until three more
  // submissions are queued, so they form one group.
  class FailingSyncEnv : public EnvWrapper {
   public:
    FailingSyncEnv() : EnvWrapper(Env::Default()) {}
    absl::Status SyncDir(const std::string&) override {
      if (calls.fetch_add(1) == 0) {
        in_commit.Notify();
        release.WaitForNotification();
      }
      return absl::InternalError("fsync: Input/output error");
    }
    std::atomic<int> calls{0};
    absl::Notification in_commit, release;
  } failing;
  {
    auto store = OpenStore();
    BlobStore blobs(&failing, (dir_ / "blobs").string());
    ASSERT_TRUE(blobs.Init().ok());
    SubmitCommitter committer(store.get(), &blobs, {.max_inline_bytes = 0});
    committer.Submit(Job(), "held back", [](absl::StatusOr<CreateResult> r) { EXPECT_FALSE(r.ok()); });
    failing.in_commit.WaitForNotification();
    std::vector<absl::StatusOr<CreateResult>> results(3);
    std::atomic<int> done{0};
    std::vector<std::string> inputs = {"a", "b", "c"};
    for (int i = 0; i < 3; ++i) {
      committer.Submit(Job(), inputs[i], [&, i](absl::StatusOr<CreateResult> r) {
        results[i] = std::move(r);
        ++done;
      });
    }
    failing.release.Notify();
    while (done.load() < 3) absl::SleepFor(absl::Milliseconds(1));
    for (const auto& r : results) {
      ASSERT_FALSE(r.ok());
      EXPECT_TRUE(IsInputStorageError(r.status())) << r.status();
      EXPECT_TRUE(absl::StrContains(r.status().message(), "group commit of 3 submission(s)")) << r.status();
      EXPECT_TRUE(absl::StrContains(r.status().message(), "Input/output error")) << r.status();
    }
    EXPECT_TRUE(TempFiles().empty()) << "a failed group left temp files";
  }
  auto store = OpenStore();
  auto all = store->List("", std::nullopt, 100, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(SubmitCommitterTest, IdempotencyKeysInsideOneGroup) {
  auto store = OpenStore();
  BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
  ASSERT_TRUE(blobs.Init().ok());
  SubmitCommitter committer(store.get(), &blobs);
  absl::Notification in_commit, release;
  std::atomic<int> calls{0};
  committer.SetStepHook([&](std::string_view step) {
    if (step == "inputs_durable" && calls.fetch_add(1) == 0) {
      in_commit.Notify();
      release.WaitForNotification();
    }
    return absl::OkStatus();
  });
  committer.Submit(Job(), "warm-up", [](absl::StatusOr<CreateResult>) {});
  in_commit.WaitForNotification();
  NewJob same = Job();
  same.idempotency_key = "idem";
  same.request_hash = "h1";
  NewJob other = same;
  other.request_hash = "h2";
  std::vector<absl::StatusOr<CreateResult>> r(3);
  std::atomic<int> done{0};
  committer.Submit(same, "x", [&](absl::StatusOr<CreateResult> v) {
    r[0] = std::move(v);
    ++done;
  });
  committer.Submit(same, "x", [&](absl::StatusOr<CreateResult> v) {
    r[1] = std::move(v);
    ++done;
  });
  committer.Submit(other, "y", [&](absl::StatusOr<CreateResult> v) {
    r[2] = std::move(v);
    ++done;
  });
  release.Notify();
  while (done.load() < 3) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_TRUE(r[0].ok()) << r[0].status();
  ASSERT_TRUE(r[1].ok()) << r[1].status();
  EXPECT_TRUE(r[0]->created);
  EXPECT_FALSE(r[1]->created);
  EXPECT_EQ(r[0]->job.id, r[1]->job.id);
  // A conflicting member fails alone; the rest of its group is committed.
  EXPECT_EQ(r[2].status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(store->Get(r[0]->job.id).ok());
}

// The process dies at every step of a group (each file call, between making
// the file inputs durable and committing, and after committing): a job the
// submitter was told about is always there with its input, and any job row
// that exists has its whole input.
class SubmitCommitterDyingTest : public SubmitCommitterTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(SubmitCommitterDyingTest, DyingAtAnyStepNeverLeavesAJobWithoutItsInput) {
  const std::vector<std::string> inputs = {"first input " + std::string(300, 'a'), "second " + std::string(500, 'b'),
                                           "first input " + std::string(300, 'a')};
  int points = 0;
  for (int die_at = 1;; ++die_at) {
    SCOPED_TRACE("dying at step " + std::to_string(die_at));
    TearDown();
    SetUp();
    DyingEnv env(die_at);
    std::vector<absl::StatusOr<CreateResult>> results(inputs.size());
    {
      auto store = OpenStore();
      BlobStore blobs(&env, (dir_ / "blobs").string());
      ASSERT_TRUE(blobs.Init().ok());
      SubmitCommitter committer(store.get(), &blobs, {.max_inline_bytes = GetParam()});
      committer.SetStepHook([&](std::string_view) { return env.Tick(); });
      std::atomic<int> done{0};
      for (size_t i = 0; i < inputs.size(); ++i) {
        committer.Submit(Job(), inputs[i], [&, i](absl::StatusOr<CreateResult> r) {
          results[i] = std::move(r);
          ++done;
        });
      }
      while (done.load() < static_cast<int>(inputs.size())) absl::SleepFor(absl::Milliseconds(1));
    }
    bool died = env.dead();
    // A fresh process on the same files.
    auto store = OpenStore();
    BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
    ASSERT_TRUE(blobs.Init().ok());
    EXPECT_TRUE(TempFiles().empty());
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!results[i].ok()) continue;
      auto job = store->Get(results[i]->job.id);
      ASSERT_TRUE(job.ok()) << "acknowledged job lost: " << job.status();
    }
    auto all = store->List("", std::nullopt, 100, 0);
    ASSERT_TRUE(all.ok());
    for (const auto& job : *all) {
      auto bytes = ReadJobInput(store.get(), &blobs, job.input_ref);
      ASSERT_TRUE(bytes.ok()) << "job " << job.id << " without its input: " << bytes.status();
      EXPECT_EQ(BlobStore::InputRef(*bytes), job.input_ref);
    }
    if (!died) {
      for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(all->size(), inputs.size());
      break;
    }
    ++points;
  }
  // Files: create, append, sync, close, rename (x2), folder syncs, two steps.
  EXPECT_GE(points, GetParam() == 0 ? 10 : 2);
}

INSTANTIATE_TEST_SUITE_P(InputsInline, SubmitCommitterDyingTest, ::testing::Values(size_t{1024}));
INSTANTIATE_TEST_SUITE_P(InputsAsFiles, SubmitCommitterDyingTest, ::testing::Values(size_t{0}));

}  // namespace
}  // namespace imagen::jobs
