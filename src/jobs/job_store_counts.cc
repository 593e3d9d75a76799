// JobStore::CountByStateAndOperation: the admin view's queue depth per
// operation (GET /api/v1/admin/queue, src/api/admin_queue.cc).
#include "common/status_macros.h"
#include "jobs/job_store.h"

namespace imagen::jobs {

absl::StatusOr<std::map<std::string, std::map<std::string, int64_t>>> JobStore::CountByStateAndOperation() {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare("SELECT operation, state, COUNT(*) FROM jobs GROUP BY operation, state"));
  std::map<std::string, std::map<std::string, int64_t>> out;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) {
    auto& by_state = out[r.Text(0)];
    if (by_state.empty()) {
      for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                         JobState::kCanceled, JobState::kDead}) {
        by_state[JobStateName(s)] = 0;
      }
    }
    by_state[r.Text(1)] = r.Int(2);
  }));
  return out;
}

}  // namespace imagen::jobs
