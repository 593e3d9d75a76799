// The threads around the batch policy: DecideNextBatch is applied on
// Enqueue (a request that may run now goes straight to an idle instance), by
// the instance thread that just finished a batch, and by a dispatcher thread
// when a decided wake-up time arrives (so expired requests are rejected when
// they expire); one worker thread per model instance. Without dynamic
// batching, a request that finds the queue empty and an instance idle runs on
// the caller's thread when the model's recent executions were short (no
// thread hop). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "serving/batch_policy.h"
#include "serving/inference_request.h"

namespace imagen::serving {

struct QueuedRequest {
  InferRequest request;
  InferCallback done;
  QueuedItem item;
  int64_t start_us = 0;  // arrival at the model, monotonic micros
  int64_t dequeue_us = 0;
};

using Batch = std::vector<std::unique_ptr<QueuedRequest>>;

class Scheduler {
 public:
  using ExecuteFn = std::function<void(int instance, Batch batch)>;
  using RejectFn = std::function<void(std::unique_ptr<QueuedRequest>, absl::Status)>;

  // Executions averaging at most this long may run on the caller's thread.
  static constexpr int64_t kInlineMaxUs = 500;

  Scheduler(BatchPolicy policy, int instances, ExecuteFn execute, RejectFn reject, Clock* clock);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Unavailable "Exceeds maximum queue size" when its
  // priority level holds `max_queue_size` (>0) requests; Unavailable once
  // stopping. On error the request is returned untouched through `*r`.
  absl::Status Enqueue(std::unique_ptr<QueuedRequest>* r, uint32_t max_queue_size);
  // Refuses new requests, runs everything queued, joins the threads.
  void Stop();
  size_t queued() const;
  // True when no instance is running or holds work and nothing is queued.
  bool idle() const;

 private:
  struct Slot {
    Batch work;
    bool busy = false;
    absl::CondVar cv;
  };
  void Dispatch();
  void Work(int instance);
  // Runs `batch` on `instance` (marked busy by the caller), then frees it and
  // decides what runs next.
  void RunAndRelease(int instance, Batch batch);
  // Applies the batch policy once: hands a decided batch to an idle
  // instance (`prefer` first) and moves expired requests to `*expired`
  // (rejected by the caller outside the lock); wakes the dispatcher if the
  // decision needs a wake-up before the one it sleeps until.
  BatchDecision StepLocked(int64_t now, std::vector<std::unique_ptr<QueuedRequest>>* expired, int prefer = -1)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int IdleSlotLocked(int prefer) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const BatchPolicy policy_;
  ExecuteFn execute_;
  RejectFn reject_;
  Clock* clock_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::vector<std::unique_ptr<QueuedRequest>> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Slot>> slots_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool exit_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<QueuedItem> items_ ABSL_GUARDED_BY(mu_);  // scratch for StepLocked
  // When the dispatcher wakes next (monotonic micros): kAwake while it is
  // deciding, kForever while it waits for a signal.
  static constexpr int64_t kAwake = -1;
  static constexpr int64_t kForever = INT64_MAX;
  int64_t dispatcher_until_ ABSL_GUARDED_BY(mu_) = kAwake;
  // Moving average of execution wall time (steady clock, micros).
  int64_t exec_avg_us_ ABSL_GUARDED_BY(mu_) = 0;
  int exec_samples_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
  bool joined_ = false;
};

}  // namespace imagen::serving
