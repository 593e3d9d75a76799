// JobStore: leasing (fair order across keys, max_concurrent, expired
// leases, deadlines) and heartbeats.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "jobs/job_store.h"
#include "jobs/job_store_rows.h"

namespace imagen::jobs {

using store_internal::kJobColumns;
using store_internal::RowToJob;

absl::StatusOr<bool> JobStore::KeyHasCapacityLocked(const std::string& key_id) {
  ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT max_concurrent, (SELECT COUNT(*) FROM jobs WHERE key_id=?1 AND "
                                        "state='running') FROM api_keys WHERE id=?1"));
  q.Bind(1, key_id);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row || q.Int(0) <= 0) return true;
  return q.Int(1) < q.Int(0);
}

absl::StatusOr<std::optional<Job>> JobStore::NextQueuedLocked(int64_t now) {
  // 1. Jobs of keys allowed to go first (ApiKey::max_priority > 0).
  {
    ASSIGN_OR_RETURN(auto q, db_->Prepare(absl::StrCat("SELECT ", kJobColumns,
                                                       " FROM jobs WHERE state='queued' AND boost>0 AND run_after<=? "
                                                       "ORDER BY boost DESC, seq LIMIT 32")));
    q.Bind(1, now);
    std::vector<Job> boosted;
    RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { boosted.push_back(RowToJob(r)); }));
    for (Job& j : boosted) {
      ASSIGN_OR_RETURN(bool room, KeyHasCapacityLocked(j.key_id));
      if (room) return std::move(j);
    }
  }
  // 2. Round robin over the keys with queued jobs (one index probe per key:
  // a skip scan of jobs_queue), least recently served first.
  ASSIGN_OR_RETURN(auto k, db_->Prepare("WITH RECURSIVE k(id) AS (SELECT MIN(key_id) FROM jobs WHERE state='queued' "
                                        "UNION ALL SELECT (SELECT MIN(key_id) FROM jobs WHERE state='queued' AND "
                                        "key_id>k.id) FROM k WHERE k.id IS NOT NULL) SELECT id FROM k WHERE id IS NOT "
                                        "NULL"));
  std::vector<std::string> ids;
  RETURN_IF_ERROR(k.ForEachRow([&](const Stmt& r) { ids.push_back(r.Text(0)); }));
  std::vector<std::pair<uint64_t, std::string>> keys;
  for (std::string& id : ids) {
    auto it = last_served_.find(id);
    keys.emplace_back(it == last_served_.end() ? 0 : it->second, std::move(id));
  }
  std::sort(keys.begin(), keys.end());
  for (const auto& [served, key_id] : keys) {
    ASSIGN_OR_RETURN(auto q, db_->Prepare(absl::StrCat("SELECT ", kJobColumns,
                                                       " FROM jobs WHERE state='queued' AND key_id=? AND run_after<=? "
                                                       "ORDER BY priority DESC, seq LIMIT 1")));
    q.Bind(1, key_id).Bind(2, now);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) continue;  // only jobs waiting for a retry
    ASSIGN_OR_RETURN(bool room, KeyHasCapacityLocked(key_id));
    if (room) return RowToJob(q);
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<Job>> JobStore::Lease(const std::string& owner, absl::Duration lease) {
  std::vector<std::pair<Job, JobState>> changed;  // notified after commit
  std::optional<Job> leased;
  std::optional<uint64_t> ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    int64_t now = NowUs();
    for (int guard = 0; guard < 64 && !leased; ++guard) {
      // A running job whose lease expired: its worker died.
      std::optional<Job> candidate;
      {
        // A running job whose lease expired: its worker died.
        ASSIGN_OR_RETURN(auto q, db_->Prepare(absl::StrCat("SELECT ", kJobColumns,
                                                           " FROM jobs WHERE state='running' AND lease_expires_at<? "
                                                           "ORDER BY priority DESC, seq LIMIT 1")));
        q.Bind(1, now);
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (row) candidate = RowToJob(q);
      }
      if (!candidate) {
        ASSIGN_OR_RETURN(candidate, NextQueuedLocked(now));
        if (!candidate) break;
      }
      Job job = std::move(*candidate);
      JobState from = job.state;
      if (job.deadline_at && absl::ToUnixMicros(*job.deadline_at) <= now) {
        RETURN_IF_ERROR(SetStateLocked(job.id, JobState::kFailed, "deadline_exceeded",
                                       "the job's deadline passed before it could finish"));
        ASSIGN_OR_RETURN(auto j2, GetLocked(job.id));
        RETURN_IF_ERROR(EnqueueWebhookLocked(*j2));
        changed.emplace_back(*j2, from);
        continue;
      }
      if (job.state == JobState::kRunning && job.attempts >= job.max_attempts) {
        RETURN_IF_ERROR(SetStateLocked(
            job.id, JobState::kDead, "lease_expired",
            absl::StrCat("the worker running attempt ", job.attempts, " stopped heartbeating; no attempts left")));
        ASSIGN_OR_RETURN(auto j2, GetLocked(job.id));
        RETURN_IF_ERROR(EnqueueWebhookLocked(*j2));
        changed.emplace_back(*j2, from);
        continue;
      }
      ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE jobs SET state='running', attempts=attempts+1, lease_owner=?, "
                                             "lease_expires_at=?, started_at=COALESCE(started_at, ?), updated_at=?, "
                                             "progress=0 WHERE id=?"));
      up.Bind(1, owner).Bind(2, now + absl::ToInt64Microseconds(lease)).Bind(3, now).Bind(4, now).Bind(5, job.id);
      RETURN_IF_ERROR(up.Run());
      ASSIGN_OR_RETURN(leased, GetLocked(job.id));
      last_served_[job.key_id] = ++serve_counter_;
      changed.emplace_back(*leased, from);
    }
    RETURN_IF_ERROR(tx.Commit());
    // A job that ended here queued its webhook, which must not be undone.
    if (changed.size() > (leased ? 1u : 0u)) ticket = wal_->Committed();
  }
  if (ticket) RETURN_IF_ERROR(wal_->SyncThrough(*ticket));
  for (auto& [job, from] : changed) Notify(job, from);
  return leased;
}

absl::Status JobStore::Heartbeat(const std::string& id, const std::string& owner, absl::Duration lease,
                                 double progress) {
  std::optional<Job> job;
  {
    absl::MutexLock lock(&mu_);
    int64_t now = NowUs();
    ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE jobs SET lease_expires_at=?, progress=?, updated_at=? "
                                           "WHERE id=? AND state='running' AND lease_owner=?"));
    up.Bind(1, now + absl::ToInt64Microseconds(lease)).Bind(2, progress).Bind(3, now).Bind(4, id).Bind(5, owner);
    RETURN_IF_ERROR(up.Run());
    if (db_->Changes() == 0) return absl::FailedPreconditionError(absl::StrCat("lease on job ", id, " was lost"));
    ASSIGN_OR_RETURN(job, GetLocked(id));
  }
  if (job && listener_) listener_(*job);
  return absl::OkStatus();
}

}  // namespace imagen::jobs
