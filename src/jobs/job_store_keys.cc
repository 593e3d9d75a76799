// JobStore: the API-key table (insert, look up, list, revoke, webhook secret
// rotation) and the webhook secrets' form at rest.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "jobs/job_store.h"
#include "jobs/job_store_rows.h"

namespace imagen::jobs {

using store_internal::kKeyColumns;
using store_internal::RowToKey;

std::vector<std::string> SigningSecrets(const ApiKey& key, absl::Time now) {
  std::vector<std::string> out = {key.webhook_secret};
  if (!key.previous_webhook_secret.empty() && key.previous_secret_until && now < *key.previous_secret_until) {
    out.push_back(key.previous_webhook_secret);
  }
  return out;
}

std::string JobStore::EncodeSecrets(const ApiKey& k) const {
  // Secrets are "whsec_" + standard base64: no commas.
  std::string text = k.webhook_secret;
  if (!k.previous_webhook_secret.empty() && k.previous_secret_until) {
    absl::StrAppend(&text, ",", k.previous_webhook_secret, ",", absl::ToUnixMicros(*k.previous_secret_until));
  }
  return box_ ? box_->Seal(text, k.id) : text;
}

void JobStore::DecodeSecrets(ApiKey& k) const {
  std::string text = k.webhook_secret;
  k.webhook_secret.clear();
  if (SecretBox::IsSealed(text)) {
    // Without the right box the secret stays empty: authentication works,
    // deliveries fail with a message saying why (WebhookDispatcher).
    if (!box_) return;
    auto opened = box_->Open(text, k.id);
    if (!opened.ok()) return;
    text = std::move(*opened);
  }
  std::vector<std::string> parts = absl::StrSplit(text, ',');
  k.webhook_secret = parts[0];
  int64_t until = 0;
  if (parts.size() == 3 && absl::SimpleAtoi(parts[2], &until)) {
    k.previous_webhook_secret = parts[1];
    k.previous_secret_until = absl::FromUnixMicros(until);
  }
}

absl::Status JobStore::UseSecretBox(SecretBox box) {
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT id, webhook_secret FROM api_keys"));
    std::vector<std::pair<std::string, std::string>> plain;
    absl::Status wrong_key = absl::OkStatus();
    RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) {
      std::string id = r.Text(0), secret = r.Text(1);
      if (!SecretBox::IsSealed(secret)) {
        plain.emplace_back(id, secret);
      } else if (wrong_key.ok() && !box.Open(secret, id).ok()) {
        wrong_key = absl::FailedPreconditionError(
            absl::StrCat("the webhook secret of key ", id,
                         " was sealed under another secret key than this one (IMAGEN_SECRET_KEY or DIR/",
                         std::string(kSecretKeyFile), "); use the key it was sealed with"));
      }
    }));
    RETURN_IF_ERROR(wrong_key);
    for (const auto& [id, secret] : plain) {
      ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE api_keys SET webhook_secret=? WHERE id=?"));
      RETURN_IF_ERROR(up.Bind(1, box.Seal(secret, id)).Bind(2, id).Run());
    }
    RETURN_IF_ERROR(tx.Commit());
    ticket = wal_->Committed();
    box_ = std::move(box);
  }
  return wal_->SyncThrough(ticket);
}

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
      .Bind(4, EncodeSecrets(k))
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
  ApiKey k = RowToKey(q);
  DecodeSecrets(k);
  return k;
}

absl::StatusOr<std::optional<ApiKey>> JobStore::FindKey(const std::string& id) {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare(absl::StrCat("SELECT ", kKeyColumns, " FROM api_keys WHERE id=?")));
  q.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::nullopt;
  ApiKey k = RowToKey(q);
  DecodeSecrets(k);
  return k;
}

absl::StatusOr<ApiKey> JobStore::MatchKeyLocked(const std::string& id_or_prefix) {
  if (id_or_prefix.size() < 4) return absl::InvalidArgumentError("give the key's id or at least 4 characters of it");
  // An exact id, or else a unique prefix of one.
  ASSIGN_OR_RETURN(auto q, db_->Prepare(absl::StrCat("SELECT ", kKeyColumns,
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
  DecodeSecrets(matches[0]);
  return matches[0];
}

absl::StatusOr<ApiKey> JobStore::RevokeKey(const std::string& id_or_prefix) {
  std::optional<ApiKey> key;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(key, MatchKeyLocked(id_or_prefix));
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
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) {
    out.push_back(RowToKey(r));
    DecodeSecrets(out.back());
  }));
  return out;
}

absl::StatusOr<ApiKey> JobStore::RotateWebhookSecret(const std::string& id_or_prefix, const std::string& new_secret,
                                                     absl::Time previous_until) {
  ApiKey key;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    Transaction tx(db_.get());
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(key, MatchKeyLocked(id_or_prefix));
    if (key.revoked_at) return absl::FailedPreconditionError(absl::StrCat("key ", key.id, " is revoked"));
    if (key.webhook_secret.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the webhook secret of key ", key.id, " does not open with this secret key"));
    }
    key.previous_webhook_secret = key.webhook_secret;
    key.previous_secret_until = previous_until;
    key.webhook_secret = new_secret;
    ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE api_keys SET webhook_secret=? WHERE id=?"));
    RETURN_IF_ERROR(up.Bind(1, EncodeSecrets(key)).Bind(2, key.id).Run());
    RETURN_IF_ERROR(tx.Commit());
    ticket = wal_->Committed();
  }
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  return key;
}

}  // namespace imagen::jobs
