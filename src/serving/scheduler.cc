#include "serving/scheduler.h"

#include <algorithm>

namespace imagen::serving {

Scheduler::Scheduler(BatchPolicy policy, int instances, ExecuteFn execute, RejectFn reject, Clock* clock)
    : policy_(std::move(policy)), execute_(std::move(execute)), reject_(std::move(reject)), clock_(clock) {
  for (int i = 0; i < std::max(1, instances); ++i) slots_.push_back(std::make_unique<Slot>());
  for (int i = 0; i < static_cast<int>(slots_.size()); ++i) workers_.emplace_back([this, i] { Work(i); });
  dispatcher_ = std::thread([this] { Dispatch(); });
}

Scheduler::~Scheduler() { Stop(); }

absl::Status Scheduler::Enqueue(std::unique_ptr<QueuedRequest>* r, uint32_t max_queue_size) {
  std::vector<std::unique_ptr<QueuedRequest>> expired;
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return absl::UnavailableError("model is being unloaded or the server is shutting down");
    if (max_queue_size > 0) {
      uint32_t same_level = 0;
      for (const auto& q : queue_) same_level += q->item.level == (*r)->item.level ? 1 : 0;
      if (same_level >= max_queue_size) return absl::UnavailableError("Exceeds maximum queue size");
    }
    (*r)->item.seq = next_seq_++;
    queue_.push_back(std::move(*r));
    // Decide on the caller's thread, so a request that can run at once goes
    // straight to an idle instance; the dispatcher handles waits and expiry.
    BatchDecision d = StepLocked(clock_->NowMicros(), &expired);
    if (!queue_.empty() || d.run.empty()) cv_.Signal();
  }
  for (auto& e : expired) reject_(std::move(e), absl::UnavailableError("Request timeout expired"));
  return absl::OkStatus();
}

size_t Scheduler::queued() const {
  absl::MutexLock l(&mu_);
  return queue_.size();
}

void Scheduler::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (joined_) return;
    stopping_ = true;
    cv_.Signal();
  }
  dispatcher_.join();
  {
    absl::MutexLock l(&mu_);
    exit_ = true;
    for (auto& s : slots_) s->cv.Signal();
  }
  for (auto& w : workers_) w.join();
  joined_ = true;
}

BatchDecision Scheduler::StepLocked(int64_t now, std::vector<std::unique_ptr<QueuedRequest>>* expired) {
  int idle = -1;
  for (size_t i = 0; i < slots_.size() && idle < 0; ++i) {
    if (!slots_[i]->busy) idle = static_cast<int>(i);
  }
  items_.clear();
  for (const auto& q : queue_) items_.push_back(q->item);
  BatchDecision d = DecideNextBatch(items_, now, policy_, idle >= 0);
  if (stopping_ && d.run.empty() && idle >= 0 && !queue_.empty() && d.expired.empty()) {
    // Draining: do not wait for batching delays.
    BatchPolicy greedy = policy_;
    greedy.max_queue_delay_us = 0;
    greedy.preferred_batch_sizes.clear();
    d = DecideNextBatch(items_, now, greedy, true);
  }
  if (d.run.empty() && d.expired.empty()) return d;
  Batch run;
  for (size_t i : d.run) {
    queue_[i]->dequeue_us = now;
    run.push_back(std::move(queue_[i]));
  }
  for (size_t i : d.expired) expired->push_back(std::move(queue_[i]));
  queue_.erase(std::remove(queue_.begin(), queue_.end(), nullptr), queue_.end());
  if (!run.empty()) {
    Slot& slot = *slots_[static_cast<size_t>(idle)];
    slot.busy = true;
    slot.work = std::move(run);
    slot.cv.Signal();
  }
  return d;
}

void Scheduler::Dispatch() {
  absl::MutexLock l(&mu_);
  while (true) {
    bool all_idle = true;
    for (const auto& slot : slots_) all_idle = all_idle && !slot->busy;
    if (stopping_ && queue_.empty() && all_idle) return;
    int64_t now = clock_->NowMicros();
    std::vector<std::unique_ptr<QueuedRequest>> expired;
    BatchDecision d = StepLocked(now, &expired);
    if (!expired.empty()) {
      mu_.Unlock();
      for (auto& r : expired) reject_(std::move(r), absl::UnavailableError("Request timeout expired"));
      mu_.Lock();
    }
    if (!d.run.empty() || !d.expired.empty()) continue;
    if (d.wake_at_us >= 0) {
      cv_.WaitWithTimeout(&mu_, absl::Microseconds(std::max<int64_t>(1, d.wake_at_us - now)));
    } else {
      cv_.Wait(&mu_);
    }
  }
}

void Scheduler::Work(int instance) {
  Slot& slot = *slots_[static_cast<size_t>(instance)];
  mu_.Lock();
  while (true) {
    while (slot.work.empty() && !exit_) slot.cv.Wait(&mu_);
    if (slot.work.empty() && exit_) break;
    Batch batch = std::move(slot.work);
    slot.work.clear();
    mu_.Unlock();
    execute_(instance, std::move(batch));
    mu_.Lock();
    slot.busy = false;
    cv_.Signal();
  }
  mu_.Unlock();
}

}  // namespace imagen::serving
