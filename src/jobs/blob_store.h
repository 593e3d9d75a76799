// BlobStore on a local folder. Inputs are content-addressed (SHA-256 of the
// bytes, so identical uploads share one file); a job's result lives at a path
// derived from the job id, so a job can never have two results. Every write
// is atomic (temp file, fsync, rename, fsync dir) through Env, so a crash or a
// full disk leaves either no blob or a whole one. Folders are created 0700 and
// files 0600 (Env). Thread-safe.
//
// Inputs are shared, so removing one is a protocol between the submissions
// that are about to name it and the sweeper: a submission claims its inputs
// (ClaimInputs) before it looks at their files and holds the claim until its
// rows are committed; RemoveInputIfUnreferenced removes a file only while
// nobody claims it and, asked under the same lock, no committed row names it.
//
// Layout: <root>/inputs/<aa>/<sha256>   <root>/results/<job_id>
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/env.h"

namespace imagen::jobs {

class BlobStore;

// Inputs a submission is about to reference; released when destroyed.
class InputClaim {
 public:
  InputClaim() = default;
  InputClaim(BlobStore* blobs, std::vector<std::string> refs) : blobs_(blobs), refs_(std::move(refs)) {}
  InputClaim(InputClaim&& o) noexcept : blobs_(o.blobs_), refs_(std::move(o.refs_)) { o.blobs_ = nullptr; }
  InputClaim& operator=(InputClaim&& o) noexcept;
  InputClaim(const InputClaim&) = delete;
  InputClaim& operator=(const InputClaim&) = delete;
  ~InputClaim() { Release(); }
  void Release();

 private:
  BlobStore* blobs_ = nullptr;
  std::vector<std::string> refs_;
};

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
  // Removes an input file unless a submission claims it or the reference
  // check (SetReferenceCheck) says a committed row names it; without a check
  // the file is kept (never lose an accepted input). Prefer
  // RemoveInputIfUnreferenced.
  absl::Status RemoveInput(const std::string& ref);
  // What RemoveInput asks before it removes (the SubmitCommitter registers
  // JobStore::InputReferenced for the store it commits to). Empty: unset.
  void SetReferenceCheck(std::function<absl::StatusOr<bool>(const std::string& ref)> referenced);

  // Claims `refs` for a submission (see the top). Blocks while a removal of
  // one of them is in progress, so a claim taken after that removal sees the
  // file gone and writes it again.
  InputClaim ClaimInputs(std::vector<std::string> refs);
  // Removes the input file `ref` if no submission claims it and
  // `referenced()` (called under the claim lock) returns false. Returns true
  // when the file was removed (or was already gone).
  absl::StatusOr<bool> RemoveInputIfUnreferenced(const std::string& ref,
                                                 const std::function<absl::StatusOr<bool>()>& referenced);
  // The references of every input stored as a file (temp files excluded).
  absl::StatusOr<std::vector<std::string>> ListInputs();
  bool InputClaimed(const std::string& ref);

  // Writes (or atomically replaces) the result of `job_id`; returns its ref.
  absl::StatusOr<std::string> PutResult(const std::string& job_id, std::string_view bytes);
  absl::StatusOr<std::string> GetResult(const std::string& ref);
  absl::Status RemoveResult(const std::string& ref);

  bool ValidRef(const std::string& ref) const;
  std::string InputPath(const std::string& ref) const;
  std::string ResultPath(const std::string& ref) const;
  const std::string& root() const { return root_; }

 private:
  friend class InputClaim;
  void Unclaim(const std::vector<std::string>& refs);

  Env* env_;
  std::string root_;
  absl::Mutex claims_mu_;
  std::function<absl::StatusOr<bool>(const std::string&)> referenced_ ABSL_GUARDED_BY(claims_mu_);
  std::map<std::string, int> claims_ ABSL_GUARDED_BY(claims_mu_);  // ref -> submissions holding it
};

}  // namespace imagen::jobs
