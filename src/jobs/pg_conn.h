// Thin RAII adapter over libpq for the PostgreSQL job store: a connection
// opened from a `postgresql://` URI, parameterised statements (text
// parameters, binary for bytea; each distinct SQL text is prepared once per
// connection), results, a transaction guard, LISTEN/NOTIFY with a timeout,
// and the one place where a SQLSTATE becomes an absl::Status.
// Thread-safety: a PgConn is used by one thread at a time; PgPool hands
// connections to many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libpq-fe.h"

namespace imagen::jobs::pg {

// The status for a server error with `sqlstate` (five characters; empty when
// the server never answered) and `message`. The one SQLSTATE table:
//   40001 serialization failure, 40P01 deadlock, 55P03 lock not available → Aborted (retry the transaction)
//   23505 unique violation → AlreadyExists; other class 23 → FailedPrecondition
//   53100 disk full → imagen::DiskFullError; 53300 too many connections → Unavailable; other 53 → ResourceExhausted
//   08 connection exception, 57P01..57P03 shutdown / cannot connect now, 25006 read-only (a standby) → Unavailable
//   57014 query canceled (statement_timeout) → DeadlineExceeded
//   22 data exception → InvalidArgument; 28 / 42501 → PermissionDenied; 3D000 → NotFound
//   42 syntax / undefined object, XX internal, anything else → Internal
// The SQLSTATE travels as the payload kSqlStatePayload.
absl::Status StatusFromSqlState(std::string_view sqlstate, std::string_view message);
inline constexpr char kSqlStatePayload[] = "imagen.sqlstate";
// The SQLSTATE a status from this adapter carries, or "" if none.
std::string SqlStateOf(const absl::Status& status);

// Statement parameters, all sent as text except Bytes (binary, for bytea).
class PgParams {
 public:
  PgParams& Text(std::string_view v);
  PgParams& Int(int64_t v);
  PgParams& Double(double v);
  PgParams& Bool(bool v);
  PgParams& Bytes(std::string_view v);
  PgParams& Null();
  // NULL for an empty string.
  PgParams& TextOrNull(std::string_view v) { return v.empty() ? Null() : Text(v); }
  PgParams& IntOrNull(std::optional<int64_t> v) { return v ? Int(*v) : Null(); }
  // A text[] literal ({"a","b"}) of `items`, for unnest($n::text[]).
  PgParams& TextArray(const std::vector<std::string>& items, bool empty_is_null = false);
  int size() const { return static_cast<int>(values_.size()); }

 private:
  friend class PgConn;
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> binary_;
};

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}
  int Rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  // Rows changed by INSERT/UPDATE/DELETE.
  int64_t Affected() const;
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  std::optional<int64_t> OptInt(int row, int col) const;
  double Double(int row, int col) const;
  bool Bool(int row, int col) const;
  // A bytea column (text format, hex escaped), decoded.
  std::string Bytes(int row, int col) const;
  PGresult* raw() const { return r_.get(); }

 private:
  std::shared_ptr<PGresult> r_;
};

struct PgNotification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;
};

class PgConn {
 public:
  // Connects to `uri` (postgresql://user@host:port/db?...) and runs
  // `session_sql` (e.g. SET synchronous_commit = off), again after every
  // reconnect. Unavailable when the server cannot be reached.
  static absl::StatusOr<std::unique_ptr<PgConn>> Connect(const std::string& uri, std::string session_sql = "");
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one statement. A connection found broken before the statement is
  // re-established first (outside a transaction, LISTENs are renewed); a
  // statement that loses the connection is never retried here (it may have
  // committed) and returns Unavailable.
  absl::StatusOr<PgResult> Exec(std::string_view sql, const PgParams& params = PgParams());
  // Sends every statement in one round trip (libpq pipeline mode; each is
  // prepared once per connection like Exec) and returns their results in
  // order. On the first failure returns its status; the statements after it
  // did not run. Use for statements that do not depend on each other's
  // results, e.g. BEGIN + locks + lookups, or INSERT + COMMIT.
  struct Statement {
    std::string sql;
    PgParams params;
  };
  absl::StatusOr<std::vector<PgResult>> ExecPipeline(const std::vector<Statement>& statements);
  // Runs `sql` (several statements allowed, no parameters) via the simple
  // query protocol.
  absl::Status ExecScript(std::string_view sql);

  // LISTEN on `channel` (kept across reconnects).
  absl::Status Listen(const std::string& channel);
  // Notifications already received, else waits up to `timeout` on the
  // socket for at least one. Empty when the timeout passed.
  absl::StatusOr<std::vector<PgNotification>> WaitForNotifications(absl::Duration timeout);

  // Re-establishes a broken connection (prepared statements and LISTENs are
  // renewed). OK when it is healthy.
  absl::Status EnsureConnected();
  bool InTransaction() const;
  // How many times the connection was re-established (session state such as
  // advisory locks was lost each time).
  int reconnects() const { return reconnects_; }
  int BackendPid() const { return PQbackendPID(conn_); }
  PGconn* raw() { return conn_; }

 private:
  PgConn(std::string uri, PGconn* conn, std::string session_sql)
      : uri_(std::move(uri)), conn_(conn), session_sql_(std::move(session_sql)) {}
  absl::Status StatusOfResult(const PGresult* r, std::string_view sql) const;
  void DrainNotifications(std::vector<PgNotification>& out);

  std::string uri_;
  PGconn* conn_;
  std::string session_sql_;
  absl::flat_hash_map<std::string, std::string> prepared_;  // SQL text -> statement name
  std::vector<std::string> channels_;
  int reconnects_ = 0;
};

// BEGIN ... COMMIT on one connection; rolls back unless Commit succeeded.
class PgTx {
 public:
  explicit PgTx(PgConn* conn) : conn_(conn) {}
  ~PgTx();
  PgTx(const PgTx&) = delete;
  PgTx& operator=(const PgTx&) = delete;
  // `async_commit`: SET LOCAL synchronous_commit=off (the commit returns
  // before its WAL is flushed; a server crash may undo it).
  absl::Status Begin(bool async_commit = false);
  absl::Status Commit();
  // For a BEGIN / COMMIT sent in a pipeline: the guard takes over an open
  // transaction, or learns that it was committed.
  void Adopt() { open_ = true; }
  void Committed() { open_ = false; }

 private:
  PgConn* conn_;
  bool open_ = false;
};

// A fixed set of connections shared by many threads. Acquire blocks until
// one is free. Thread-safe.
class PgPool {
 public:
  // `size` connections, each set up with `session_sql` (see PgConn::Connect).
  static absl::StatusOr<std::unique_ptr<PgPool>> Open(const std::string& uri, int size,
                                                      const std::string& session_sql = "");

  // Returns its connection to the pool when destroyed.
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease();
    PgConn* operator->() const { return conn_.get(); }
    PgConn& operator*() const { return *conn_; }
    PgConn* get() const { return conn_.get(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConn> conn_;
  };
  Lease Acquire();
  const std::string& uri() const { return uri_; }

 private:
  explicit PgPool(std::string uri) : uri_(std::move(uri)) {}
  void Release(std::unique_ptr<PgConn> conn);

  std::string uri_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<PgConn>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace imagen::jobs::pg
