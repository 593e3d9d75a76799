#include "common/env.h"

#include <sys/stat.h>

#include <filesystem>

#include "gtest/gtest.h"

namespace imagen {
namespace {

std::string TempPath(const std::string& name) {
  std::string dir =
      ::testing::TempDir() + "/env_test_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

TEST(EnvTest, WriteReadRenameRemove) {
  Env* env = Env::Default();
  std::string a = TempPath("a.txt"), b = TempPath("b.txt");
  ASSERT_TRUE(WriteFileAtomically(env, a, "hello").ok());
  auto text = env->ReadFile(a);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hello");
  EXPECT_EQ(*env->GetFileSize(a), 5u);
  ASSERT_TRUE(env->RenameFile(a, b).ok());
  EXPECT_FALSE(env->FileExists(a));
  EXPECT_TRUE(env->FileExists(b));
  ASSERT_TRUE(env->RemoveFile(b).ok());
  EXPECT_FALSE(env->FileExists(b));
}

TEST(EnvTest, MissingFileIsNotFoundNamingThePath) {
  auto r = Env::Default()->ReadFile(TempPath("missing"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("missing"), std::string::npos);
}

TEST(EnvTest, GetChildrenListsNames) {
  Env* env = Env::Default();
  std::string dir = TempPath("children");
  ASSERT_TRUE(env->CreateDirs(dir + "/sub").ok());
  ASSERT_TRUE(WriteFileAtomically(env, dir + "/f", "x").ok());
  auto names = env->GetChildren(dir);
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"f", "sub"}));
}

// An Env whose writes fail as on a full disk, after `budget` bytes.
class DiskFullEnv : public EnvWrapper {
 public:
  explicit DiskFullEnv(Env* target, size_t budget) : EnvWrapper(target), budget_(budget) {}
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    auto f = target()->NewWritableFile(path);
    if (!f.ok()) return f;
    return std::unique_ptr<WritableFile>(new File(std::move(*f), &budget_));
  }

 private:
  class File : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> base, size_t* budget) : base_(std::move(base)), budget_(budget) {}
    absl::Status Append(std::string_view d) override {
      if (d.size() > *budget_) return absl::ResourceExhaustedError("disk full (injected)");
      *budget_ -= d.size();
      return base_->Append(d);
    }
    absl::Status Sync() override { return base_->Sync(); }
    absl::Status Close() override { return base_->Close(); }

   private:
    std::unique_ptr<WritableFile> base_;
    size_t* budget_;
  };
  size_t budget_;
};

TEST(EnvTest, AtomicWriteOnFullDiskKeepsOldContentAndLeavesNoTemp) {
  Env* env = Env::Default();
  std::string dir = TempPath("atomic");
  ASSERT_TRUE(env->CreateDirs(dir).ok());
  auto stale = env->GetChildren(dir);
  ASSERT_TRUE(stale.ok());
  for (const auto& n : *stale) ASSERT_TRUE(env->RemoveFile(dir + "/" + n).ok());
  std::string path = dir + "/value";
  ASSERT_TRUE(WriteFileAtomically(env, path, "old").ok());
  DiskFullEnv full(env, 2);
  absl::Status s = WriteFileAtomically(&full, path, "new content");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*env->ReadFile(path), "old");
  EXPECT_EQ(env->GetChildren(dir)->size(), 1u);
}

TEST(EnvTest, ErrnoMapping) {
  EXPECT_EQ(ErrnoToStatus("p", ENOSPC).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoToStatus("p", EACCES).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToStatus("p", ENOENT).code(), absl::StatusCode::kNotFound);
}

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock;
  absl::Time t0 = clock.Now();
  int64_t m0 = clock.NowMicros();
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(clock.Now() - t0, absl::Seconds(2));
  EXPECT_EQ(clock.NowMicros() - m0, 2'000'000);
  clock.SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(clock.NowMicros() - m0, 2'005'000);
}

}  // namespace
}  // namespace imagen
