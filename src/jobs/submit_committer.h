// SubmitCommitter: group commit of job submissions. Submitters queue a new
// job with its input bytes; one committer thread takes everything queued,
// makes the large inputs durable as files in one round of concurrent syncs
// (BlobStore::PutInputs), then inserts all the job rows, and the small inputs
// inline with them, in ONE transaction (one WAL fsync), and only then calls
// each submitter back: an OK answer means both the row and its input survive
// a crash or power loss. A failure of any step fails every member of the
// group with that error. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jobs/blob_store.h"
#include "jobs/job_store.h"

namespace imagen::jobs {

// Runs on the committer thread; must not block for long.
using SubmitCallback = std::function<void(absl::StatusOr<CreateResult>)>;
// Called between the steps of a group ("inputs_durable", "committed"); a
// non-OK status fails the group there, as if the process had died (tests).
using CommitStepHook = std::function<absl::Status(std::string_view step)>;

struct SubmitCommitterOptions {
  int max_group = 256;
  // Inputs up to this size go into the job database with their row (no file,
  // no fsync of their own); larger ones become files synced before the commit.
  size_t max_inline_bytes = 256 * 1024;
};

struct SubmitCommitterStats {
  int64_t groups = 0;
  int64_t submissions = 0;
  int64_t largest_group = 0;
};

class SubmitCommitter {
 public:
  SubmitCommitter(JobStore* store, BlobStore* blobs, SubmitCommitterOptions options = {});
  // Commits what is queued, then stops the thread.
  ~SubmitCommitter();
  SubmitCommitter(const SubmitCommitter&) = delete;
  SubmitCommitter& operator=(const SubmitCommitter&) = delete;

  // Queues `job` with its input. `input` must stay valid until `done` ran.
  // An empty job.input_ref is filled in with BlobStore::InputRef(input).
  void Submit(NewJob job, std::string_view input, SubmitCallback done);
  // Submit and block until the group is durable.
  absl::StatusOr<CreateResult> SubmitAndWait(NewJob job, std::string_view input);

  // Set before the first Submit.
  void SetStepHook(CommitStepHook hook) { hook_ = std::move(hook); }
  SubmitCommitterStats stats() const;

 private:
  struct Pending {
    NewJob job;
    std::string_view input;
    SubmitCallback done;
    bool answered = false;
  };
  void Loop();
  void CommitGroup(std::deque<Pending>& group);
  void FailUnanswered(std::deque<Pending>& group, const absl::Status& error);
  absl::Status Step(std::string_view name);

  JobStore* store_;
  BlobStore* blobs_;
  const SubmitCommitterOptions options_;
  CommitStepHook hook_;
  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  SubmitCommitterStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// True when a Submit failed because its input could not be stored (the API
// answers 507), rather than in the job store.
bool IsInputStorageError(const absl::Status& status);

// The input of a job, wherever the committer put it (inline or a file).
absl::StatusOr<std::string> ReadJobInput(JobStore* store, BlobStore* blobs, const std::string& ref);

}  // namespace imagen::jobs
