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
#include "nlohmann/json.hpp"

namespace imagen::jobs {

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

constexpr const char* kJobColumns =
    "seq,id,key_id,operation,params,input_ref,input_type,state,priority,attempts,max_attempts,created_at,"
    "updated_at,run_after,started_at,finished_at,deadline_at,lease_owner,lease_expires_at,cancel_requested,"
    "progress,error_code,error_message,result_ref,result_type,webhook_url,idempotency_key,request_hash";

absl::Time FromUs(int64_t us) { return absl::FromUnixMicros(us); }
std::optional<absl::Time> OptTime(std::optional<int64_t> us) {
  if (!us) return std::nullopt;
  return FromUs(*us);
}

Job RowToJob(const Stmt& s) {
  Job j;
  j.seq = s.Int(0);
  j.id = s.Text(1);
  j.key_id = s.Text(2);
  j.operation = s.Text(3);
  j.params_json = s.Text(4);
  j.input_ref = s.Text(5);
  j.input_type = s.Text(6);
  j.state = ParseJobState(s.Text(7)).value_or(JobState::kFailed);
  j.priority = static_cast<int>(s.Int(8));
  j.attempts = static_cast<int>(s.Int(9));
  j.max_attempts = static_cast<int>(s.Int(10));
  j.created_at = FromUs(s.Int(11));
  j.updated_at = FromUs(s.Int(12));
  j.run_after = FromUs(s.Int(13));
  j.started_at = OptTime(s.OptInt(14));
  j.finished_at = OptTime(s.OptInt(15));
  j.deadline_at = OptTime(s.OptInt(16));
  j.lease_owner = s.Text(17);
  j.lease_expires_at = OptTime(s.OptInt(18));
  j.cancel_requested = s.Int(19) != 0;
  j.progress = s.Double(20);
  j.error_code = s.Text(21);
  j.error_message = s.Text(22);
  j.result_ref = s.Text(23);
  j.result_type = s.Text(24);
  j.webhook_url = s.Text(25);
  j.idempotency_key = s.Text(26);
  j.request_hash = s.Text(27);
  return j;
}

ApiKey RowToKey(const Stmt& s) {
  ApiKey k;
  k.id = s.Text(0);
  k.name = s.Text(1);
  k.key_hash = s.Text(2);
  k.webhook_secret = s.Text(3);
  k.rate = s.Double(4);
  k.max_concurrent = static_cast<int>(s.Int(5));
  k.admin = s.Int(6) != 0;
  k.created_at = FromUs(s.Int(7));
  k.max_priority = static_cast<int>(s.Int(8));
  k.max_queued = s.Int(9);
  k.revoked_at = OptTime(s.OptInt(10));
  return k;
}
constexpr const char* kKeyColumns =
    "id,name,key_hash,webhook_secret,rate,max_concurrent,admin,created_at,max_priority,max_queued,revoked_at";

}  // namespace

const char* DeliveryStateName(DeliveryState s) {
  switch (s) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kFailed:
      return "failed";
    case DeliveryState::kGone:
      return "gone";
  }
  return "unknown";
}

std::string EventTypeFor(JobState state) {
  switch (state) {
    case JobState::kSucceeded:
      return "job.succeeded";
    case JobState::kCanceled:
      return "job.canceled";
    default:
      return "job.failed";
  }
}

std::string WebhookPayload(const Job& job, absl::Time now) {
  // Every text is made valid UTF-8 first (an error message may quote raw
  // bytes of an upload), and the dump replaces anything left, so building the
  // payload cannot throw on a worker thread.
  try {
    nlohmann::json data = {{"job_id", ToValidUtf8(job.id)},
                           {"status", JobStateName(job.state)},
                           {"operation", ToValidUtf8(job.operation)},
                           {"attempts", job.attempts}};
    if (job.state == JobState::kSucceeded) {
      data["result_url"] = ToValidUtf8("/api/v1/jobs/" + job.id + "/result");
      data["result_type"] = ToValidUtf8(job.result_type);
    }
    if (!job.error_code.empty()) {
      data["error"] = {{"code", ToValidUtf8(job.error_code)}, {"message", ToValidUtf8(job.error_message)}};
    }
    nlohmann::json body = {{"type", EventTypeFor(job.state)},
                           {"timestamp", absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone())},
                           {"data", data}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {
    spdlog::error("webhook payload of job {}: {}", ToValidUtf8(job.id), e.what());
    return absl::StrCat(R"({"type":")", EventTypeFor(job.state), R"(","data":{"status":")", JobStateName(job.state),
                        R"("}})");
  }
}

namespace {
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

// ---------------------------------------------------------------- keys

absl::Status JobStore::InsertKey(const ApiKey& k) {
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(InsertKeyLocked(k));
    ticket = wal_->Committed();
  }
  return wal_->SyncThrough(ticket);
}

absl::Status JobStore::InsertKeyLocked(const ApiKey& k) {
  ASSIGN_OR_RETURN(auto st,
                   db_->Prepare(absl::StrCat("INSERT INTO api_keys(", kKeyColumns, ") VALUES(?,?,?,?,?,?,?,?,?,?,?)")));
  return st.Bind(1, k.id)
      .Bind(2, ToValidUtf8(k.name))
      .Bind(3, k.key_hash)
      .Bind(4, k.webhook_secret)
      .Bind(5, k.rate)
      .Bind(6, k.max_concurrent)
      .Bind(7, k.admin ? 1 : 0)
      .Bind(8, absl::ToUnixMicros(k.created_at))
      .Bind(9, k.max_priority)
      .Bind(10, k.max_queued)
      .BindOrNull(11, k.revoked_at ? std::optional<int64_t>(absl::ToUnixMicros(*k.revoked_at)) : std::nullopt)
      .Run();
}

absl::StatusOr<std::optional<ApiKey>> JobStore::FindKeyByHash(const std::string& key_hash) {
  absl::MutexLock lock(&rmu_);
  // A revoked key is unknown to authentication from the moment it is revoked.
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare(absl::StrCat("SELECT ", kKeyColumns,
                                                      " FROM api_keys WHERE key_hash=? AND revoked_at IS NULL")));
  q.Bind(1, key_hash);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  return RowToKey(q);
}

absl::StatusOr<std::optional<ApiKey>> JobStore::FindKey(const std::string& id) {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare(absl::StrCat("SELECT ", kKeyColumns, " FROM api_keys WHERE id=?")));
  q.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  return RowToKey(q);
}

absl::StatusOr<ApiKey> JobStore::RevokeKey(const std::string& id_or_prefix) {
  if (id_or_prefix.size() < 4) return absl::InvalidArgumentError("give the key's id or at least 4 characters of it");
  std::optional<ApiKey> key;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    // An exact id, or else a unique prefix of one.
    ASSIGN_OR_RETURN(auto q,
                     db_->Prepare(absl::StrCat("SELECT ", kKeyColumns,
                                               " FROM api_keys WHERE id=?1 OR (substr(id,1,length(?1))=?1 "
                                               "AND NOT EXISTS (SELECT 1 FROM api_keys WHERE id=?1)) LIMIT 3")));
    q.Bind(1, id_or_prefix);
    std::vector<ApiKey> matches;
    RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { matches.push_back(RowToKey(r)); }));
    if (matches.empty()) return absl::NotFoundError(absl::StrCat("no API key '", id_or_prefix, "'"));
    if (matches.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat("'", id_or_prefix, "' matches several keys (", matches[0].id, ", ",
                                                     matches[1].id, matches.size() > 2 ? ", ..." : "",
                                                     "); give more of the id"));
    }
    key = matches[0];
    if (key->admin) {
      return absl::FailedPreconditionError(
          absl::StrCat("key ", key->id, " is the admin key; replace DIR/admin.key and restart instead"));
    }
    if (!key->revoked_at) {
      ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE api_keys SET revoked_at=? WHERE id=?"));
      RETURN_IF_ERROR(up.Bind(1, NowUs()).Bind(2, key->id).Run());
      key->revoked_at = clock_->Now();
    }
    RETURN_IF_ERROR(tx.Commit());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  return *key;
}

absl::StatusOr<std::vector<ApiKey>> JobStore::ListKeys() {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare(absl::StrCat("SELECT ", kKeyColumns, " FROM api_keys ORDER BY created_at")));
  std::vector<ApiKey> out;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { out.push_back(RowToKey(r)); }));
  return out;
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

absl::Status JobStore::EnqueueWebhookLocked(const Job& job) {
  if (job.webhook_url.empty() || !IsTerminal(job.state)) return absl::OkStatus();
  int64_t now = NowUs();
  ASSIGN_OR_RETURN(auto ins, db_->Prepare("INSERT INTO webhook_deliveries(msg_id,job_id,key_id,event,url,payload,"
                                          "state,next_attempt_at,created_at) VALUES(?,?,?,?,?,?,'pending',?,?)"));
  ins.Bind(1, RandomHexId("msg_", 12))
      .Bind(2, job.id)
      .Bind(3, job.key_id)
      .Bind(4, EventTypeFor(job.state))
      .Bind(5, job.webhook_url)
      .Bind(6, WebhookPayload(job, clock_->Now()))
      .Bind(7, now)
      .Bind(8, now);
  return ins.Run();
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

absl::StatusOr<SweptBlobs> JobStore::SweepFinished(absl::Time cutoff, int limit) {
  SweptBlobs out;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(SweepLocked(cutoff, limit, out));
    ticket = wal_->Committed();
  }
  // The caller removes blob files next: the rows naming them must be gone for good.
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  return out;
}

absl::StatusOr<bool> JobStore::InputReferenced(const std::string& input_ref) {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare("SELECT 1 FROM jobs WHERE input_ref=? LIMIT 1"));
  q.Bind(1, input_ref);
  return q.Step();
}

absl::Status JobStore::SweepLocked(absl::Time cutoff, int limit, SweptBlobs& out) {
  Transaction tx(db_.get());
  RETURN_IF_ERROR(tx.Begin());
  ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT id, input_ref, result_ref FROM jobs WHERE state IN "
                                        "('succeeded','failed','canceled','dead') AND finished_at<? LIMIT ?"));
  q.Bind(1, absl::ToUnixMicros(cutoff)).Bind(2, limit);
  std::vector<std::string> inputs;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) {
    out.job_ids.push_back(r.Text(0));
    inputs.push_back(r.Text(1));
    if (!r.IsNull(2)) out.result_refs.push_back(r.Text(2));
  }));
  for (const auto& id : out.job_ids) {
    ASSIGN_OR_RETURN(auto d, db_->Prepare("DELETE FROM webhook_deliveries WHERE job_id=?"));
    RETURN_IF_ERROR(d.Bind(1, id).Run());
    ASSIGN_OR_RETURN(auto j, db_->Prepare("DELETE FROM jobs WHERE id=?"));
    RETURN_IF_ERROR(j.Bind(1, id).Run());
  }
  for (const auto& ref : inputs) {
    ASSIGN_OR_RETURN(auto c, db_->Prepare("SELECT COUNT(*) FROM jobs WHERE input_ref=?"));
    c.Bind(1, ref);
    ASSIGN_OR_RETURN(bool row, c.Step());
    if (row && c.Int(0) == 0 && std::find(out.input_refs.begin(), out.input_refs.end(), ref) == out.input_refs.end()) {
      out.input_refs.push_back(ref);
      ASSIGN_OR_RETURN(auto d, db_->Prepare("DELETE FROM inline_inputs WHERE ref=?"));
      RETURN_IF_ERROR(d.Bind(1, ref).Run());
    }
  }
  return tx.Commit();
}

// ---------------------------------------------------------------- webhooks

namespace {
constexpr const char* kDeliveryColumns =
    "id,msg_id,job_id,key_id,event,url,payload,state,attempts,next_attempt_at,last_status,last_error";
WebhookDelivery RowToDelivery(const Stmt& s) {
  WebhookDelivery d;
  d.id = s.Int(0);
  d.msg_id = s.Text(1);
  d.job_id = s.Text(2);
  d.key_id = s.Text(3);
  d.event = s.Text(4);
  d.url = s.Text(5);
  d.payload = s.Text(6);
  std::string st = s.Text(7);
  d.state = st == "delivered" ? DeliveryState::kDelivered
            : st == "failed"  ? DeliveryState::kFailed
            : st == "gone"    ? DeliveryState::kGone
                              : DeliveryState::kPending;
  d.attempts = static_cast<int>(s.Int(8));
  d.next_attempt_at = FromUs(s.Int(9));
  d.last_status = static_cast<int>(s.Int(10));
  d.last_error = s.Text(11);
  return d;
}
}  // namespace

absl::StatusOr<std::vector<WebhookDelivery>> JobStore::DueDeliveries(int limit,
                                                                     const std::vector<std::string>& skip_keys) {
  absl::MutexLock lock(&rmu_);
  std::string skip;
  for (size_t i = 0; i < skip_keys.size(); ++i) absl::StrAppend(&skip, i == 0 ? "" : ",", "?", i + 3);
  ASSIGN_OR_RETURN(
      auto q,
      rdb_->Prepare(absl::StrCat(
          "SELECT ", kDeliveryColumns, " FROM webhook_deliveries WHERE state='pending' AND next_attempt_at<=?1",
          skip.empty() ? "" : absl::StrCat(" AND key_id NOT IN (", skip, ")"), " ORDER BY next_attempt_at LIMIT ?2")));
  q.Bind(1, NowUs()).Bind(2, limit);
  for (size_t i = 0; i < skip_keys.size(); ++i) q.Bind(static_cast<int>(i + 3), skip_keys[i]);
  std::vector<WebhookDelivery> out;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { out.push_back(RowToDelivery(r)); }));
  // Never announce an event whose commit could still be undone by power loss.
  RETURN_IF_ERROR(wal_->SyncAll());
  return out;
}

absl::Status JobStore::RecordDelivery(int64_t id, DeliveryState state, int attempts, absl::Time next_attempt_at,
                                      int last_status, const std::string& last_error) {
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE webhook_deliveries SET state=?, attempts=?, next_attempt_at=?, "
                                           "last_status=?, last_error=? WHERE id=?"));
    RETURN_IF_ERROR(up.Bind(1, DeliveryStateName(state))
                        .Bind(2, attempts)
                        .Bind(3, absl::ToUnixMicros(next_attempt_at))
                        .Bind(4, last_status)
                        .Bind(5, ToValidUtf8(last_error))
                        .Bind(6, id)
                        .Run());
    ticket = wal_->Committed();
  }
  return wal_->SyncThrough(ticket);
}

absl::StatusOr<std::vector<WebhookDelivery>> JobStore::DeliveriesForJob(const std::string& job_id) {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare(absl::StrCat("SELECT ", kDeliveryColumns,
                                                      " FROM webhook_deliveries WHERE job_id=? ORDER BY id")));
  q.Bind(1, job_id);
  std::vector<WebhookDelivery> out;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { out.push_back(RowToDelivery(r)); }));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> JobStore::CountDeliveriesByState() {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare("SELECT state, COUNT(*) FROM webhook_deliveries GROUP BY state"));
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { out[r.Text(0)] = r.Int(1); }));
  return out;
}

}  // namespace imagen::jobs
