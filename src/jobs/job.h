// The job model: states, the transitions the state machine allows, and the
// record the store keeps for each job. Plain data; thread-compatible.
//
//   queued ──lease──▶ running ──▶ succeeded | failed | canceled
//     ▲                 │ retryable error, attempts left (backoff)
//     └─────────────────┘ lease expired / released on shutdown
//   running ── retryable error, no attempts left ──▶ dead ──replay──▶ queued
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace imagen::jobs {

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCanceled, kDead };

const char* JobStateName(JobState s);
absl::StatusOr<JobState> ParseJobState(std::string_view name);
bool IsTerminal(JobState s);
// True when the state machine allows `from` -> `to`.
bool CanTransition(JobState from, JobState to);

struct Job {
  int64_t seq = 0;  // insertion order; paging cursor
  std::string id;
  std::string key_id;
  std::string operation;
  std::string params_json;  // JSON object of the given parameter texts
  std::string input_ref;    // blob reference (sha256 hex)
  std::string input_type;   // MIME type of the input
  JobState state = JobState::kQueued;
  int priority = 0;
  int attempts = 0;
  int max_attempts = 1;
  absl::Time created_at;
  absl::Time updated_at;
  absl::Time run_after;
  std::optional<absl::Time> started_at;
  std::optional<absl::Time> finished_at;
  std::optional<absl::Time> deadline_at;
  std::string lease_owner;
  std::optional<absl::Time> lease_expires_at;
  bool cancel_requested = false;
  double progress = 0;
  std::string error_code;
  std::string error_message;
  std::string result_ref;
  std::string result_type;
  std::string webhook_url;
  std::string idempotency_key;
  std::string request_hash;
};

}  // namespace imagen::jobs
