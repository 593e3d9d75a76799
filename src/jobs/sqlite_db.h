// Thin RAII wrappers over the SQLite C API: a connection (WAL,
// synchronous=FULL, busy timeout, foreign keys) and prepared statements with
// typed binds and reads. Errors become absl::Status naming the SQL. A Db is
// not thread-safe by itself: JobStore serialises access with its own mutex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sqlite3.h"

namespace imagen::jobs {

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, double v);
  Stmt& Bind(int i, std::string_view v);
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& BindBlob(int i, std::string_view v);
  Stmt& BindNull(int i);
  // Binds NULL for an empty string.
  Stmt& BindOrNull(int i, const std::string& v);
  Stmt& BindOrNull(int i, std::optional<int64_t> v);

  // True when a row is available; false when done.
  absl::StatusOr<bool> Step();
  // Runs to completion (for statements without results).
  absl::Status Run();
  // Steps through every row, calling row_fn(*this) for each.
  template <typename RowFn>
  absl::Status ForEachRow(RowFn row_fn) {
    for (;;) {
      absl::StatusOr<bool> row = Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::OkStatus();
      row_fn(*this);
    }
  }

  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  std::string Blob(int col) const;
  bool IsNull(int col) const;
  std::optional<int64_t> OptInt(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Db {
 public:
  ~Db();
  // Opens (creating) `path` in WAL mode with synchronous=FULL.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path);
  absl::Status Exec(std::string_view sql);
  absl::StatusOr<Stmt> Prepare(std::string_view sql);
  int64_t Changes() const;
  sqlite3* raw() { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db* db) : db_(db) {}
  ~Transaction();
  absl::Status Begin();
  absl::Status Commit();

 private:
  Db* db_;
  bool open_ = false;
};

}  // namespace imagen::jobs
