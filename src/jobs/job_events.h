// In-process fan-out of job changes (state, progress) for SSE streams,
// `Prefer: wait`, cancellation of running jobs and waking idle workers. The
// JobStore's listener feeds it; readers poll a per-job version number or
// watch a job (a callback on each change, e.g. to wake a waiting coroutine),
// which keeps coroutine handlers free of blocking waits. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jobs/job.h"

namespace imagen::jobs {

struct JobSnapshot {
  JobState state = JobState::kQueued;
  double progress = 0;
  bool cancel_requested = false;
  uint64_t version = 0;
};

class JobEvents {
 public:
  void Publish(const Job& job);
  // Latest snapshot of `id`, if it changed since the process started.
  std::optional<JobSnapshot> Get(const std::string& id) const;

  // Calls `fn` after every change of `id` (on the publishing thread, with no
  // lock held, so it must be quick) until Unwatch. Returns the handle.
  uint64_t Watch(const std::string& id, std::function<void()> fn);
  // After Unwatch returns, `fn` may still be running once on another thread.
  void Unwatch(const std::string& id, uint64_t handle);

  // Wakes a worker waiting for new work (called on every queued job).
  void NotifyWork();
  // Blocks up to `timeout` for NotifyWork; true if woken.
  bool WaitForWork(absl::Duration timeout);

 private:
  // Forgets the oldest finished jobs' snapshots down to `keep` entries.
  void TrimLocked(size_t keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, JobSnapshot> jobs_ ABSL_GUARDED_BY(mu_);
  uint64_t next_version_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, std::vector<std::pair<uint64_t, std::function<void()>>>> watchers_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_watch_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Mutex work_mu_;
  uint64_t work_tokens_ ABSL_GUARDED_BY(work_mu_) = 0;
};

}  // namespace imagen::jobs
