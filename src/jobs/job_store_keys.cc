// JobStore: the API-key table (insert, look up, list, revoke).
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "jobs/job_store.h"
#include "jobs/job_store_rows.h"

namespace imagen::jobs {

using store_internal::kKeyColumns;
using store_internal::RowToKey;

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

}  // namespace imagen::jobs
