// Env: the seam between imagen and the operating system (files, directories,
// clock), in the manner of LevelDB's Env. Production code takes an Env*; tests
// wrap it (EnvWrapper) to inject disk-full, crashes between steps, or time.
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"

namespace imagen {

// A file being written. Not thread-safe; one writer at a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  // Flushes to stable storage (fsync).
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  virtual absl::Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual absl::Status RemoveFile(const std::string& path) = 0;
  // Creates `path` and missing parents; OK if it already exists.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  virtual absl::StatusOr<uint64_t> GetFileSize(const std::string& path) = 0;
  // fsyncs a directory so that renames and creations in it are durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  virtual Clock* clock() = 0;

  // The POSIX environment with the real clock. Never deleted.
  static Env* Default();
};

// Forwards every call to a target Env; subclass it and override what a test
// wants to break.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return target_->NewWritableFile(path);
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path) override { return target_->ReadFile(path); }
  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  absl::Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  absl::Status CreateDirs(const std::string& path) override { return target_->CreateDirs(path); }
  bool FileExists(const std::string& path) override { return target_->FileExists(path); }
  absl::StatusOr<std::vector<std::string>> GetChildren(const std::string& dir) override {
    return target_->GetChildren(dir);
  }
  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override { return target_->GetFileSize(path); }
  absl::Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  Clock* clock() override { return target_->clock(); }

 private:
  Env* target_;
};

// Writes `data` to `path` so that a crash leaves either the old file or the
// new one: temp file in the same directory, fsync, rename, fsync directory.
absl::Status WriteFileAtomically(Env* env, const std::string& path, std::string_view data);

// Translates an errno value into a Status naming `context` (usually a path).
absl::Status ErrnoToStatus(const std::string& context, int err);

}  // namespace imagen
