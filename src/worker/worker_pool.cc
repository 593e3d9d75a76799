#include "worker/worker_pool.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/string_view.h"
#include "jobs/crypto.h"

namespace imagen::worker {

WorkerPool::WorkerPool(jobs::JobStore* store, jobs::BlobStore* blobs, const ops::OpRegistry* registry,
                       ops::InferenceClient* inference, jobs::JobEvents* events, PoolOptions options)
    : store_(store), events_(events), options_(std::move(options)) {
  std::string boot = jobs::RandomHexId("", 4);
  for (int i = 0; i < options_.threads; ++i) {
    auto w = std::make_unique<Worker>(store, blobs, registry, inference, events, options_.worker,
                                      absl::StrCat(options_.owner_prefix, "-", boot, "-", i));
    Worker* raw = w.get();
    w->SetProgressSink([this, raw](const std::string& id, double p) {
      absl::MutexLock lock(&mu_);
      running_[id] = {raw->owner(), p};
    });
    w->SetAbortFlag(&abort_);
    workers_.push_back(std::move(w));
  }
}

WorkerPool::~WorkerPool() { Stop(absl::ZeroDuration()); }

void WorkerPool::Start() {
  for (auto& w : workers_) {
    Worker* raw = w.get();
    raw->SetTimingObserver([this](const JobTiming& t) {
      if (observe_) observe_(t);
    });
    // Track which owner holds each running job for heartbeats.
    raw->SetStepHook([this, raw](std::string_view step, const std::string& job_id) {
      absl::MutexLock lock(&mu_);
      if (step == "leased") running_[job_id] = {raw->owner(), 0.0};
      return absl::OkStatus();
    });
    threads_.emplace_back([this, raw] { Loop(raw); });
  }
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
}

void WorkerPool::Loop(Worker* w) {
  while (!stopping_.load()) {
    busy_.fetch_add(1);
    absl::StatusOr<bool> r = false;
    // The worker thread's entry point: an exception is logged and the loop
    // goes on (the job's lease expires and it runs again).
    try {
      r = w->RunOne();
    } catch (const std::exception& e) {
      r = absl::InternalError(absl::StrCat("uncaught exception: ", e.what()));
    } catch (...) {
      r = absl::InternalError("uncaught exception");
    }
    busy_.fetch_sub(1);
    {
      absl::MutexLock lock(&mu_);
      for (auto it = running_.begin(); it != running_.end();) {
        if (it->second.first == w->owner()) {
          running_.erase(it++);
        } else {
          ++it;
        }
      }
    }
    if (!r.ok()) {
      spdlog::warn("worker {}: {}", w->owner(), r.status().message());
      events_->WaitForWork(options_.idle_poll);
      continue;
    }
    if (!*r) events_->WaitForWork(options_.idle_poll);
  }
}

void WorkerPool::HeartbeatLoop() {
  while (true) {
    std::vector<std::pair<std::string, std::pair<std::string, double>>> snapshot;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stop_heartbeat_), options_.heartbeat);
      if (stop_heartbeat_) return;
      snapshot.assign(running_.begin(), running_.end());
    }
    for (const auto& [id, owner_progress] : snapshot) {
      try {
        absl::Status s = store_->Heartbeat(id, owner_progress.first, options_.worker.lease, owner_progress.second);
        if (!s.ok()) spdlog::warn("heartbeat for {}: {}", id, s.message());
      } catch (const std::exception& e) {
        spdlog::error("heartbeat for {}: {}", id, e.what());
      }
    }
  }
}

void WorkerPool::Stop(absl::Duration grace) {
  if (stopping_.exchange(true)) return;
  absl::Time deadline = absl::Now() + grace;
  for (int i = 0; i < static_cast<int>(workers_.size()); ++i) events_->NotifyWork();
  // Running jobs keep going (and heartbeating) until the deadline.
  while (busy_.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  int released = 0;
  for (auto& w : workers_) {
    auto n = store_->ReleaseLeases(w->owner());
    if (n.ok()) released += *n;
  }
  if (released > 0) spdlog::info("released {} job lease(s) still running at shutdown", released);
  {
    absl::MutexLock lock(&mu_);
    stop_heartbeat_ = true;
  }
  if (heartbeat_.joinable()) heartbeat_.join();
  // Operations still running see ctx.cancelled() and stop; their writes then
  // fail the lease check (released) and change nothing.
  abort_.store(true);
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace imagen::worker
