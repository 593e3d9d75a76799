// Sweeper: removes finished jobs past their retention with the blobs nothing
// references any more, and input files that no row names (orphans a
// `kill -9` left between a group's file sync and its commit) once they have
// been seen unreferenced for a grace period. Input files are removed only
// through BlobStore::RemoveInputIfUnreferenced, which re-checks under the
// claim lock that no submission claims the file and no committed row names
// it, so a submission of identical bytes racing with the sweep never loses
// its input. RunOnce is the whole decision (tests drive it with a FakeClock);
// Start runs it periodically on a thread. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "jobs/blob_store.h"
#include "jobs/job_store.h"

namespace imagen::jobs {

struct SweeperOptions {
  absl::Duration retention = absl::Hours(24);    // jobs.result_retention_seconds
  absl::Duration interval = absl::Seconds(60);   // jobs.sweep_interval_seconds
  absl::Duration orphan_grace = absl::Hours(1);  // jobs.orphan_grace_seconds
  int batch = 1000;                              // jobs swept per transaction
};

struct SweepReport {
  int jobs = 0;
  int results = 0;
  int inputs = 0;   // input files of swept jobs
  int orphans = 0;  // input files no row named for orphan_grace
};

// Called on the sweeping thread at "unreferenced" (an input of a swept job
// that nothing named when the sweep committed, before its removal) and
// "orphan" (an input file past its grace, before its removal). Tests pause
// here to race a submission against the removal.
using SweepHook = std::function<void(std::string_view step, const std::string& ref)>;

class Sweeper {
 public:
  Sweeper(JobStore* store, BlobStore* blobs, Clock* clock, SweeperOptions options);
  ~Sweeper();
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Set before Start.
  void SetHook(SweepHook hook) { hook_ = std::move(hook); }
  // One sweep: finished jobs past retention, then the orphan scan.
  absl::StatusOr<SweepReport> RunOnce();
  void Start();
  void Stop();

 private:
  void Hook(std::string_view step, const std::string& ref) {
    if (hook_) hook_(step, ref);
  }
  absl::StatusOr<bool> RemoveIfUnreferenced(const std::string& ref);
  absl::Status SweepOrphans(SweepReport& report) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);

  JobStore* store_;
  BlobStore* blobs_;
  Clock* clock_;
  const SweeperOptions options_;
  SweepHook hook_;
  absl::Mutex run_mu_;  // one RunOnce at a time
  // Input files seen unreferenced, and when first (reset when referenced).
  std::map<std::string, absl::Time> unreferenced_since_ ABSL_GUARDED_BY(run_mu_);
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace imagen::jobs
