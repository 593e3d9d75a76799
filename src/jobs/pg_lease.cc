// PgQueue: the worker side — lease, heartbeats, finishing a job, cancel,
// release and replay.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "jobs/pg_queue.h"
#include "jobs/pg_rows.h"

namespace imagen::jobs::pg {

using internal::JobColumns;
using internal::RowToJob;

namespace {

void LogTransition(const Job& job, const char* from) {
  LogEvent(spdlog::level::info, "job transition",
           {{"job_id", job.id},
            {"from", from},
            {"to", JobStateName(job.state)},
            {"operation", job.operation},
            {"attempt", std::to_string(job.attempts)},
            {"error", job.error_code}});
}

// Why a running-job update matched nothing.
absl::Status LeaseLost(PgConn& c, const std::string& id, const std::string& owner) {
  ASSIGN_OR_RETURN(auto r, c.Exec("SELECT state FROM jobs WHERE id=$1", PgParams().Text(id)));
  if (r.Rows() == 0) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
  return absl::FailedPreconditionError(
      absl::StrCat("job ", id, " is ", std::string(r.Text(0, 0)), " and no longer leased by ", owner));
}

}  // namespace

absl::StatusOr<std::optional<Job>> PgQueue::Lease(const std::string& owner, absl::Duration lease) {
  const std::string sql = absl::StrCat(
      // h: whose turn it is (boost across keys, then fair-queuing order),
      // locked so concurrent leasers move on to the next turn. c: a job of
      // that key with a higher priority than h's, if any (its priority
      // first): it takes the turn, and h's row inherits c's virtual time (sw),
      // so the key has used its earliest turn, not its latest. The common
      // case (one priority per key) costs c an empty index range. LATERAL
      // makes h's key, boost and priority constants there, so the key's
      // index gives the order.
      "WITH h AS MATERIALIZED (SELECT id, key_id, boost, priority FROM jobs WHERE state='queued' AND NOT blocked "
      "ORDER BY boost DESC, vt, seq LIMIT 1 FOR UPDATE SKIP LOCKED), "
      "c AS MATERIALIZED (SELECT x.id, x.vt FROM h, LATERAL (SELECT j.id, j.vt FROM jobs j "
      "WHERE j.state='queued' AND NOT j.blocked AND j.key_id=h.key_id AND j.boost=h.boost AND "
      "j.priority>h.priority ORDER BY j.priority DESC, j.vt, j.seq LIMIT 1 FOR UPDATE SKIP LOCKED) x), "
      "sw AS (UPDATE jobs s SET vt=c.vt FROM h, c WHERE s.id=h.id), "
      "pick AS (SELECT coalesce((SELECT id FROM c), (SELECT id FROM h)) AS id) "
      "UPDATE jobs j SET state='running', attempts=j.attempts+1, lease_owner=$1, "
      "lease_expires_at=('epoch'::timestamptz + $2::int8 * interval '1 us'), "
      "started_at=coalesce(j.started_at, ('epoch'::timestamptz + $3::int8 * interval '1 us')), "
      "updated_at=('epoch'::timestamptz + $3::int8 * interval '1 us'), progress=0 "
      "FROM pick WHERE j.id=pick.id RETURNING ",
      JobColumns("j"));
  for (int guard = 0; guard < 64; ++guard) {
    int64_t now = NowUs();
    std::optional<Job> job;
    {
      auto c = apool_->Acquire();
      ASSIGN_OR_RETURN(auto r,
                       c->Exec(sql, PgParams().Text(owner).Int(now + absl::ToInt64Microseconds(lease)).Int(now)));
      if (r.Rows() == 0) return std::nullopt;
      job = RowToJob(r, 0);
    }
    if (job->deadline_at && absl::ToUnixMicros(*job->deadline_at) <= now) {
      RETURN_IF_ERROR(Finish(job->id, owner, JobState::kFailed, "", "", "deadline_exceeded",
                             "the job's deadline passed before it could finish", std::nullopt));
      continue;
    }
    LogTransition(*job, "queued");
    Notify(*job);
    return job;
  }
  return std::nullopt;
}

absl::Status PgQueue::Heartbeat(const std::string& id, const std::string& owner, absl::Duration lease,
                                double progress) {
  int64_t now = NowUs();
  std::optional<Job> job;
  {
    auto c = apool_->Acquire();
    ASSIGN_OR_RETURN(
        auto r,
        c->Exec(
            absl::StrCat(
                "UPDATE jobs SET lease_expires_at=('epoch'::timestamptz + $1::int8 * interval '1 us'), progress=$2, "
                "updated_at=('epoch'::timestamptz + $3::int8 * interval '1 us') WHERE id=$4 AND state='running' AND "
                "lease_owner=$5 RETURNING ",
                JobColumns()),
            PgParams().Int(now + absl::ToInt64Microseconds(lease)).Double(progress).Int(now).Text(id).Text(owner)));
    if (r.Rows() == 0) return absl::FailedPreconditionError(absl::StrCat("lease on job ", id, " was lost"));
    job = RowToJob(r, 0);
  }
  Notify(*job);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> PgQueue::HeartbeatProcess(const std::string& process_id,
                                                                   const std::string& role, absl::Duration lease) {
  char host[256] = {0};
  (void)gethostname(host, sizeof(host) - 1);
  int64_t now = NowUs();
  auto c = apool_->Acquire();
  ASSIGN_OR_RETURN(
      auto r,
      c->Exec("WITH w AS (INSERT INTO workers(id,host,pid,role,heartbeat_at) "
              "VALUES($1,$2,$3,$4,('epoch'::timestamptz + $5::int8 * interval '1 us')) ON CONFLICT (id) DO UPDATE SET "
              "heartbeat_at=excluded.heartbeat_at, host=excluded.host, pid=excluded.pid) "
              "UPDATE jobs SET lease_expires_at=('epoch'::timestamptz + $6::int8 * interval '1 us') WHERE "
              "state='running' AND "
              "starts_with(lease_owner, $1 || '/') RETURNING id, cancel_requested",
              PgParams()
                  .Text(process_id)
                  .Text(host)
                  .Int(getpid())
                  .Text(role)
                  .Int(now)
                  .Int(now + absl::ToInt64Microseconds(lease))));
  std::vector<std::string> canceled;
  for (int i = 0; i < r.Rows(); ++i) {
    if (r.Bool(i, 1)) canceled.emplace_back(r.Text(i, 0));
  }
  return canceled;
}

// `to` kQueued means "retry": 'scheduled' until run_after, or dead when the
// job has no attempt left.
absl::Status PgQueue::Finish(const std::string& id, const std::string& owner, JobState to,
                             const std::string& result_ref, const std::string& result_type,
                             const std::string& error_code, const std::string& message,
                             std::optional<int64_t> run_after_us) {
  if (to == JobState::kRunning) return absl::InternalError("illegal transition running -> running");
  const int64_t now = NowUs();
  std::optional<Job> after;
  if (IsTerminal(to)) {
    // The common case in one statement (one durable commit): a job without a
    // webhook, so no outbox row. Anything else takes the transaction below.
    auto c = pool_->Acquire();
    ASSIGN_OR_RETURN(
        auto r,
        c->Exec(absl::StrCat("UPDATE jobs SET state=$3, updated_at=('epoch'::timestamptz + $4::int8 * interval '1 "
                             "us'), finished_at=('epoch'::timestamptz + $4::int8 * interval '1 us'), "
                             "lease_owner=NULL, lease_expires_at=NULL, result_ref=$5, result_type=$6, error_code=$7, "
                             "error_message=$8, progress=CASE WHEN $3='succeeded' THEN 1 ELSE progress END "
                             "WHERE id=$1 AND state='running' AND lease_owner=$2 AND webhook_url IS NULL RETURNING ",
                             JobColumns()),
                PgParams()
                    .Text(id)
                    .Text(owner)
                    .Text(JobStateName(to))
                    .Int(now)
                    .TextOrNull(result_ref)
                    .TextOrNull(result_type)
                    .TextOrNull(error_code)
                    .TextOrNull(message)));
    if (r.Rows() == 1) after = RowToJob(r, 0);
  }
  if (!after) {
    auto c = pool_->Acquire();
    PgTx tx(c.get());
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(
        auto r,
        c->Exec(absl::StrCat(
                    "WITH cur AS (SELECT id, CASE WHEN $3 <> 'retry' THEN $3 WHEN attempts >= max_attempts THEN 'dead' "
                    "WHEN $9::bigint > $4::bigint THEN 'scheduled' ELSE 'queued' END AS to_state FROM jobs "
                    "WHERE id=$1 AND state='running' AND lease_owner=$2 FOR UPDATE) "
                    "UPDATE jobs j SET state=cur.to_state, updated_at=('epoch'::timestamptz + $4::int8 * interval '1 "
                    "us'), lease_owner=NULL, "
                    "lease_expires_at=NULL, result_ref=$5, result_type=$6, error_code=$7, error_message=$8, "
                    "run_after=coalesce(('epoch'::timestamptz + $9::int8 * interval '1 us'), j.run_after), "
                    "finished_at=CASE WHEN cur.to_state IN ('succeeded','failed','canceled','dead') "
                    "THEN ('epoch'::timestamptz + $4::int8 * interval '1 us') END, "
                    "progress=CASE WHEN cur.to_state='succeeded' THEN 1 ELSE j.progress END "
                    "FROM cur WHERE j.id=cur.id RETURNING ",
                    JobColumns("j")),
                PgParams()
                    .Text(id)
                    .Text(owner)
                    .Text(to == JobState::kQueued ? "retry" : JobStateName(to))
                    .Int(now)
                    .TextOrNull(result_ref)
                    .TextOrNull(result_type)
                    .TextOrNull(error_code)
                    .TextOrNull(message)
                    .IntOrNull(run_after_us)));
    if (r.Rows() == 0) return LeaseLost(*c, id, owner);
    after = RowToJob(r, 0);
    RETURN_IF_ERROR(internal::EnqueueWebhook(*c, *after, clock_->Now()));
    if (after->state == JobState::kQueued && (!run_after_us || *run_after_us <= now)) {
      RETURN_IF_ERROR(c->Exec("SELECT pg_notify($1, '')", PgParams().Text(kWorkChannel)).status());
    }
    RETURN_IF_ERROR(tx.Commit());
  }
  LogTransition(*after, "running");
  Notify(*after);
  return absl::OkStatus();
}

absl::Status PgQueue::Complete(const std::string& id, const std::string& owner, const std::string& result_ref,
                               const std::string& result_type) {
  return Finish(id, owner, JobState::kSucceeded, result_ref, result_type, "", "", std::nullopt);
}

absl::Status PgQueue::Retry(const std::string& id, const std::string& owner, absl::Time run_after,
                            const std::string& error_code, const std::string& message) {
  return Finish(id, owner, JobState::kQueued, "", "", error_code, message, absl::ToUnixMicros(run_after));
}

absl::Status PgQueue::Fail(const std::string& id, const std::string& owner, JobState state,
                           const std::string& error_code, const std::string& message) {
  if (!IsTerminal(state) || state == JobState::kSucceeded) {
    return absl::InvalidArgumentError("Fail needs an error state");
  }
  return Finish(id, owner, state, "", "", error_code, message, std::nullopt);
}

absl::StatusOr<Job> PgQueue::Cancel(const std::string& id) {
  const int64_t now = NowUs();
  Job after;
  JobState from;
  {
    auto c = pool_->Acquire();
    PgTx tx(c.get());
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(auto r, c->Exec(absl::StrCat("SELECT ", JobColumns(), " FROM jobs WHERE id=$1 FOR UPDATE"),
                                     PgParams().Text(id)));
    if (r.Rows() == 0) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
    after = RowToJob(r, 0);
    from = after.state;
    if (after.state == JobState::kQueued) {
      ASSIGN_OR_RETURN(
          auto u,
          c->Exec(
              absl::StrCat(
                  "UPDATE jobs SET state='canceled', updated_at=('epoch'::timestamptz + $2::int8 * interval '1 us'), "
                  "finished_at=('epoch'::timestamptz + $2::int8 * interval '1 us'), error_code='canceled', "
                  "error_message='canceled by the client', lease_owner=NULL, "
                  "lease_expires_at=NULL WHERE id=$1 RETURNING ",
                  JobColumns()),
              PgParams().Text(id).Int(now)));
      after = RowToJob(u, 0);
      RETURN_IF_ERROR(internal::EnqueueWebhook(*c, after, clock_->Now()));
    } else if (after.state == JobState::kRunning && !after.cancel_requested) {
      ASSIGN_OR_RETURN(auto u, c->Exec(absl::StrCat("UPDATE jobs SET cancel_requested=true, "
                                                    "updated_at=('epoch'::timestamptz + $2::int8 * interval '1 us') "
                                                    "WHERE id=$1 RETURNING ",
                                                    JobColumns()),
                                       PgParams().Text(id).Int(now)));
      after = RowToJob(u, 0);
      // Its worker, in whichever process, stops it now rather than at its
      // next heartbeat.
      RETURN_IF_ERROR(c->Exec("SELECT pg_notify($1, $2)", PgParams().Text(kCancelChannel).Text(id)).status());
    }
    RETURN_IF_ERROR(tx.Commit());
  }
  if (after.state != from) LogTransition(after, JobStateName(from));
  Notify(after);
  return after;
}

absl::StatusOr<int> PgQueue::ReleaseLeases(const std::string& owner) {
  auto c = pool_->Acquire();
  PgTx tx(c.get());
  RETURN_IF_ERROR(tx.Begin());
  ASSIGN_OR_RETURN(auto r,
                   c->Exec("UPDATE jobs SET state='queued', attempts=greatest(attempts-1,0), lease_owner=NULL, "
                           "lease_expires_at=NULL, updated_at=('epoch'::timestamptz + $2::int8 * interval '1 us') "
                           "WHERE state='running' AND lease_owner=$1",
                           PgParams().Text(owner).Int(NowUs())));
  int n = static_cast<int>(r.Affected());
  if (n > 0) RETURN_IF_ERROR(c->Exec("SELECT pg_notify($1, '')", PgParams().Text(kWorkChannel)).status());
  RETURN_IF_ERROR(tx.Commit());
  return n;
}

absl::StatusOr<std::vector<Job>> PgQueue::ListDead(int limit) { return List("", JobState::kDead, limit, 0); }

absl::StatusOr<Job> PgQueue::Replay(const std::string& id) {
  const int64_t now = NowUs();
  Job after;
  {
    auto c = pool_->Acquire();
    PgTx tx(c.get());
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(
        auto r,
        c->Exec(
            absl::StrCat(
                "UPDATE jobs SET state='queued', attempts=0, run_after=('epoch'::timestamptz + $2::int8 * interval '1 "
                "us'), "
                "updated_at=('epoch'::timestamptz + $2::int8 * interval '1 us'), finished_at=NULL, error_code=NULL, "
                "error_message=NULL, cancel_requested=false "
                "WHERE id=$1 AND state='dead' RETURNING ",
                JobColumns()),
            PgParams().Text(id).Int(now)));
    if (r.Rows() == 0) {
      ASSIGN_OR_RETURN(auto s, c->Exec("SELECT state FROM jobs WHERE id=$1", PgParams().Text(id)));
      if (s.Rows() == 0) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
      return absl::FailedPreconditionError(
          absl::StrCat("job ", id, " is ", std::string(s.Text(0, 0)), "; only dead jobs can be replayed"));
    }
    after = RowToJob(r, 0);
    RETURN_IF_ERROR(c->Exec("SELECT pg_notify($1, '')", PgParams().Text(kWorkChannel)).status());
    RETURN_IF_ERROR(tx.Commit());
  }
  LogTransition(after, "dead");
  Notify(after);
  return after;
}

}  // namespace imagen::jobs::pg
