// The worker: leases one job, reads its input, runs its operation through the
// ops registry and an InferenceClient, writes the result blob and completes
// the job. Every store call is its own short transaction; none is open while
// the operation runs. Retryable failures requeue with backoff and jitter,
// others fail at once; a job past its deadline fails; a cancel request stops
// it. A StepHook lets fault tests "kill the process" between any two steps.
// One Worker is used by one thread at a time.
#pragma once

#include <atomic>
#include <functional>
#include <random>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "jobs/blob_store.h"
#include "jobs/job_events.h"
#include "jobs/job_store.h"
#include "jobs/retry_policy.h"
#include "ops/inference_client.h"
#include "ops/registry.h"

namespace imagen::worker {

// Called after each step ("leased", "input_read", "op_ran", "result_written",
// "completed") and before each write that ends an attempt ("finishing"). A non-OK status abandons the job on the spot,
// without any further write, exactly as if the process had died there.
using StepHook = std::function<absl::Status(std::string_view step, const std::string& job_id)>;

struct JobTiming {
  double queue_wait_s = 0;  // created -> this attempt started
  double processing_s = 0;  // lease -> finished
  double operation_s = 0;   // the operation's own run time
  std::string outcome;      // succeeded, retry, failed, dead, canceled, lost
};

struct WorkerOptions {
  absl::Duration lease = absl::Seconds(30);
  jobs::RetryOptions retry;
};

class Worker {
 public:
  Worker(jobs::JobStore* store, jobs::BlobStore* blobs, const ops::OpRegistry* registry,
         ops::InferenceClient* inference, jobs::JobEvents* events, WorkerOptions options, std::string owner);

  void SetStepHook(StepHook hook) { hook_ = std::move(hook); }
  void SetTimingObserver(std::function<void(const JobTiming&)> fn) { observe_ = std::move(fn); }
  // Called with (job id, progress) while the operation runs.
  void SetProgressSink(std::function<void(const std::string&, double)> fn) { progress_ = std::move(fn); }
  // When *flag becomes true, running operations are told to stop (shutdown).
  void SetAbortFlag(const std::atomic<bool>* flag) { abort_ = flag; }
  const std::string& owner() const { return owner_; }

  // Leases and processes one job. false when no job was runnable. An error
  // means the store failed (or a StepHook "killed" the worker).
  absl::StatusOr<bool> RunOne();

 private:
  absl::Status Step(std::string_view name, const std::string& job_id);
  absl::Status Process(const jobs::Job& job, JobTiming& timing);
  absl::Status FailOrRetry(const jobs::Job& job, const absl::Status& error, JobTiming& timing);
  // FailOrRetry that never throws (used after an operation threw).
  absl::Status FailOrRetrySafely(const jobs::Job& job, const absl::Status& error, JobTiming& timing);

  jobs::JobStore* store_;
  jobs::BlobStore* blobs_;
  const ops::OpRegistry* registry_;
  ops::InferenceClient* inference_;
  jobs::JobEvents* events_;
  WorkerOptions options_;
  jobs::RetryPolicy retry_;
  std::string owner_;
  StepHook hook_;
  std::function<void(const JobTiming&)> observe_;
  std::function<void(const std::string&, double)> progress_;
  const std::atomic<bool>* abort_ = nullptr;
  std::mt19937_64 rng_;
};

// snake_case name of a status code ("invalid_argument").
std::string ErrorCodeName(const absl::Status& status);

}  // namespace imagen::worker
