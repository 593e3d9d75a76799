#include "jobs/job_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "jobs/crypto.h"
#include "jobs/job_store_rows.h"

namespace imagen::jobs {

using store_internal::FromUs;
using store_internal::kJobColumns;
using store_internal::RowToJob;

namespace {

// Version N's statements take a database at version N-1 to version N.
const char* const kMigrations[] = {
    // v1
    R"sql(
CREATE TABLE api_keys(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  webhook_secret TEXT NOT NULL,
  rate REAL NOT NULL DEFAULT 0,
  max_concurrent INTEGER NOT NULL DEFAULT 0,
  admin INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL);
CREATE TABLE jobs(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL,
  operation TEXT NOT NULL,
  params TEXT NOT NULL,
  input_ref TEXT NOT NULL,
  input_type TEXT NOT NULL,
  state TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  run_after INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  deadline_at INTEGER,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  progress REAL NOT NULL DEFAULT 0,
  error_code TEXT,
  error_message TEXT,
  result_ref TEXT,
  result_type TEXT,
  webhook_url TEXT,
  idempotency_key TEXT,
  request_hash TEXT);
CREATE UNIQUE INDEX jobs_idempotency ON jobs(key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_runnable ON jobs(state, priority DESC, seq);
CREATE INDEX jobs_by_key ON jobs(key_id, state, seq);
CREATE INDEX jobs_input ON jobs(input_ref);
CREATE TABLE webhook_deliveries(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  msg_id TEXT NOT NULL UNIQUE,
  job_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  event TEXT NOT NULL,
  url TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL);
CREATE INDEX deliveries_due ON webhook_deliveries(state, next_attempt_at);
CREATE INDEX deliveries_job ON webhook_deliveries(job_id);
)sql",
    // v2: small inputs live in the database, written with their job row.
    R"sql(
CREATE TABLE inline_inputs(
  ref TEXT PRIMARY KEY,
  data BLOB NOT NULL);
)sql",
    // v3: tenancy. Per-key queue quota and priority ceiling, revocation; a
    // job's cross-key boost (its priority clamped to its key's ceiling); the
    // indexes of the fair lease order and of a key's job list.
    R"sql(
ALTER TABLE api_keys ADD COLUMN max_priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN max_queued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
ALTER TABLE jobs ADD COLUMN boost INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_queue ON jobs(state, key_id, priority DESC, seq);
CREATE INDEX jobs_boosted ON jobs(state, boost DESC, seq) WHERE boost>0;
CREATE INDEX jobs_by_key_seq ON jobs(key_id, seq);
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion);

// jobs.db holds webhook secrets and small uploads: 0600 whatever the umask.
// SQLite gives its -wal and -shm files the database file's mode.
absl::Status MakePrivate(const std::string& path) {
  if (path.empty() || path == ":memory:") return absl::OkStatus();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(path, errno);
  int rc = ::fchmod(fd, 0600);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoToStatus(path, err);
  for (const char* suffix : {"-wal", "-shm"}) {
    std::string side = path + suffix;
    if (::chmod(side.c_str(), 0600) != 0 && errno != ENOENT) return ErrnoToStatus(side, errno);
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path, Clock* clock) {
  RETURN_IF_ERROR(MakePrivate(path));
  ASSIGN_OR_RETURN(auto db, Db::Open(path));
  std::unique_ptr<JobStore> store(new JobStore(std::move(db), clock));
  RETURN_IF_ERROR(store->Migrate());
  // A second connection for reads: in WAL mode they proceed while the
  // writer's commit waits for fsync.
  ASSIGN_OR_RETURN(auto rdb, Db::Open(path));
  RETURN_IF_ERROR(rdb->Exec("PRAGMA query_only=ON"));
  {
    absl::MutexLock lock(&store->rmu_);
    store->rdb_ = std::move(rdb);
  }
  // From here on commits only write the WAL; WalSyncer makes them durable,
  // shared between concurrent writers and outside the write lock.
  ASSIGN_OR_RETURN(store->wal_, WalSyncer::Open(path + "-wal"));
  ASSIGN_OR_RETURN(store->ckpt_db_, Db::Open(path));
  {
    absl::MutexLock lock(&store->mu_);
    RETURN_IF_ERROR(store->db_->Exec("PRAGMA synchronous=NORMAL"));
    // Replaces SQLite's automatic checkpoint in the committing connection.
    sqlite3_wal_hook(store->db_->raw(), &JobStore::OnWalCommit, store.get());
  }
  JobStore* raw = store.get();
  store->checkpointer_ = std::thread([raw] { raw->CheckpointLoop(); });
  return store;
}

JobStore::~JobStore() {
  if (!checkpointer_.joinable()) return;
  {
    absl::MutexLock lock(&ckpt_mu_);
    stop_ckpt_ = true;
  }
  checkpointer_.join();
}

int JobStore::OnWalCommit(void* self, sqlite3*, const char*, int pages) {
  auto* store = static_cast<JobStore*>(self);
  absl::MutexLock lock(&store->ckpt_mu_);
  store->wal_pages_ = pages;
  return SQLITE_OK;
}

void JobStore::CheckpointLoop() {
  constexpr int kCheckpointPages = 1000;  // SQLite's default threshold
  for (;;) {
    {
      absl::MutexLock lock(&ckpt_mu_);
      auto due = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(ckpt_mu_) { return stop_ckpt_ || wal_pages_ >= kCheckpointPages; };
      // Also once a second, so a quiet server's WAL is folded in too.
      ckpt_mu_.AwaitWithTimeout(absl::Condition(&due), absl::Seconds(1));
      if (stop_ckpt_) return;
      if (wal_pages_ == 0) continue;
      wal_pages_ = 0;
    }
    // A thread entry point: nothing may escape it.
    try {
      absl::Status s = ckpt_db_->Exec("PRAGMA wal_checkpoint(PASSIVE)");
      if (!s.ok()) spdlog::warn("job database checkpoint: {}", std::string(s.message()));
    } catch (const std::exception& e) {
      spdlog::error("job database checkpoint: {}", e.what());
    }
  }
}

absl::Status JobStore::Migrate() {
  absl::MutexLock lock(&mu_);
  Transaction tx(db_.get());
  RETURN_IF_ERROR(tx.Begin());
  RETURN_IF_ERROR(db_->Exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"));
  ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT version FROM schema_version"));
  int version = 0;
  bool has_row = false;
  ASSIGN_OR_RETURN(has_row, q.Step());
  if (has_row) version = static_cast<int>(q.Int(0));
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("job database schema version ", version, " is newer than this imagen (", kSchemaVersion, ")"));
  }
  for (int v = version + 1; v <= kSchemaVersion; ++v) RETURN_IF_ERROR(db_->Exec(kMigrations[v - 1]));
  if (!has_row) {
    ASSIGN_OR_RETURN(auto ins, db_->Prepare("INSERT INTO schema_version(version) VALUES(?)"));
    RETURN_IF_ERROR(ins.Bind(1, kSchemaVersion).Run());
  } else if (version != kSchemaVersion) {
    ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE schema_version SET version=?"));
    RETURN_IF_ERROR(up.Bind(1, kSchemaVersion).Run());
  }
  return tx.Commit();
}

int64_t JobStore::NowUs() const { return absl::ToUnixMicros(clock_->Now()); }

absl::Status JobStore::Ping() {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare("SELECT version FROM schema_version"));
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return absl::UnavailableError("job database has no schema version");
  return absl::OkStatus();
}

void JobStore::Notify(const Job& job, JobState from) {
  if (job.state != from) {
    LogEvent(spdlog::level::info, "job transition",
             {{"job_id", job.id},
              {"from", JobStateName(from)},
              {"to", JobStateName(job.state)},
              {"operation", job.operation},
              {"attempt", std::to_string(job.attempts)},
              {"error", job.error_code}});
  }
  if (listener_) listener_(job);
}

// ---------------------------------------------------------------- jobs

absl::StatusOr<std::optional<Job>> JobStore::GetLocked(const std::string& id) {
  ASSIGN_OR_RETURN(auto q, db_->Prepare(absl::StrCat("SELECT ", kJobColumns, " FROM jobs WHERE id=?")));
  q.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  return RowToJob(q);
}

absl::StatusOr<Job> JobStore::Get(const std::string& id) {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare(absl::StrCat("SELECT ", kJobColumns, " FROM jobs WHERE id=?")));
  q.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, q.Step());
  std::optional<Job> job;
  if (row) job = RowToJob(q);
  if (!job) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
  return *job;
}

namespace {
constexpr char kQuotaPayload[] = "imagen.jobs/queue-quota";
}  // namespace

bool IsQueueQuotaError(const absl::Status& status) { return status.GetPayload(kQuotaPayload).has_value(); }

absl::StatusOr<JobStore::KeyState*> JobStore::KeyStateLocked(const std::string& key_id, BatchKeys& batch) {
  auto it = batch.find(key_id);
  if (it != batch.end()) return &it->second;
  KeyState k;
  k.limit = queue_policy_.max_queued_per_key;
  ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT max_priority, max_queued FROM api_keys WHERE id=?"));
  q.Bind(1, key_id);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (row) {
    k.max_priority = static_cast<int>(q.Int(0));
    if (q.Int(1) > 0) k.limit = q.Int(1);
  }
  if (k.limit > 0) {
    ASSIGN_OR_RETURN(auto c, db_->Prepare("SELECT COUNT(*) FROM jobs WHERE key_id=? AND state='queued'"));
    c.Bind(1, key_id);
    ASSIGN_OR_RETURN(bool crow, c.Step());
    k.queued = crow ? c.Int(0) : 0;
  }
  return &batch.emplace(key_id, k).first->second;
}

absl::StatusOr<CreateResult> JobStore::CreateLocked(const NewJob& given, BatchKeys& batch) {
  // Whatever the store records may reach JSON (job answers, webhooks): only
  // valid UTF-8 goes in. The request hash was taken over the texts as sent.
  NewJob nj = given;
  nj.params_json = ToValidUtf8(given.params_json);
  nj.webhook_url = ToValidUtf8(given.webhook_url);
  nj.idempotency_key = ToValidUtf8(given.idempotency_key);
  nj.operation = ToValidUtf8(given.operation);
  nj.input_type = ToValidUtf8(given.input_type);
  CreateResult out;
  if (!nj.idempotency_key.empty()) {
    ASSIGN_OR_RETURN(
        auto q, db_->Prepare(absl::StrCat("SELECT ", kJobColumns, " FROM jobs WHERE key_id=? AND idempotency_key=?")));
    q.Bind(1, nj.key_id).Bind(2, nj.idempotency_key);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      Job prior = RowToJob(q);
      if (prior.request_hash != nj.request_hash) {
        return absl::AlreadyExistsError(absl::StrCat("Idempotency-Key '", nj.idempotency_key,
                                                     "' was already used for a different request (job ", prior.id,
                                                     ")"));
      }
      out.job = std::move(prior);
      out.created = false;
      return out;
    }
  }
  // The key's queue quota (a member's own error, like a conflict), and its
  // priority ceiling: the boost that orders this job against other keys'.
  ASSIGN_OR_RETURN(KeyState * key, KeyStateLocked(nj.key_id, batch));
  if (key->limit > 0 && key->queued >= key->limit) {
    absl::Status full = absl::ResourceExhaustedError(absl::StrCat(
        "this API key has ", key->queued, " queued jobs, its quota (jobs.max_queued_per_key); retry later"));
    full.SetPayload(kQuotaPayload, absl::Cord("1"));
    return full;
  }
  ++key->queued;
  int boost = std::clamp(nj.priority, 0, std::max(0, key->max_priority));
  if (!nj.inline_input.empty()) {
    ASSIGN_OR_RETURN(auto in, db_->Prepare("INSERT OR IGNORE INTO inline_inputs(ref,data) VALUES(?,?)"));
    RETURN_IF_ERROR(in.Bind(1, nj.input_ref).BindBlob(2, nj.inline_input).Run());
  }
  int64_t now = NowUs();
  std::string id = RandomHexId("job_", 12);
  ASSIGN_OR_RETURN(
      auto ins, db_->Prepare("INSERT INTO jobs(id,key_id,operation,params,input_ref,input_type,state,priority,"
                             "max_attempts,created_at,updated_at,run_after,deadline_at,webhook_url,"
                             "idempotency_key,request_hash,boost) VALUES(?,?,?,?,?,?,'queued',?,?,?,?,?,?,?,?,?,?)"));
  ins.Bind(1, id)
      .Bind(2, nj.key_id)
      .Bind(3, nj.operation)
      .Bind(4, nj.params_json)
      .Bind(5, nj.input_ref)
      .Bind(6, nj.input_type)
      .Bind(7, nj.priority)
      .Bind(8, std::max(1, nj.max_attempts))
      .Bind(9, now)
      .Bind(10, now)
      .Bind(11, now)
      .BindOrNull(12, nj.deadline ? std::optional<int64_t>(absl::ToUnixMicros(*nj.deadline)) : std::nullopt)
      .BindOrNull(13, nj.webhook_url)
      .BindOrNull(14, nj.idempotency_key)
      .BindOrNull(15, nj.request_hash)
      .Bind(16, boost);
  RETURN_IF_ERROR(ins.Run());
  ASSIGN_OR_RETURN(auto job, GetLocked(id));
  if (!job) return absl::InternalError(absl::StrCat("job ", id, " vanished after its insert"));
  out.job = std::move(*job);
  out.created = true;
  return out;
}

absl::StatusOr<std::optional<std::string>> JobStore::GetInlineInput(const std::string& ref) {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare("SELECT data FROM inline_inputs WHERE ref=?"));
  q.Bind(1, ref);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  return q.Blob(0);
}

absl::StatusOr<CreateResult> JobStore::Create(const NewJob& nj) {
  ASSIGN_OR_RETURN(auto results, CreateBatch({nj}));
  return std::move(results[0]);
}

absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>> JobStore::CreateBatch(const std::vector<NewJob>& jobs) {
  std::vector<absl::StatusOr<CreateResult>> out;
  out.reserve(jobs.size());
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    BatchKeys keys;
    for (const NewJob& nj : jobs) {
      absl::StatusOr<CreateResult> r = CreateLocked(nj, keys);
      // Only a conflict or a full quota is the member's own; any other error
      // ends the batch.
      if (!r.ok() && !absl::IsAlreadyExists(r.status()) && !IsQueueQuotaError(r.status())) return r.status();
      out.push_back(std::move(r));
    }
    RETURN_IF_ERROR(tx.Commit());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  for (const auto& r : out) {
    if (!r.ok() || !r->created) continue;
    LogEvent(spdlog::level::info, "job transition",
             {{"job_id", r->job.id}, {"from", "none"}, {"to", "queued"}, {"operation", r->job.operation}});
    if (listener_) listener_(r->job);
  }
  return out;
}

std::string JobListSql(bool by_key, bool by_state, bool after_cursor) {
  // One statement per shape, so that each uses its index: "key_id=? OR ?=''"
  // made SQLite scan the whole table (all tenants) for every list. seq is the
  // creation order, so (key_id, state, seq) is the (key, state, created) index.
  std::string sql = absl::StrCat("SELECT ", kJobColumns, " FROM jobs");
  if (by_key) absl::StrAppend(&sql, by_state ? " INDEXED BY jobs_by_key" : " INDEXED BY jobs_by_key_seq");
  absl::StrAppend(&sql, " WHERE 1");
  if (by_key) absl::StrAppend(&sql, " AND key_id=?1");
  if (by_state) absl::StrAppend(&sql, " AND state=?2");
  if (after_cursor) absl::StrAppend(&sql, " AND seq<?3");
  absl::StrAppend(&sql, " ORDER BY seq DESC LIMIT ?4");
  return sql;
}

absl::StatusOr<std::vector<Job>> JobStore::List(const std::string& key_id, std::optional<JobState> state, int limit,
                                                int64_t before_seq) {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare(JobListSql(!key_id.empty(), state.has_value(), before_seq > 0)));
  q.Bind(1, key_id).Bind(2, state ? JobStateName(*state) : "").Bind(3, before_seq).Bind(4, limit);
  std::vector<Job> out;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { out.push_back(RowToJob(r)); }));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> JobStore::CountByState() {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
  std::map<std::string, int64_t> out;
  for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                     JobState::kCanceled, JobState::kDead}) {
    out[JobStateName(s)] = 0;
  }
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { out[r.Text(0)] = r.Int(1); }));
  return out;
}

absl::StatusOr<int64_t> JobStore::QueueDepth() {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare("SELECT COUNT(*) FROM jobs WHERE state='queued'"));
  ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

absl::Status JobStore::SetStateLocked(const std::string& id, JobState to, const std::string& error_code,
                                      const std::string& message) {
  int64_t now = NowUs();
  bool terminal = IsTerminal(to);
  ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE jobs SET state=?, updated_at=?, error_code=?, error_message=?, "
                                         "finished_at=CASE WHEN ? THEN ? ELSE finished_at END, lease_owner=NULL, "
                                         "lease_expires_at=NULL WHERE id=?"));
  up.Bind(1, JobStateName(to))
      .Bind(2, now)
      .BindOrNull(3, ToValidUtf8(error_code))
      .BindOrNull(4, ToValidUtf8(message))
      .Bind(5, terminal ? 1 : 0)
      .Bind(6, now)
      .Bind(7, id);
  return up.Run();
}

absl::Status JobStore::FinishLocked(const std::string& id, const std::string& owner, JobState to,
                                    const std::string& result_ref, const std::string& result_type,
                                    const std::string& error_code, const std::string& message,
                                    std::optional<int64_t> run_after) {
  ASSIGN_OR_RETURN(auto job, GetLocked(id));
  if (!job) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
  if (job->state != JobState::kRunning || job->lease_owner != owner) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id, " is ", JobStateName(job->state), " and no longer leased by ", owner));
  }
  if (!CanTransition(job->state, to)) {
    return absl::InternalError(absl::StrCat("illegal transition running -> ", JobStateName(to)));
  }
  int64_t now = NowUs();
  bool terminal = IsTerminal(to);
  ASSIGN_OR_RETURN(auto up,
                   db_->Prepare("UPDATE jobs SET state=?, updated_at=?, lease_owner=NULL, lease_expires_at=NULL, "
                                "result_ref=?, result_type=?, error_code=?, error_message=?, run_after=?, "
                                "finished_at=?, progress=CASE WHEN ?='succeeded' THEN 1 ELSE progress END WHERE id=?"));
  up.Bind(1, JobStateName(to))
      .Bind(2, now)
      .BindOrNull(3, result_ref)
      .BindOrNull(4, result_type)
      .BindOrNull(5, ToValidUtf8(error_code))
      .BindOrNull(6, ToValidUtf8(message))
      .Bind(7, run_after.value_or(job->run_after == absl::Time() ? now : absl::ToUnixMicros(job->run_after)))
      .BindOrNull(8, terminal ? std::optional<int64_t>(now) : std::nullopt)
      .Bind(9, JobStateName(to))
      .Bind(10, id);
  RETURN_IF_ERROR(up.Run());
  ASSIGN_OR_RETURN(auto after, GetLocked(id));
  return EnqueueWebhookLocked(*after);
}

absl::Status JobStore::Complete(const std::string& id, const std::string& owner, const std::string& result_ref,
                                const std::string& result_type) {
  std::optional<Job> after;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    RETURN_IF_ERROR(FinishLocked(id, owner, JobState::kSucceeded, result_ref, result_type, "", "", std::nullopt));
    ASSIGN_OR_RETURN(after, GetLocked(id));
    RETURN_IF_ERROR(tx.Commit());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  Notify(*after, JobState::kRunning);
  return absl::OkStatus();
}

absl::Status JobStore::Retry(const std::string& id, const std::string& owner, absl::Time run_after,
                             const std::string& error_code, const std::string& message) {
  std::optional<Job> after;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    RETURN_IF_ERROR(
        FinishLocked(id, owner, JobState::kQueued, "", "", error_code, message, absl::ToUnixMicros(run_after)));
    ASSIGN_OR_RETURN(after, GetLocked(id));
    RETURN_IF_ERROR(tx.Commit());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  Notify(*after, JobState::kRunning);
  return absl::OkStatus();
}

absl::Status JobStore::Fail(const std::string& id, const std::string& owner, JobState state,
                            const std::string& error_code, const std::string& message) {
  if (!IsTerminal(state) || state == JobState::kSucceeded)
    return absl::InvalidArgumentError("Fail needs an error state");
  std::optional<Job> after;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    RETURN_IF_ERROR(FinishLocked(id, owner, state, "", "", error_code, message, std::nullopt));
    ASSIGN_OR_RETURN(after, GetLocked(id));
    RETURN_IF_ERROR(tx.Commit());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  Notify(*after, JobState::kRunning);
  return absl::OkStatus();
}

absl::StatusOr<Job> JobStore::Cancel(const std::string& id) {
  std::optional<Job> after;
  JobState from;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(auto job, GetLocked(id));
    if (!job) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
    from = job->state;
    if (job->state == JobState::kQueued) {
      RETURN_IF_ERROR(SetStateLocked(id, JobState::kCanceled, "canceled", "canceled by the client"));
      ASSIGN_OR_RETURN(after, GetLocked(id));
      RETURN_IF_ERROR(EnqueueWebhookLocked(*after));
    } else if (job->state == JobState::kRunning && !job->cancel_requested) {
      ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE jobs SET cancel_requested=1, updated_at=? WHERE id=?"));
      RETURN_IF_ERROR(up.Bind(1, NowUs()).Bind(2, id).Run());
      ASSIGN_OR_RETURN(after, GetLocked(id));
    } else {
      after = job;
    }
    RETURN_IF_ERROR(tx.Commit());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  Notify(*after, from);
  return *after;
}

absl::StatusOr<int> JobStore::ReleaseLeases(const std::string& owner) {
  int changed;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE jobs SET state='queued', attempts=MAX(attempts-1,0), "
                                           "lease_owner=NULL, lease_expires_at=NULL, updated_at=? "
                                           "WHERE state='running' AND lease_owner=?"));
    RETURN_IF_ERROR(up.Bind(1, NowUs()).Bind(2, owner).Run());
    changed = static_cast<int>(db_->Changes());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  return changed;
}

absl::StatusOr<int> JobStore::RecoverLeases() {
  int changed;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    // The attempt that died counts (a job that kills its worker goes dead).
    ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE jobs SET lease_expires_at=0, updated_at=? WHERE state='running'"));
    RETURN_IF_ERROR(up.Bind(1, NowUs()).Run());
    changed = static_cast<int>(db_->Changes());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  return changed;
}

absl::StatusOr<std::vector<Job>> JobStore::ListDead(int limit) { return List("", JobState::kDead, limit, 0); }

absl::StatusOr<Job> JobStore::Replay(const std::string& id) {
  std::optional<Job> after;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(auto job, GetLocked(id));
    if (!job) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
    if (job->state != JobState::kDead) {
      return absl::FailedPreconditionError(
          absl::StrCat("job ", id, " is ", JobStateName(job->state), "; only dead jobs can be replayed"));
    }
    int64_t now = NowUs();
    ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE jobs SET state='queued', attempts=0, run_after=?, updated_at=?, "
                                           "finished_at=NULL, error_code=NULL, error_message=NULL, "
                                           "cancel_requested=0 WHERE id=?"));
    RETURN_IF_ERROR(up.Bind(1, now).Bind(2, now).Bind(3, id).Run());
    ASSIGN_OR_RETURN(after, GetLocked(id));
    RETURN_IF_ERROR(tx.Commit());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  Notify(*after, JobState::kDead);
  return *after;
}

}  // namespace imagen::jobs
