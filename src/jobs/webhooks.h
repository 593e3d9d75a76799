// Webhook delivery: Standard Webhooks signing and the dispatcher that drains
// the store's outbox. Each delivery is POSTed with webhook-id,
// webhook-timestamp and webhook-signature ("v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" keyed by the API key's secret, and by its previous one
// too for a grace period after `imagen keys rotate-webhook-secret`); 2xx ends it, 410 stops
// it (gone), anything else retries with exponential backoff and jitter until
// the attempts run out (failed). Outcomes are written back to the outbox, so
// they are visible on the job and survive restarts.
//
// Deliveries run concurrently on a bounded pool (max_in_flight), at most
// max_in_flight_per_key at once for one API key (tenant), each with its own
// timeout; a receiver that never answers ties up only its own tenant's
// slots. Host lookups go through a TargetChecker (off-thread, deadline).
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "jobs/http_client.h"
#include "jobs/job_store.h"
#include "jobs/retry_policy.h"
#include "jobs/target_policy.h"

namespace imagen {
class ThreadPool;
}

namespace imagen::jobs {

// A new per-key secret: "whsec_" + base64 of 32 random bytes.
std::string NewWebhookSecret();
// "v1,<base64 signature>" per Standard Webhooks. Fails on a malformed secret.
absl::StatusOr<std::string> SignWebhook(const std::string& secret, const std::string& msg_id, int64_t timestamp,
                                        const std::string& body);
// The three headers for one delivery.
absl::StatusOr<std::map<std::string, std::string>> WebhookHeaders(const std::string& secret, const std::string& msg_id,
                                                                  int64_t timestamp, const std::string& body);
// Signed with each of `secrets` (during a rotation the new and the old one):
// webhook-signature lists one "v1,..." per secret, space-separated, as
// Standard Webhooks allows; a receiver accepts any signature it can verify.
absl::StatusOr<std::map<std::string, std::string>> WebhookHeaders(const std::vector<std::string>& secrets,
                                                                  const std::string& msg_id, int64_t timestamp,
                                                                  const std::string& body);

// Sends one delivery (seam: tests inject a receiver that never answers).
using WebhookPoster = std::function<absl::StatusOr<HttpResult>(
    const Url& url, const std::vector<std::string>& addresses, const std::map<std::string, std::string>& headers,
    const std::string& body, absl::Duration timeout)>;

struct WebhookOptions {
  TargetPolicy policy;
  RetryOptions retry{.max_attempts = 8, .base_delay = absl::Seconds(1), .max_delay = absl::Minutes(10)};
  absl::Duration timeout = absl::Seconds(10);  // one delivery, connect to last byte
  absl::Duration poll_interval = absl::Milliseconds(200);
  int batch = 16;
  int max_in_flight = 16;            // deliveries at once (pool threads)
  int max_in_flight_per_key = 2;     // deliveries at once for one API key
  TargetChecker* checker = nullptr;  // nullptr: the dispatcher's own (system resolver)
  WebhookPoster post;                // empty: HttpPost
};

class WebhookDispatcher {
 public:
  // `outcome` (may be empty) is told "delivered", "retry", "failed" or "gone"
  // after each attempt.
  WebhookDispatcher(JobStore* store, WebhookOptions options, std::function<void(const std::string&)> outcome = {});
  ~WebhookDispatcher();

  // Attempts every due delivery once (up to the per-key cap) and waits for
  // the attempts to end; returns how many were attempted.
  absl::StatusOr<int> RunOnce();
  // Starts deliveries on a background thread until Stop() (which waits for
  // the ones in flight, each bounded by its timeout).
  void Start();
  void Stop();

 private:
  // Starts the due deliveries that fit the caps; returns how many started.
  absl::StatusOr<int> Dispatch();
  void Deliver(const WebhookDelivery& d);
  void WaitIdle();

  JobStore* store_;
  WebhookOptions options_;
  RetryPolicy retry_;
  std::function<void(const std::string&)> outcome_;
  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
  std::unique_ptr<TargetChecker> own_checker_;  // when options.checker is null
  std::unique_ptr<ThreadPool> pool_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::set<int64_t> in_flight_ ABSL_GUARDED_BY(mu_);               // delivery ids
  std::map<std::string, int> key_in_flight_ ABSL_GUARDED_BY(mu_);  // API key -> deliveries
  int finished_ ABSL_GUARDED_BY(mu_) = 0;                          // wakes the pump
  std::thread thread_;
};

}  // namespace imagen::jobs
