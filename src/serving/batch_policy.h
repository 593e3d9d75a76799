// The dynamic batcher's decision, as a pure function of (queue, now, policy):
// which queued requests run next as one batch, which have expired and are
// rejected, and when to decide again if nothing else happens. The threads in
// scheduler.h only move data around this function. Thread-safe (pure).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace imagen::serving {

// What the policy needs to know about one queued request.
struct QueuedItem {
  uint64_t seq = 0;               // arrival order
  uint32_t level = 1;             // priority level, 1 = highest
  int64_t enqueue_us = 0;         // monotonic micros
  int64_t deadline_us = 0;        // 0: no queue timeout
  bool delay_on_timeout = false;  // timeout_action DELAY: demoted, not rejected
  int64_t batch_size = 1;         // rows this request contributes (dim 0)
  uint64_t shape_key = 0;         // requests batch together only with equal keys
};

struct BatchPolicy {
  bool dynamic_batching = false;
  int64_t max_batch_size = 0;  // 0: the model does not batch
  std::vector<int64_t> preferred_batch_sizes;
  int64_t max_queue_delay_us = 0;
};

struct BatchDecision {
  std::vector<size_t> run;      // indices into the queue, in execution order
  std::vector<size_t> expired;  // indices to reject ("Request timeout expired")
  int64_t wake_at_us = -1;      // decide again at this time; -1: only on new events
};

// `queue` is in arrival order. `instance_available` is false while every
// model instance is busy: expiries are still decided, batches are not.
BatchDecision DecideNextBatch(std::span<const QueuedItem> queue, int64_t now_us, const BatchPolicy& policy,
                              bool instance_available);

}  // namespace imagen::serving
