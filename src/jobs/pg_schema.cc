#include "jobs/pg_schema.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace imagen::jobs::pg {

namespace {

// Every column of the SQLite store's jobs table exists here with the same
// name (SQLite schema v3: boost, and the keys' max_priority, max_queued,
// revoked_at included); times are timestamptz (imagen_ts/imagen_us convert
// from/to Unix microseconds, the unit of the C++ side, for people at psql;
// the hot statements inline the same expressions). Additions: vt
// (fair-queuing order), blocked (reserved for per-key caps), api_keys.weight
// and key_sched (fair share), state 'scheduled' (a queued job whose
// run_after is in the future; the API shows it as queued), workers.
const char* const kMigrations[] = {
    // v1
    R"sql(
CREATE FUNCTION imagen_ts(us bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT 'epoch'::timestamptz + us * interval '1 microsecond' $$;
CREATE FUNCTION imagen_us(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

CREATE TABLE api_keys(
  id text PRIMARY KEY,
  name text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  webhook_secret text NOT NULL,
  rate double precision NOT NULL DEFAULT 0,
  max_concurrent int NOT NULL DEFAULT 0,
  admin boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  max_priority int NOT NULL DEFAULT 0,
  max_queued bigint NOT NULL DEFAULT 0,
  revoked_at timestamptz,
  weight int NOT NULL DEFAULT 1 CHECK (weight > 0));

-- One row per key that ever submitted: its fair-queuing clock. The only row
-- a submit of that key locks; lease and finish never touch it.
CREATE TABLE key_sched(
  key_id text PRIMARY KEY,
  weight int NOT NULL DEFAULT 1 CHECK (weight > 0),
  last_vt bigint NOT NULL DEFAULT 0,
  max_concurrent int NOT NULL DEFAULT 0,
  running int NOT NULL DEFAULT 0 CHECK (running >= 0)) WITH (fillfactor = 50);

CREATE TABLE jobs(
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id text PRIMARY KEY,
  key_id text NOT NULL,
  operation text NOT NULL,
  params text NOT NULL DEFAULT '{}',
  input_ref text NOT NULL,
  input_type text NOT NULL,
  state text NOT NULL DEFAULT 'queued'
    CHECK (state IN ('scheduled','queued','running','succeeded','failed','canceled','dead')),
  priority int NOT NULL DEFAULT 0,
  boost int NOT NULL DEFAULT 0,
  vt bigint NOT NULL DEFAULT 0,
  blocked boolean NOT NULL DEFAULT false,
  attempts int NOT NULL DEFAULT 0,
  max_attempts int NOT NULL DEFAULT 5,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  run_after timestamptz NOT NULL,
  started_at timestamptz,
  finished_at timestamptz,
  deadline_at timestamptz,
  lease_owner text,
  lease_expires_at timestamptz,
  cancel_requested boolean NOT NULL DEFAULT false,
  progress double precision NOT NULL DEFAULT 0,
  error_code text,
  error_message text,
  result_ref text,
  result_type text,
  webhook_url text,
  idempotency_key text,
  request_hash text) WITH (fillfactor = 80);
CREATE UNIQUE INDEX jobs_seq ON jobs(seq);
CREATE UNIQUE INDEX jobs_idempotency ON jobs(key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- GET /jobs of a key, optionally by state, newest first (seq = creation order).
CREATE INDEX jobs_by_key ON jobs(key_id, state, seq DESC);
-- The lease indexes, runnable rows only: whose turn it is (boost across keys,
-- then fair-queuing order), and that key's own next job (its priority first).
CREATE INDEX jobs_runnable ON jobs(boost DESC, vt, seq) WHERE state = 'queued' AND NOT blocked;
CREATE INDEX jobs_key_runnable ON jobs(key_id, boost DESC, priority DESC, vt, seq)
  WHERE state = 'queued' AND NOT blocked;
-- The smallest queued virtual time, read by every submit.
CREATE INDEX jobs_vt ON jobs(vt) WHERE state = 'queued' AND NOT blocked;
CREATE INDEX jobs_scheduled ON jobs(run_after) WHERE state = 'scheduled';
CREATE INDEX jobs_running ON jobs(lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE state IN ('succeeded','failed','canceled','dead');
CREATE INDEX jobs_input ON jobs(input_ref);
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000,
  autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);

-- Small inputs stored with their job row (NewJob::inline_input).
CREATE TABLE inline_inputs(
  ref text PRIMARY KEY,
  data bytea NOT NULL);

-- One row per imagen process: its heartbeat. A worker's leases are valid
-- while its process heartbeats; the reaper requeues the rest.
CREATE TABLE workers(
  id text PRIMARY KEY,
  host text NOT NULL DEFAULT '',
  pid int NOT NULL DEFAULT 0,
  role text NOT NULL DEFAULT '',
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL);

CREATE TABLE webhook_deliveries(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  msg_id text NOT NULL UNIQUE,
  job_id text NOT NULL,
  key_id text NOT NULL,
  event text NOT NULL,
  url text NOT NULL,
  payload text NOT NULL,
  state text NOT NULL DEFAULT 'pending',
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_status int NOT NULL DEFAULT 0,
  last_error text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL);
CREATE INDEX deliveries_due ON webhook_deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_job ON webhook_deliveries(job_id);
)sql",
};

}  // namespace

std::span<const char* const> PgMigrations() { return kMigrations; }

absl::StatusOr<int> PgSchemaVersion(PgConn& conn) {
  ASSIGN_OR_RETURN(auto r, conn.Exec("SELECT to_regclass('schema_version') IS NOT NULL"));
  if (!r.Bool(0, 0)) return 0;
  ASSIGN_OR_RETURN(auto v, conn.Exec("SELECT coalesce(max(version), 0) FROM schema_version"));
  return static_cast<int>(v.Int(0, 0));
}

absl::Status MigratePg(PgConn& conn) {
  static_assert(std::size(kMigrations) == kPgSchemaVersion);
  PgTx tx(&conn);
  RETURN_IF_ERROR(tx.Begin());
  // Serialises concurrent starts; released at COMMIT/ROLLBACK. Taken before
  // anything else: concurrent CREATE TABLE IF NOT EXISTS can still collide.
  RETURN_IF_ERROR(conn.Exec("SELECT pg_advisory_xact_lock($1)", PgParams().Int(kMigrationLockKey)).status());
  RETURN_IF_ERROR(conn.ExecScript("CREATE TABLE IF NOT EXISTS schema_version(version int NOT NULL)"));
  ASSIGN_OR_RETURN(auto r, conn.Exec("SELECT version FROM schema_version"));
  int version = r.Rows() > 0 ? static_cast<int>(r.Int(0, 0)) : 0;
  if (version > kPgSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("job database schema version ", version, " is newer than this imagen (", kPgSchemaVersion, ")"));
  }
  if (version == kPgSchemaVersion) return tx.Commit();
  for (int v = version + 1; v <= kPgSchemaVersion; ++v) RETURN_IF_ERROR(conn.ExecScript(kMigrations[v - 1]));
  if (r.Rows() == 0) {
    RETURN_IF_ERROR(
        conn.Exec("INSERT INTO schema_version(version) VALUES($1)", PgParams().Int(kPgSchemaVersion)).status());
  } else {
    RETURN_IF_ERROR(conn.Exec("UPDATE schema_version SET version=$1", PgParams().Int(kPgSchemaVersion)).status());
  }
  return tx.Commit();
}

}  // namespace imagen::jobs::pg
