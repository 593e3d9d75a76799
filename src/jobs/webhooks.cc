#include "jobs/webhooks.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/string_view.h"
#include "common/thread_pool.h"
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

absl::StatusOr<std::map<std::string, std::string>> WebhookHeaders(const std::vector<std::string>& secrets,
                                                                  const std::string& msg_id, int64_t timestamp,
                                                                  const std::string& body) {
  if (secrets.empty() || secrets[0].empty()) {
    return absl::FailedPreconditionError(
        "the key's webhook secret cannot be opened (jobs.db sealed it under another IMAGEN_SECRET_KEY or secret.key)");
  }
  std::string sigs;
  for (const std::string& secret : secrets) {
    ASSIGN_OR_RETURN(std::string sig, SignWebhook(secret, msg_id, timestamp, body));
    absl::StrAppend(&sigs, sigs.empty() ? "" : " ", sig);
  }
  return std::map<std::string, std::string>{
      {"webhook-id", msg_id}, {"webhook-timestamp", std::to_string(timestamp)}, {"webhook-signature", sigs}};
}

WebhookDispatcher::WebhookDispatcher(JobStore* store, WebhookOptions options,
                                     std::function<void(const std::string&)> outcome)
    : store_(store),
      options_(std::move(options)),
      retry_(options_.retry),
      outcome_(std::move(outcome)),
      rng_(std::random_device{}()),
      pool_(std::make_unique<ThreadPool>(std::max(1, options_.max_in_flight), "webhooks")) {
  // Its own lookups, apart from the submissions' (TargetChecker::Default), so
  // a slow DNS server of one receiver cannot fill the pool the API waits on.
  if (options_.checker == nullptr) {
    own_checker_ = std::make_unique<TargetChecker>(SystemResolver(), TargetCheckerOptions{});
    options_.checker = own_checker_.get();
  }
  if (!options_.post) options_.post = HttpPost;
  options_.max_in_flight = std::max(1, options_.max_in_flight);
  options_.max_in_flight_per_key = std::max(1, options_.max_in_flight_per_key);
}

WebhookDispatcher::~WebhookDispatcher() {
  Stop();
  WaitIdle();
  pool_.reset();
}

void WebhookDispatcher::Deliver(const WebhookDelivery& d) {
  Clock* clock = store_->clock();
  int attempts = d.attempts + 1;
  int status = 0;
  std::string error;
  absl::Status s = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auto key, store_->FindKey(d.key_id));
    if (!key) return absl::FailedPreconditionError("the job's API key no longer exists");
    ASSIGN_OR_RETURN(Url url, ParseUrl(d.url));
    ASSIGN_OR_RETURN(auto addresses, options_.checker->CheckAndWait(url, options_.policy));
    int64_t ts = absl::ToUnixSeconds(clock->Now());
    ASSIGN_OR_RETURN(auto headers, WebhookHeaders(SigningSecrets(*key, clock->Now()), d.msg_id, ts, d.payload));
    ASSIGN_OR_RETURN(HttpResult r, options_.post(url, addresses, headers, d.payload, options_.timeout));
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
      absl::MutexLock lock(&rng_mu_);
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

absl::StatusOr<int> WebhookDispatcher::Dispatch() {
  std::vector<std::string> saturated;
  std::set<int64_t> busy;
  int free_slots;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, n] : key_in_flight_) {
      if (n >= options_.max_in_flight_per_key) saturated.push_back(key);
    }
    busy = in_flight_;
    free_slots = options_.max_in_flight - static_cast<int>(in_flight_.size());
  }
  if (free_slots <= 0) return 0;
  // Rows of saturated keys are skipped in the query, so one tenant's backlog
  // never hides another tenant's due delivery.
  ASSIGN_OR_RETURN(
      auto due, store_->DueDeliveries(std::max(options_.batch, free_slots) + static_cast<int>(busy.size()), saturated));
  int started = 0;
  for (auto& d : due) {
    if (busy.count(d.id) > 0) continue;
    {
      absl::MutexLock lock(&mu_);
      if (static_cast<int>(in_flight_.size()) >= options_.max_in_flight) break;
      int& n = key_in_flight_[d.key_id];
      if (n >= options_.max_in_flight_per_key) continue;
      ++n;
      in_flight_.insert(d.id);
    }
    ++started;
    auto task = [this, d = std::move(d)] {
      // A delivery thread's entry point: nothing may escape it.
      try {
        Deliver(d);
      } catch (const std::exception& e) {
        spdlog::error("webhook delivery {}: {}", d.id, e.what());
      } catch (...) {
        spdlog::error("webhook delivery {}: unknown exception", d.id);
      }
      absl::MutexLock lock(&mu_);
      in_flight_.erase(d.id);
      if (--key_in_flight_[d.key_id] <= 0) key_in_flight_.erase(d.key_id);
      ++finished_;
    };
    if (!pool_->Submit(std::move(task))) return started;
  }
  return started;
}

void WebhookDispatcher::WaitIdle() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_.empty(); };
  mu_.Await(absl::Condition(&idle));
}

absl::StatusOr<int> WebhookDispatcher::RunOnce() {
  int total = 0;
  for (;;) {
    ASSIGN_OR_RETURN(int n, Dispatch());
    if (n == 0) break;
    total += n;
  }
  WaitIdle();
  return total;
}

void WebhookDispatcher::Start() {
  thread_ = std::thread([this] {
    while (true) {
      int seen;
      {
        absl::MutexLock lock(&mu_);
        seen = finished_;
      }
      absl::StatusOr<int> n = 0;
      // The dispatcher thread's entry point: log and go on.
      try {
        n = Dispatch();
      } catch (const std::exception& e) {
        n = absl::InternalError(e.what());
      }
      if (!n.ok()) spdlog::warn("webhook dispatcher: {}", n.status().message());
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      if (n.ok() && *n > 0) continue;
      // Until a delivery ends (a slot or a key frees) or the next poll.
      auto wake = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || finished_ != seen; };
      mu_.AwaitWithTimeout(absl::Condition(&wake), options_.poll_interval);
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
