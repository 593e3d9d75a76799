#include "jobs/api_keys.h"

#include "common/status_macros.h"
#include "jobs/crypto.h"
#include "jobs/webhooks.h"

namespace imagen::jobs {

std::string HashApiKey(const std::string& token) { return Sha256Hex(token); }

static ApiKey NewRecord(JobStore* store, const std::string& token, const KeyOptions& options) {
  ApiKey k;
  k.id = RandomHexId("key_", 8);
  k.name = options.name;
  k.key_hash = HashApiKey(token);
  k.webhook_secret = NewWebhookSecret();
  k.rate = options.rate;
  k.max_concurrent = options.max_concurrent;
  k.admin = options.admin;
  k.max_priority = options.max_priority;
  k.max_queued = options.max_queued;
  k.created_at = store->clock()->Now();
  return k;
}

absl::StatusOr<CreatedKey> CreateApiKey(JobStore* store, const KeyOptions& options) {
  if (options.name.empty()) return absl::InvalidArgumentError("a key needs a name");
  if (options.rate < 0) return absl::InvalidArgumentError("--rate must be >= 0");
  if (options.max_concurrent < 0) return absl::InvalidArgumentError("--max-concurrent must be >= 0");
  if (options.max_priority < 0 || options.max_priority > 100) {
    return absl::InvalidArgumentError("--max-priority must be in [0, 100]");
  }
  if (options.max_queued < 0) return absl::InvalidArgumentError("--max-queued must be >= 0");
  CreatedKey out;
  out.token = RandomToken("imk_", 32);
  out.record = NewRecord(store, out.token, options);
  RETURN_IF_ERROR(store->InsertKey(out.record));
  return out;
}

absl::StatusOr<ApiKey> EnsureApiKey(JobStore* store, const std::string& token, const KeyOptions& options) {
  ASSIGN_OR_RETURN(auto existing, store->FindKeyByHash(HashApiKey(token)));
  if (existing) return *existing;
  ApiKey k = NewRecord(store, token, options);
  RETURN_IF_ERROR(store->InsertKey(k));
  return k;
}

absl::StatusOr<ApiKey> RotateWebhookSecret(JobStore* store, const std::string& id_or_prefix, absl::Duration grace) {
  if (grace < absl::ZeroDuration()) return absl::InvalidArgumentError("the grace period must be >= 0");
  return store->RotateWebhookSecret(id_or_prefix, NewWebhookSecret(), store->clock()->Now() + grace);
}

}  // namespace imagen::jobs
