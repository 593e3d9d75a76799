#include "serving/scheduler.h"

#include <algorithm>
#include <chrono>

namespace imagen::serving {
namespace {

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Scheduler::Scheduler(BatchPolicy policy, int instances, ExecuteFn execute, RejectFn reject, Clock* clock)
    : policy_(std::move(policy)), execute_(std::move(execute)), reject_(std::move(reject)), clock_(clock) {
  for (int i = 0; i < std::max(1, instances); ++i) slots_.push_back(std::make_unique<Slot>());
  for (int i = 0; i < static_cast<int>(slots_.size()); ++i) workers_.emplace_back([this, i] { Work(i); });
  dispatcher_ = std::thread([this] { Dispatch(); });
}

Scheduler::~Scheduler() { Stop(); }

absl::Status Scheduler::Enqueue(std::unique_ptr<QueuedRequest>* r, uint32_t max_queue_size) {
  std::vector<std::unique_ptr<QueuedRequest>> expired;
  int inline_instance = -1;
  Batch inline_batch;
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return absl::UnavailableError("model is being unloaded or the server is shutting down");
    if (max_queue_size > 0) {
      uint32_t same_level = 0;
      for (const auto& q : queue_) same_level += q->item.level == (*r)->item.level ? 1 : 0;
      if (same_level >= max_queue_size) return absl::UnavailableError("Exceeds maximum queue size");
    }
    (*r)->item.seq = next_seq_++;
    int64_t now = clock_->NowMicros();
    // Without a batcher an empty queue means the policy would run this
    // request at once; short models run it here instead of on a worker.
    bool short_model = exec_samples_ >= 3 && exec_avg_us_ <= kInlineMaxUs;
    if (!policy_.dynamic_batching && queue_.empty() && short_model) inline_instance = IdleSlotLocked(-1);
    if (inline_instance >= 0) {
      slots_[static_cast<size_t>(inline_instance)]->busy = true;
      (*r)->dequeue_us = now;
      inline_batch.push_back(std::move(*r));
    } else {
      queue_.push_back(std::move(*r));
      StepLocked(now, &expired);
    }
  }
  for (auto& e : expired) reject_(std::move(e), absl::UnavailableError("Request timeout expired"));
  if (inline_instance >= 0) RunAndRelease(inline_instance, std::move(inline_batch));
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

int Scheduler::IdleSlotLocked(int prefer) const {
  if (prefer >= 0 && !slots_[static_cast<size_t>(prefer)]->busy) return prefer;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i]->busy) return static_cast<int>(i);
  }
  return -1;
}

BatchDecision Scheduler::StepLocked(int64_t now, std::vector<std::unique_ptr<QueuedRequest>>* expired, int prefer) {
  int idle = IdleSlotLocked(prefer);
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
  if (d.wake_at_us >= 0 && dispatcher_until_ != kAwake && d.wake_at_us < dispatcher_until_) cv_.Signal();
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
    dispatcher_until_ = kAwake;
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
      dispatcher_until_ = d.wake_at_us;
      cv_.WaitWithTimeout(&mu_, absl::Microseconds(std::max<int64_t>(1, d.wake_at_us - now)));
    } else {
      dispatcher_until_ = kForever;
      cv_.Wait(&mu_);
    }
  }
}

bool Scheduler::idle() const {
  absl::MutexLock l(&mu_);
  if (!queue_.empty()) return false;
  for (const auto& slot : slots_) {
    if (slot->busy || !slot->work.empty()) return false;
  }
  return true;
}

void Scheduler::RunAndRelease(int instance, Batch batch) {
  int64_t t0 = SteadyMicros();
  execute_(instance, std::move(batch));
  int64_t took = SteadyMicros() - t0;
  std::vector<std::unique_ptr<QueuedRequest>> expired;
  {
    absl::MutexLock l(&mu_);
    slots_[static_cast<size_t>(instance)]->busy = false;
    exec_avg_us_ = exec_samples_ == 0 ? took : (exec_avg_us_ * 7 + took) / 8;
    exec_samples_ = std::min(exec_samples_ + 1, 1 << 20);
    StepLocked(clock_->NowMicros(), &expired, instance);
    if (stopping_) cv_.Signal();  // the dispatcher drains, then exits once all is idle
  }
  for (auto& e : expired) reject_(std::move(e), absl::UnavailableError("Request timeout expired"));
}

void Scheduler::Work(int instance) {
  Slot& slot = *slots_[static_cast<size_t>(instance)];
  absl::MutexLock l(&mu_);
  while (true) {
    while (slot.work.empty() && !exit_) slot.cv.Wait(&mu_);
    if (slot.work.empty() && exit_) break;
    Batch batch = std::move(slot.work);
    slot.work.clear();
    mu_.Unlock();
    RunAndRelease(instance, std::move(batch));
    mu_.Lock();
  }
}

}  // namespace imagen::serving
