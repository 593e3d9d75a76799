#include "jobs/job.h"

#include <string>

namespace imagen::jobs {

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kCanceled:
      return "canceled";
    case JobState::kDead:
      return "dead";
  }
  return "unknown";
}

absl::StatusOr<JobState> ParseJobState(std::string_view name) {
  for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                     JobState::kCanceled, JobState::kDead}) {
    if (name == JobStateName(s)) return s;
  }
  return absl::InvalidArgumentError("unknown job status '" + std::string(name) +
                                    "' (expected queued, running, succeeded, failed, canceled or dead)");
}

bool IsTerminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCanceled || s == JobState::kDead;
}

bool CanTransition(JobState from, JobState to) {
  switch (from) {
    case JobState::kQueued:
      // Leased, canceled, or failed before running (deadline passed).
      return to == JobState::kRunning || to == JobState::kCanceled || to == JobState::kFailed || to == JobState::kDead;
    case JobState::kRunning:
      // Back to queued on retry, expired or released lease.
      return to == JobState::kQueued || to == JobState::kSucceeded || to == JobState::kFailed ||
             to == JobState::kCanceled || to == JobState::kDead;
    case JobState::kDead:
      return to == JobState::kQueued;  // replay by the admin
    case JobState::kSucceeded:
    case JobState::kFailed:
    case JobState::kCanceled:
      return false;
  }
  return false;
}

}  // namespace imagen::jobs
