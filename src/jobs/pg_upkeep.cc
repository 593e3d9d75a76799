// PgQueue: upkeep run by one elected process (stager, reaper), the sweeper,
// and PgWakeup (LISTEN for idle workers).
//
// Leadership only saves work: every upkeep statement locks the rows it
// changes (FOR UPDATE SKIP LOCKED) and re-checks their state, so two
// processes that both believe they lead (e.g. during a network partition,
// before the old leader notices its session is gone) cannot corrupt a job.
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "jobs/pg_queue.h"
#include "jobs/pg_rows.h"
#include "jobs/pg_schema.h"

namespace imagen::jobs::pg {

using internal::JobColumns;
using internal::RowToJob;

// ---------------------------------------------------------------- leader

bool PgQueue::IsLeader() const {
  absl::MutexLock lock(&leader_mu_);
  return leader_conn_ != nullptr && leader_;
}

void PgQueue::ResignLeader() {
  absl::MutexLock lock(&leader_mu_);
  // Unlock explicitly: a closed session releases its locks too, but only
  // once its backend has noticed, so a successor could still be refused.
  if (leader_conn_ != nullptr && leader_) {
    (void)leader_conn_->Exec("SELECT pg_advisory_unlock($1)", PgParams().Int(kLeaderLockKey));
  }
  leader_conn_.reset();
  leader_ = false;
}

absl::StatusOr<bool> PgQueue::AcquireLeader() {
  absl::MutexLock lock(&leader_mu_);
  if (leader_conn_ == nullptr) {
    ASSIGN_OR_RETURN(leader_conn_, PgConn::Connect(uri_));
    leader_reconnects_ = leader_conn_->reconnects();
    leader_ = false;
  }
  if (leader_) {
    // Still the same session? A reconnect dropped the lock with it.
    absl::Status alive = leader_conn_->Exec("SELECT 1").status();
    if (alive.ok() && leader_conn_->reconnects() == leader_reconnects_) return true;
    leader_ = false;
    spdlog::warn("lost the upkeep leadership: {}", alive.ok() ? "reconnected" : std::string(alive.message()));
  }
  ASSIGN_OR_RETURN(auto r, leader_conn_->Exec("SELECT pg_try_advisory_lock($1)", PgParams().Int(kLeaderLockKey)));
  leader_reconnects_ = leader_conn_->reconnects();
  leader_ = r.Bool(0, 0);
  return leader_;
}

absl::StatusOr<UpkeepResult> PgQueue::Upkeep(int limit) {
  UpkeepResult out;
  ASSIGN_OR_RETURN(out.leader, AcquireLeader());
  if (!out.leader) return out;
  ASSIGN_OR_RETURN(out.staged, StageDue(limit));
  ASSIGN_OR_RETURN(auto reaped, ReapExpired(limit));
  out.requeued = reaped.first;
  out.ended = reaped.second;
  return out;
}

// ---------------------------------------------------------------- stager

absl::StatusOr<int> PgQueue::StageDue(int limit) {
  auto c = pool_->Acquire();
  PgTx tx(c.get());
  RETURN_IF_ERROR(tx.Begin());
  ASSIGN_OR_RETURN(auto r, c->Exec("WITH s AS (SELECT id FROM jobs WHERE state='scheduled' AND "
                                   "run_after <= ('epoch'::timestamptz + $1::int8 * interval '1 us') ORDER BY "
                                   "run_after LIMIT $2 FOR UPDATE SKIP LOCKED) "
                                   "UPDATE jobs j SET state='queued', updated_at=('epoch'::timestamptz + $1::int8 * "
                                   "interval '1 us') FROM s WHERE j.id=s.id",
                                   PgParams().Int(NowUs()).Int(limit)));
  int n = static_cast<int>(r.Affected());
  if (n > 0) RETURN_IF_ERROR(c->Exec("SELECT pg_notify($1, '')", PgParams().Text(kWorkChannel)).status());
  RETURN_IF_ERROR(tx.Commit());
  return n;
}

// ---------------------------------------------------------------- reaper

absl::StatusOr<std::pair<int, int>> PgQueue::ReapExpired(int limit) {
  const int64_t now = NowUs();
  std::vector<Job> changed;
  int requeued = 0, ended = 0;
  {
    auto c = pool_->Acquire();
    PgTx tx(c.get());
    RETURN_IF_ERROR(tx.Begin());
    // The attempt that died counts: a job that kills its worker goes dead.
    ASSIGN_OR_RETURN(
        auto r,
        c->Exec(absl::StrCat("WITH x AS (SELECT id, CASE WHEN deadline_at IS NOT NULL AND deadline_at <= "
                             "('epoch'::timestamptz + $1::int8 * interval '1 us') "
                             "THEN 'failed' WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END AS to_state "
                             "FROM jobs WHERE state='running' AND lease_expires_at < ('epoch'::timestamptz + $1::int8 "
                             "* interval '1 us') "
                             "ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
                             "UPDATE jobs j SET state=x.to_state, lease_owner=NULL, lease_expires_at=NULL, "
                             "updated_at=('epoch'::timestamptz + $1::int8 * interval '1 us'), "
                             "finished_at=CASE WHEN x.to_state <> 'queued' THEN ('epoch'::timestamptz + $1::int8 * "
                             "interval '1 us') END, "
                             "error_code=CASE x.to_state WHEN 'failed' THEN 'deadline_exceeded' "
                             "WHEN 'dead' THEN 'lease_expired' ELSE j.error_code END, "
                             "error_message=CASE x.to_state "
                             "WHEN 'failed' THEN 'the job''s deadline passed before it could finish' "
                             "WHEN 'dead' THEN 'the worker running attempt ' || j.attempts || "
                             "' stopped heartbeating; no attempts left' ELSE j.error_message END "
                             "FROM x WHERE j.id=x.id RETURNING ",
                             JobColumns("j")),
                PgParams().Int(now).Int(limit)));
    for (int i = 0; i < r.Rows(); ++i) {
      Job j = RowToJob(r, i);
      if (j.state == JobState::kQueued) {
        ++requeued;
      } else {
        ++ended;
        RETURN_IF_ERROR(internal::EnqueueWebhook(*c, j, clock_->Now()));
      }
      changed.push_back(std::move(j));
    }
    if (requeued > 0) RETURN_IF_ERROR(c->Exec("SELECT pg_notify($1, '')", PgParams().Text(kWorkChannel)).status());
    RETURN_IF_ERROR(tx.Commit());
  }
  for (const Job& j : changed) {
    LogEvent(spdlog::level::info, "job transition",
             {{"job_id", j.id},
              {"from", "running"},
              {"to", JobStateName(j.state)},
              {"operation", j.operation},
              {"attempt", std::to_string(j.attempts)},
              {"error", j.error_code.empty() ? "lease_expired" : j.error_code}});
    Notify(j);
  }
  return std::make_pair(requeued, ended);
}

// ---------------------------------------------------------------- sweeper

absl::StatusOr<SweptBlobs> PgQueue::SweepFinished(absl::Time cutoff, int limit) {
  SweptBlobs out;
  auto c = pool_->Acquire();
  PgTx tx(c.get());
  RETURN_IF_ERROR(tx.Begin());
  ASSIGN_OR_RETURN(auto r, c->Exec("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN "
                                   "('succeeded','failed','canceled','dead') AND finished_at < ('epoch'::timestamptz + "
                                   "$1::int8 * interval '1 us') "
                                   "ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
                                   "RETURNING id, input_ref, result_ref",
                                   PgParams().Int(absl::ToUnixMicros(cutoff)).Int(limit)));
  std::vector<std::string> inputs;
  for (int i = 0; i < r.Rows(); ++i) {
    out.job_ids.emplace_back(r.Text(i, 0));
    inputs.emplace_back(r.Text(i, 1));
    if (!r.IsNull(i, 2)) out.result_refs.emplace_back(r.Text(i, 2));
  }
  if (out.job_ids.empty()) {
    RETURN_IF_ERROR(tx.Commit());
    return out;
  }
  RETURN_IF_ERROR(
      c->Exec("DELETE FROM webhook_deliveries WHERE job_id = ANY($1::text[])", PgParams().TextArray(out.job_ids))
          .status());
  // Exclusive locks on the refs wait for every submit that holds a share
  // lock on one of them (it names the ref in an uncommitted row); the next
  // statement's snapshot then sees those rows.
  RETURN_IF_ERROR(c->Exec("SELECT count(pg_advisory_xact_lock(hashtextextended(r, 0))) "
                          "FROM (SELECT r FROM unnest($1::text[]) r ORDER BY hashtextextended(r, 0)) x",
                          PgParams().TextArray(inputs))
                      .status());
  ASSIGN_OR_RETURN(auto u, c->Exec("SELECT DISTINCT r FROM unnest($1::text[]) r "
                                   "WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE input_ref = r)",
                                   PgParams().TextArray(inputs)));
  for (int i = 0; i < u.Rows(); ++i) out.input_refs.emplace_back(u.Text(i, 0));
  if (!out.input_refs.empty()) {
    RETURN_IF_ERROR(
        c->Exec("DELETE FROM inline_inputs WHERE ref = ANY($1::text[])", PgParams().TextArray(out.input_refs))
            .status());
  }
  RETURN_IF_ERROR(tx.Commit());
  return out;
}

// ---------------------------------------------------------------- wakeup

absl::StatusOr<std::unique_ptr<PgWakeup>> PgWakeup::Open(const std::string& uri) {
  ASSIGN_OR_RETURN(auto conn, PgConn::Connect(uri));
  RETURN_IF_ERROR(conn->Listen(kWorkChannel));
  RETURN_IF_ERROR(conn->Listen(kCancelChannel));
  return std::unique_ptr<PgWakeup>(new PgWakeup(std::move(conn)));
}

absl::StatusOr<PgWakeup::Wake> PgWakeup::Wait(absl::Duration timeout) {
  Wake out;
  int before = conn_->reconnects();
  absl::StatusOr<std::vector<PgNotification>> got = conn_->WaitForNotifications(timeout);
  if (!got.ok()) {
    if (!absl::IsUnavailable(got.status())) return got.status();
    // Lost: reconnect (renewing the LISTENs) and let the caller poll once.
    RETURN_IF_ERROR(conn_->EnsureConnected());
    out.work = true;
    return out;
  }
  if (conn_->reconnects() != before) out.work = true;
  for (const PgNotification& n : *got) {
    if (n.channel == kCancelChannel) {
      out.canceled.push_back(n.payload);
    } else {
      out.work = true;
    }
  }
  return out;
}

}  // namespace imagen::jobs::pg
