#include "jobs/pg_conn.h"

#include <poll.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/error_kinds.h"
#include "common/status_macros.h"

namespace imagen::jobs::pg {

namespace {

// Debian's Abseil has its own string_view; bridge std -> absl.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool ClassIs(std::string_view sqlstate, std::string_view cls) { return absl::StartsWith(A(sqlstate), A(cls)); }

absl::Status WithSqlState(absl::Status s, std::string_view sqlstate) {
  if (!sqlstate.empty()) s.SetPayload(kSqlStatePayload, absl::Cord(std::string(sqlstate)));
  return s;
}

std::string ShortSql(std::string_view sql) {
  constexpr size_t kMax = 160;
  std::string out(sql.substr(0, kMax));
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  if (sql.size() > kMax) out += "...";
  return out;
}

// The server's message without libpq's trailing newline.
std::string Trim(std::string_view m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.remove_suffix(1);
  return std::string(m);
}

}  // namespace

absl::Status StatusFromSqlState(std::string_view sqlstate, std::string_view message) {
  std::string msg(message);
  if (!sqlstate.empty()) absl::StrAppend(&msg, " (SQLSTATE ", std::string(sqlstate), ")");
  absl::Status s;
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    s = absl::AbortedError(msg);
  } else if (sqlstate == "23505") {
    s = absl::AlreadyExistsError(msg);
  } else if (ClassIs(sqlstate, "23")) {
    s = absl::FailedPreconditionError(msg);
  } else if (sqlstate == "53100") {
    s = DiskFullError(msg);
  } else if (sqlstate == "53300") {
    s = absl::UnavailableError(msg);
  } else if (ClassIs(sqlstate, "53")) {
    s = absl::ResourceExhaustedError(msg);
  } else if (sqlstate.empty() || ClassIs(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" ||
             sqlstate == "57P03" || sqlstate == "25006") {
    s = absl::UnavailableError(msg);
  } else if (sqlstate == "57014") {
    s = absl::DeadlineExceededError(msg);
  } else if (ClassIs(sqlstate, "22")) {
    s = absl::InvalidArgumentError(msg);
  } else if (ClassIs(sqlstate, "28") || sqlstate == "42501") {
    s = absl::PermissionDeniedError(msg);
  } else if (sqlstate == "3D000") {
    s = absl::NotFoundError(msg);
  } else {
    s = absl::InternalError(msg);  // class 42 (a bug in our SQL), XX, everything else
  }
  return WithSqlState(std::move(s), sqlstate);
}

std::string SqlStateOf(const absl::Status& status) {
  auto p = status.GetPayload(kSqlStatePayload);
  return p ? std::string(*p) : std::string();
}

// ---------------------------------------------------------------- params

PgParams& PgParams::Text(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  binary_.push_back(0);
  return *this;
}
PgParams& PgParams::Int(int64_t v) { return Text(absl::StrCat(v)); }
PgParams& PgParams::Double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return Text(buf);
}
PgParams& PgParams::Bool(bool v) { return Text(v ? "t" : "f"); }
PgParams& PgParams::Bytes(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  binary_.push_back(1);
  return *this;
}
PgParams& PgParams::Null() {
  values_.emplace_back();
  null_.push_back(true);
  binary_.push_back(0);
  return *this;
}

PgParams& PgParams::TextArray(const std::vector<std::string>& items, bool empty_is_null) {
  std::string lit = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) lit += ',';
    if (empty_is_null && items[i].empty()) {
      lit += "NULL";
      continue;
    }
    lit += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') lit += '\\';
      lit += c;
    }
    lit += '"';
  }
  lit += '}';
  return Text(lit);
}

// ---------------------------------------------------------------- result

int64_t PgResult::Affected() const {
  if (!r_) return 0;
  int64_t n = 0;
  if (!absl::SimpleAtoi(PQcmdTuples(r_.get()), &n)) return 0;
  return n;
}

std::string_view PgResult::Text(int row, int col) const {
  return std::string_view(PQgetvalue(r_.get(), row, col), PQgetlength(r_.get(), row, col));
}

int64_t PgResult::Int(int row, int col) const {
  int64_t v = 0;
  if (IsNull(row, col) || !absl::SimpleAtoi(A(Text(row, col)), &v)) return 0;
  return v;
}

std::optional<int64_t> PgResult::OptInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}

double PgResult::Double(int row, int col) const {
  double v = 0;
  if (IsNull(row, col) || !absl::SimpleAtod(A(Text(row, col)), &v)) return 0;
  return v;
}

bool PgResult::Bool(int row, int col) const { return !IsNull(row, col) && Text(row, col) == "t"; }

std::string PgResult::Bytes(int row, int col) const {
  if (IsNull(row, col)) return {};
  size_t len = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)), &len);
  if (raw == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(raw), len);
  PQfreemem(raw);
  return out;
}

// ---------------------------------------------------------------- connection

absl::StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& uri, std::string session_sql) {
  PGconn* c = PQconnectdb(uri.c_str());
  if (c == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg(Trim(PQerrorMessage(c)));
    PQfinish(c);
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", msg));
  }
  // Server notices (e.g. "relation already exists, skipping") are not errors.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  std::unique_ptr<PgConn> conn(new PgConn(uri, c, std::move(session_sql)));
  if (!conn->session_sql_.empty()) RETURN_IF_ERROR(conn->ExecScript(conn->session_sql_));
  return conn;
}

PgConn::~PgConn() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool PgConn::InTransaction() const {
  PGTransactionStatusType t = PQtransactionStatus(conn_);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

absl::Status PgConn::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  prepared_.clear();
  ++reconnects_;
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("cannot reconnect to PostgreSQL: ", Trim(PQerrorMessage(conn_))));
  }
  if (!session_sql_.empty()) {
    PgResult r(PQexec(conn_, session_sql_.c_str()));
    RETURN_IF_ERROR(StatusOfResult(r.raw(), session_sql_));
  }
  for (const std::string& ch : channels_) {
    PgResult r(PQexec(conn_, absl::StrCat("LISTEN \"", ch, "\"").c_str()));
    RETURN_IF_ERROR(StatusOfResult(r.raw(), "LISTEN"));
  }
  return absl::OkStatus();
}

absl::Status PgConn::StatusOfResult(const PGresult* r, std::string_view sql) const {
  if (r == nullptr) {
    return StatusFromSqlState("", absl::StrCat("PostgreSQL: ", Trim(PQerrorMessage(conn_)), " [", ShortSql(sql), "]"));
  }
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return absl::OkStatus();
  const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string_view sqlstate = code ? code : "";
  // libpq reports a lost connection without a SQLSTATE.
  if (sqlstate.empty() && PQstatus(conn_) == CONNECTION_OK) sqlstate = "XX000";
  return StatusFromSqlState(sqlstate,
                            absl::StrCat("PostgreSQL: ", Trim(PQresultErrorMessage(r)), " [", ShortSql(sql), "]"));
}

absl::StatusOr<PgResult> PgConn::Exec(std::string_view sql, const PgParams& params) {
  if (!InTransaction()) RETURN_IF_ERROR(EnsureConnected());
  std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = absl::StrCat("imagen_s", prepared_.size() + 1);
    PgResult prep(PQprepare(conn_, name.c_str(), key.c_str(), params.size(), nullptr));
    RETURN_IF_ERROR(StatusOfResult(prep.raw(), sql));
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  int n = params.size();
  std::vector<const char*> values(n);
  std::vector<int> lengths(n);
  for (int i = 0; i < n; ++i) {
    values[i] = params.null_[i] ? nullptr : params.values_[i].data();
    lengths[i] = static_cast<int>(params.values_[i].size());
  }
  PgResult r(PQexecPrepared(conn_, it->second.c_str(), n, values.data(), lengths.data(), params.binary_.data(), 0));
  RETURN_IF_ERROR(StatusOfResult(r.raw(), sql));
  return r;
}

absl::StatusOr<std::vector<PgResult>> PgConn::ExecPipeline(const std::vector<Statement>& statements) {
  if (!InTransaction()) RETURN_IF_ERROR(EnsureConnected());
  if (PQenterPipelineMode(conn_) != 1) {
    return absl::InternalError(absl::StrCat("cannot enter pipeline mode: ", Trim(PQerrorMessage(conn_))));
  }
  // Per command sent: the statement index it belongs to, and whether it is
  // the Parse of a statement not prepared before on this connection.
  struct Sent {
    size_t index;
    bool prepare;
    std::string name;
  };
  std::vector<Sent> sent;
  absl::Status send_error;
  for (size_t i = 0; i < statements.size() && send_error.ok(); ++i) {
    const Statement& st = statements[i];
    auto it = prepared_.find(st.sql);
    std::string name;
    if (it == prepared_.end()) {
      name = absl::StrCat("imagen_s", prepared_.size() + 1);
      if (PQsendPrepare(conn_, name.c_str(), st.sql.c_str(), st.params.size(), nullptr) != 1) {
        send_error = StatusFromSqlState("", absl::StrCat("PostgreSQL: ", Trim(PQerrorMessage(conn_))));
        break;
      }
      prepared_.emplace(st.sql, name);  // removed again below if the Parse fails
      sent.push_back({i, true, name});
    } else {
      name = it->second;
    }
    int n = st.params.size();
    std::vector<const char*> values(n);
    std::vector<int> lengths(n);
    for (int k = 0; k < n; ++k) {
      values[k] = st.params.null_[k] ? nullptr : st.params.values_[k].data();
      lengths[k] = static_cast<int>(st.params.values_[k].size());
    }
    if (PQsendQueryPrepared(conn_, name.c_str(), n, values.data(), lengths.data(), st.params.binary_.data(), 0) != 1) {
      send_error = StatusFromSqlState("", absl::StrCat("PostgreSQL: ", Trim(PQerrorMessage(conn_))));
      break;
    }
    sent.push_back({i, false, name});
  }
  std::vector<PgResult> out(statements.size());
  absl::Status first_error = send_error;
  if (PQpipelineSync(conn_) != 1 && first_error.ok()) {
    first_error = StatusFromSqlState("", absl::StrCat("PostgreSQL: ", Trim(PQerrorMessage(conn_))));
  }
  for (const Sent& s : sent) {
    PgResult r(PQgetResult(conn_));
    if (r.raw() == nullptr) {
      if (first_error.ok()) first_error = StatusOfResult(nullptr, statements[s.index].sql);
      break;
    }
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);  // the NULL that ends the command
    ExecStatusType st = PQresultStatus(r.raw());
    if (st == PGRES_PIPELINE_ABORTED) {
      if (s.prepare) prepared_.erase(statements[s.index].sql);
      continue;
    }
    absl::Status status = StatusOfResult(r.raw(), statements[s.index].sql);
    if (!status.ok()) {
      if (s.prepare) prepared_.erase(statements[s.index].sql);
      if (first_error.ok()) first_error = status;
      continue;
    }
    if (!s.prepare) out[s.index] = std::move(r);
  }
  // The Sync's result, then back to normal mode.
  for (int guard = 0; guard < 1000; ++guard) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) {
      if (PQstatus(conn_) != CONNECTION_OK) break;
      continue;
    }
    bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) break;
  }
  if (PQexitPipelineMode(conn_) != 1 && first_error.ok()) {
    first_error = absl::InternalError(absl::StrCat("cannot leave pipeline mode: ", Trim(PQerrorMessage(conn_))));
  }
  if (!first_error.ok()) return first_error;
  return out;
}

absl::Status PgConn::ExecScript(std::string_view sql) {
  if (!InTransaction()) RETURN_IF_ERROR(EnsureConnected());
  std::string text(sql);
  PgResult r(PQexec(conn_, text.c_str()));
  return StatusOfResult(r.raw(), sql);
}

absl::Status PgConn::Listen(const std::string& channel) {
  RETURN_IF_ERROR(ExecScript(absl::StrCat("LISTEN \"", channel, "\"")));
  channels_.push_back(channel);
  return absl::OkStatus();
}

void PgConn::DrainNotifications(std::vector<PgNotification>& out) {
  while (PGnotify* n = PQnotifies(conn_)) {
    out.push_back(PgNotification{n->relname, n->extra ? n->extra : "", n->be_pid});
    PQfreemem(n);
  }
}

absl::StatusOr<std::vector<PgNotification>> PgConn::WaitForNotifications(absl::Duration timeout) {
  RETURN_IF_ERROR(EnsureConnected());
  std::vector<PgNotification> out;
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (PQconsumeInput(conn_) == 0) {
      return absl::UnavailableError(absl::StrCat("PostgreSQL listener: ", Trim(PQerrorMessage(conn_))));
    }
    DrainNotifications(out);
    if (!out.empty()) return out;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return out;
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    int ms = static_cast<int>(absl::ToInt64Milliseconds(left + absl::Microseconds(999)));
    int rc = ::poll(&pfd, 1, ms);
    if (rc < 0 && errno != EINTR) return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
  }
}

// ---------------------------------------------------------------- transaction

absl::Status PgTx::Begin(bool async_commit) {
  RETURN_IF_ERROR(conn_->ExecScript(async_commit ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN"));
  open_ = true;
  return absl::OkStatus();
}

absl::Status PgTx::Commit() {
  if (!open_) return absl::FailedPreconditionError("commit without an open transaction");
  bool failed = PQtransactionStatus(conn_->raw()) == PQTRANS_INERROR;
  open_ = false;
  if (failed) {
    (void)conn_->ExecScript("ROLLBACK");
    return absl::AbortedError("the transaction failed earlier and was rolled back");
  }
  return conn_->ExecScript("COMMIT");
}

PgTx::~PgTx() {
  if (open_ && PQstatus(conn_->raw()) == CONNECTION_OK && conn_->InTransaction()) {
    (void)conn_->ExecScript("ROLLBACK");
  }
}

// ---------------------------------------------------------------- pool

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Open(const std::string& uri, int size, const std::string& session_sql) {
  std::unique_ptr<PgPool> pool(new PgPool(uri));
  absl::MutexLock lock(&pool->mu_);
  for (int i = 0; i < std::max(1, size); ++i) {
    ASSIGN_OR_RETURN(auto c, PgConn::Connect(uri, session_sql));
    pool->free_.push_back(std::move(c));
  }
  return pool;
}

PgPool::Lease PgPool::Acquire() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::vector<std::unique_ptr<PgConn>>* f) { return !f->empty(); }, &free_));
  std::unique_ptr<PgConn> c = std::move(free_.back());
  free_.pop_back();
  return Lease(this, std::move(c));
}

void PgPool::Release(std::unique_ptr<PgConn> conn) {
  // A guard that forgot its transaction must not leak it to the next user.
  if (PQstatus(conn->raw()) == CONNECTION_OK && conn->InTransaction()) (void)conn->ExecScript("ROLLBACK");
  absl::MutexLock lock(&mu_);
  free_.push_back(std::move(conn));
}

PgPool::Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_));
}

}  // namespace imagen::jobs::pg
