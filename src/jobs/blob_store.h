// BlobStore on a local folder. Inputs are content-addressed (SHA-256 of the
// bytes, so identical uploads share one file); a job's result lives at a path
// derived from the job id, so a job can never have two results. Every write
// is atomic (temp file, fsync, rename, fsync dir) through Env, so a crash or a
// full disk leaves either no blob or a whole one. Thread-safe.
//
// Layout: <root>/inputs/<aa>/<sha256>   <root>/results/<job_id>
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/env.h"

namespace imagen::jobs {

class BlobStore {
 public:
  BlobStore(Env* env, std::string root) : env_(env), root_(std::move(root)) {}

  // Creates the folders and removes temp files left by interrupted writes
  // (call at start-up, before any writer runs).
  absl::Status Init();
  // The reference of an input: the sha256 hex of its bytes.
  static std::string InputRef(std::string_view bytes);
  // Stores an input; returns its reference. Idempotent.
  absl::StatusOr<std::string> PutInput(std::string_view bytes);
  // Makes several inputs (ref, bytes) durable with one round of syncs: every
  // new one goes to a temp file, then all are fsynced (concurrently), renamed,
  // and each folder touched is fsynced once (concurrently). Inputs already
  // stored are kept (their folder is still synced). Fails as a whole; temp
  // files are removed. The Env must allow concurrent calls on distinct files.
  // Not safe against a concurrent call for the same ref: use one writer.
  absl::Status PutInputs(const std::vector<std::pair<std::string, std::string_view>>& inputs);
  absl::StatusOr<std::string> GetInput(const std::string& ref);
  absl::Status RemoveInput(const std::string& ref);

  // Writes (or atomically replaces) the result of `job_id`; returns its ref.
  absl::StatusOr<std::string> PutResult(const std::string& job_id, std::string_view bytes);
  absl::StatusOr<std::string> GetResult(const std::string& ref);
  absl::Status RemoveResult(const std::string& ref);

  bool ValidRef(const std::string& ref) const;
  std::string InputPath(const std::string& ref) const;
  std::string ResultPath(const std::string& ref) const;
  const std::string& root() const { return root_; }

 private:
  Env* env_;
  std::string root_;
};

}  // namespace imagen::jobs
