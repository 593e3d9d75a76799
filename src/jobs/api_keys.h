// Creating API keys: a random bearer token ("imk_" + 256 bits), stored only
// as its SHA-256, with a per-key webhook secret. The token and secret are
// returned once to be shown to the user. Thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "jobs/job_store.h"

namespace imagen::jobs {

struct CreatedKey {
  std::string token;  // the bearer token, shown once
  ApiKey record;
};

struct KeyOptions {
  std::string name;
  double rate = 0;
  int max_concurrent = 0;
  bool admin = false;
  int max_priority = 0;    // 0..100: priorities up to this go before other keys' jobs
  int64_t max_queued = 0;  // 0: the server's jobs.max_queued_per_key
};

absl::StatusOr<CreatedKey> CreateApiKey(JobStore* store, const KeyOptions& options);
// Stores an existing token (the admin key file) if its hash is not known yet.
absl::StatusOr<ApiKey> EnsureApiKey(JobStore* store, const std::string& token, const KeyOptions& options);
std::string HashApiKey(const std::string& token);
// A new webhook secret for the key `id_or_prefix`; deliveries are signed
// with the new and the old one until `grace` has passed, then with the new
// one only. Returns the key with both (the new one to be shown once).
absl::StatusOr<ApiKey> RotateWebhookSecret(JobStore* store, const std::string& id_or_prefix, absl::Duration grace);

}  // namespace imagen::jobs
