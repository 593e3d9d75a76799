#include "jobs/webhooks.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/string_view.h"
#include "jobs/crypto.h"

namespace imagen::jobs {

std::string NewWebhookSecret() {
  // Standard Webhooks secrets are "whsec_" + standard base64 of the key bytes.
  std::string hex = RandomHexId("", 32);
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return "whsec_" + Base64Encode(bytes);
}

absl::StatusOr<std::string> SignWebhook(const std::string& secret, const std::string& msg_id, int64_t timestamp,
                                        const std::string& body) {
  std::string_view b64 = secret;
  if (absl::StartsWith(ToAbsl(b64), "whsec_")) b64.remove_prefix(6);
  ASSIGN_OR_RETURN(std::string key, Base64Decode(b64));
  std::string content = absl::StrCat(msg_id, ".", timestamp, ".", body);
  return "v1," + Base64Encode(HmacSha256(key, content));
}

absl::StatusOr<std::map<std::string, std::string>> WebhookHeaders(const std::string& secret, const std::string& msg_id,
                                                                  int64_t timestamp, const std::string& body) {
  ASSIGN_OR_RETURN(std::string sig, SignWebhook(secret, msg_id, timestamp, body));
  return std::map<std::string, std::string>{
      {"webhook-id", msg_id}, {"webhook-timestamp", std::to_string(timestamp)}, {"webhook-signature", sig}};
}

WebhookDispatcher::WebhookDispatcher(JobStore* store, WebhookOptions options,
                                     std::function<void(const std::string&)> outcome)
    : store_(store),
      options_(std::move(options)),
      retry_(options_.retry),
      outcome_(std::move(outcome)),
      rng_(std::random_device{}()) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

void WebhookDispatcher::Deliver(const WebhookDelivery& d) {
  Clock* clock = store_->clock();
  int attempts = d.attempts + 1;
  int status = 0;
  std::string error;
  absl::Status s = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auto key, store_->FindKey(d.key_id));
    if (!key) return absl::FailedPreconditionError("the job's API key no longer exists");
    ASSIGN_OR_RETURN(Url url, ParseUrl(d.url));
    ASSIGN_OR_RETURN(auto addresses, CheckTarget(url, options_.policy));
    int64_t ts = absl::ToUnixSeconds(clock->Now());
    ASSIGN_OR_RETURN(auto headers, WebhookHeaders(key->webhook_secret, d.msg_id, ts, d.payload));
    ASSIGN_OR_RETURN(HttpResult r, HttpPost(url, addresses, headers, d.payload, options_.timeout));
    status = r.status;
    if (status >= 200 && status < 300) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("receiver answered HTTP ", status));
  }();
  DeliveryState state;
  absl::Time next = clock->Now();
  std::string outcome;
  if (s.ok()) {
    state = DeliveryState::kDelivered;
    outcome = "delivered";
  } else {
    error = std::string(s.message());
    if (status == 410) {
      state = DeliveryState::kGone;
      outcome = "gone";
    } else if (s.code() == absl::StatusCode::kPermissionDenied || s.code() == absl::StatusCode::kInvalidArgument ||
               s.code() == absl::StatusCode::kFailedPrecondition || attempts >= options_.retry.max_attempts) {
      state = DeliveryState::kFailed;
      outcome = "failed";
    } else {
      state = DeliveryState::kPending;
      outcome = "retry";
      next = clock->Now() + retry_.Backoff(attempts, rng_);
    }
  }
  LogEvent(s.ok() ? spdlog::level::info : spdlog::level::warn, "webhook delivery",
           {{"job_id", d.job_id},
            {"event", d.event},
            {"attempt", std::to_string(attempts)},
            {"outcome", outcome},
            {"status", std::to_string(status)},
            {"error", error}});
  absl::Status rec = store_->RecordDelivery(d.id, state, attempts, next, status, error);
  if (!rec.ok()) spdlog::error("recording webhook delivery {}: {}", d.id, rec.message());
  if (outcome_) outcome_(outcome);
}

absl::StatusOr<int> WebhookDispatcher::RunOnce() {
  ASSIGN_OR_RETURN(auto due, store_->DueDeliveries(options_.batch));
  for (const auto& d : due) Deliver(d);
  return static_cast<int>(due.size());
}

void WebhookDispatcher::Start() {
  thread_ = std::thread([this] {
    while (true) {
      auto n = RunOnce();
      if (!n.ok()) spdlog::warn("webhook dispatcher: {}", n.status().message());
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      if (n.ok() && *n > 0) continue;
      mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.poll_interval);
      if (stop_) return;
    }
  });
}

void WebhookDispatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace imagen::jobs
