// Issue 15: jobs.db (webhook secrets, small uploads) and the blobs were
// world-readable under umask 022. The data folder is created 0700, files
// 0600, and a database or blob folder left 0644/0755 by an older imagen is
// tightened when opened.
#include <sys/stat.h>

#include <filesystem>

#include "common/env.h"
#include "gtest/gtest.h"
#include "jobs/blob_store.h"
#include "jobs/job_store.h"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;

mode_t ModeOf(const fs::path& p) {
  struct stat st;
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class FileModesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(022);  // the usual default, which made everything world-readable
    root_ = fs::temp_directory_path() / ("file_modes_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    data_ = root_ / "data";
  }
  void TearDown() override {
    ::umask(old_umask_);
    fs::remove_all(root_);
  }
  mode_t old_umask_;
  fs::path root_, data_;
  FakeClock clock_;
};

TEST_F(FileModesTest, DataFolderAndFilesArePrivateUnderUmask022) {
  Env* env = Env::Default();
  ASSERT_TRUE(env->CreateDirs(data_.string()).ok());
  EXPECT_EQ(ModeOf(data_), 0700u);
  EXPECT_EQ(ModeOf(root_), 0700u);  // parents it created too
  auto store = JobStore::Open((data_ / "jobs.db").string(), &clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Create({.key_id = "k", .operation = "copy", .input_ref = "r", .input_type = "image/png"}).ok());
  for (const char* f : {"jobs.db", "jobs.db-wal", "jobs.db-shm"}) {
    ASSERT_TRUE(fs::exists(data_ / f)) << f;
    EXPECT_EQ(ModeOf(data_ / f), 0600u) << f;
  }
  BlobStore blobs(env, (data_ / "blobs").string());
  ASSERT_TRUE(blobs.Init().ok());
  auto in = blobs.PutInput(std::string(300 * 1024, 'x'));
  ASSERT_TRUE(in.ok());
  auto res = blobs.PutResult("job_1", "result bytes");
  ASSERT_TRUE(res.ok());
  for (const fs::path& d : {data_ / "blobs", data_ / "blobs/inputs", data_ / "blobs/results",
                            fs::path(blobs.InputPath(*in)).parent_path()}) {
    EXPECT_EQ(ModeOf(d), 0700u) << d;
  }
  EXPECT_EQ(ModeOf(blobs.InputPath(*in)), 0600u);
  EXPECT_EQ(ModeOf(blobs.ResultPath(*res)), 0600u);
}

TEST_F(FileModesTest, OlderWorldReadableStoreIsTightenedWhenOpened) {
  fs::create_directories(data_ / "blobs/inputs");
  fs::permissions(data_ / "blobs", fs::perms(0755));
  {
    auto store = JobStore::Open((data_ / "jobs.db").string(), &clock_);
    ASSERT_TRUE(store.ok());
  }
  fs::permissions(data_ / "jobs.db", fs::perms(0644));
  auto store = JobStore::Open((data_ / "jobs.db").string(), &clock_);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(ModeOf(data_ / "jobs.db"), 0600u);
  BlobStore blobs(Env::Default(), (data_ / "blobs").string());
  ASSERT_TRUE(blobs.Init().ok());
  EXPECT_EQ(ModeOf(data_ / "blobs"), 0700u);
  EXPECT_EQ(ModeOf(data_ / "blobs/inputs"), 0700u);
}

}  // namespace
}  // namespace imagen::jobs
