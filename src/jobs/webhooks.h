// Webhook delivery: Standard Webhooks signing and the dispatcher that drains
// the store's outbox. Each delivery is POSTed with webhook-id,
// webhook-timestamp and webhook-signature ("v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" keyed by the API key's secret); 2xx ends it, 410 stops
// it (gone), anything else retries with exponential backoff and jitter until
// the attempts run out (failed). Outcomes are written back to the outbox, so
// they are visible on the job and survive restarts. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "jobs/http_client.h"
#include "jobs/job_store.h"
#include "jobs/retry_policy.h"

namespace imagen::jobs {

// A new per-key secret: "whsec_" + base64 of 32 random bytes.
std::string NewWebhookSecret();
// "v1,<base64 signature>" per Standard Webhooks. Fails on a malformed secret.
absl::StatusOr<std::string> SignWebhook(const std::string& secret, const std::string& msg_id, int64_t timestamp,
                                        const std::string& body);
// The three headers for one delivery.
absl::StatusOr<std::map<std::string, std::string>> WebhookHeaders(const std::string& secret, const std::string& msg_id,
                                                                  int64_t timestamp, const std::string& body);

struct WebhookOptions {
  TargetPolicy policy;
  RetryOptions retry{.max_attempts = 8, .base_delay = absl::Seconds(1), .max_delay = absl::Minutes(10)};
  absl::Duration timeout = absl::Seconds(10);
  absl::Duration poll_interval = absl::Milliseconds(200);
  int batch = 16;
};

class WebhookDispatcher {
 public:
  // `outcome` (may be empty) is told "delivered", "retry", "failed" or "gone"
  // after each attempt.
  WebhookDispatcher(JobStore* store, WebhookOptions options, std::function<void(const std::string&)> outcome = {});
  ~WebhookDispatcher();

  // Attempts every due delivery once; returns how many were attempted.
  absl::StatusOr<int> RunOnce();
  // Runs RunOnce on a background thread until Stop().
  void Start();
  void Stop();

 private:
  void Deliver(const WebhookDelivery& d);

  JobStore* store_;
  WebhookOptions options_;
  RetryPolicy retry_;
  std::function<void(const std::string&)> outcome_;
  std::mt19937_64 rng_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace imagen::jobs
