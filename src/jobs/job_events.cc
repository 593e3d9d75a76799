#include "jobs/job_events.h"

#include <algorithm>
#include <vector>

namespace imagen::jobs {

void JobEvents::Publish(const Job& job) {
  std::vector<std::function<void()>> wake;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = watchers_.find(job.id); it != watchers_.end()) {
      for (const auto& [handle, fn] : it->second) wake.push_back(fn);
    }
    JobSnapshot& s = jobs_[job.id];
    s.state = job.state;
    s.progress = job.progress;
    s.cancel_requested = job.cancel_requested;
    s.version = next_version_++;
    if (jobs_.size() > 100000) TrimLocked(50000);
  }
  for (const auto& fn : wake) fn();
  if (job.state == JobState::kQueued) NotifyWork();
}

std::optional<JobSnapshot> JobEvents::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

uint64_t JobEvents::Watch(const std::string& id, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  uint64_t handle = next_watch_++;
  watchers_[id].emplace_back(handle, std::move(fn));
  return handle;
}

void JobEvents::Unwatch(const std::string& id, uint64_t handle) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return;
  std::erase_if(it->second, [handle](const auto& w) { return w.first == handle; });
  if (it->second.empty()) watchers_.erase(it);
}

void JobEvents::TrimLocked(size_t keep) {
  std::vector<std::pair<uint64_t, std::string>> done;
  for (const auto& [id, s] : jobs_) {
    if (IsTerminal(s.state)) done.emplace_back(s.version, id);
  }
  std::sort(done.begin(), done.end());
  size_t drop = jobs_.size() > keep ? jobs_.size() - keep : 0;
  for (size_t i = 0; i < done.size() && i < drop; ++i) jobs_.erase(done[i].second);
}

void JobEvents::NotifyWork() {
  absl::MutexLock lock(&work_mu_);
  ++work_tokens_;
}

bool JobEvents::WaitForWork(absl::Duration timeout) {
  absl::MutexLock lock(&work_mu_);
  auto has = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(work_mu_) { return work_tokens_ > 0; };
  bool woke = work_mu_.AwaitWithTimeout(absl::Condition(&has), timeout);
  if (woke) --work_tokens_;
  return woke;
}

}  // namespace imagen::jobs
