// The PostgreSQL job store's schema and its versioned migrations. Migrate is
// safe when several processes (api and worker roles) start at once: each
// runs the whole migration in one transaction under a transaction-scoped
// advisory lock, so exactly one applies a version and the others then find
// it applied. Layout and rationale: docs/postgresql.md. Thread-compatible
// (takes a connection the caller owns).
#pragma once

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "jobs/pg_conn.h"

namespace imagen::jobs::pg {

inline constexpr int kPgSchemaVersion = 1;
// pg_advisory_xact_lock key of the migration ("imagen" + 1).
inline constexpr int64_t kMigrationLockKey = 0x696D6167656E0001;
// pg_try_advisory_lock key of the upkeep leader ("imagen" + 2).
inline constexpr int64_t kLeaderLockKey = 0x696D6167656E0002;

// Version N's statements take a database at version N-1 to version N.
std::span<const char* const> PgMigrations();

// Migrates the database `conn` is connected to up to kPgSchemaVersion.
// FailedPrecondition when the database is newer than this imagen.
absl::Status MigratePg(PgConn& conn);

// The schema version the database is at (0: none yet).
absl::StatusOr<int> PgSchemaVersion(PgConn& conn);

}  // namespace imagen::jobs::pg
