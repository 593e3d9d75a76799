#include "serving/batch_policy.h"

#include <algorithm>

namespace imagen::serving {
namespace {

void Earliest(int64_t* wake, int64_t t) {
  if (*wake < 0 || t < *wake) *wake = t;
}

}  // namespace

BatchDecision DecideNextBatch(std::span<const QueuedItem> queue, int64_t now_us, const BatchPolicy& policy,
                              bool instance_available) {
  BatchDecision d;
  // Live requests ordered by (priority level, not yet timed out first, arrival).
  struct Key {
    uint32_t level;
    bool delayed;
    uint64_t seq;
    size_t index;
  };
  std::vector<Key> live;
  live.reserve(queue.size());
  for (size_t i = 0; i < queue.size(); ++i) {
    const QueuedItem& q = queue[i];
    bool timed_out = q.deadline_us > 0 && now_us >= q.deadline_us;
    if (timed_out && !q.delay_on_timeout) {
      d.expired.push_back(i);
      continue;
    }
    if (q.deadline_us > 0 && !timed_out) Earliest(&d.wake_at_us, q.deadline_us);
    live.push_back({q.level, timed_out, q.seq, i});
  }
  if (live.empty() || !instance_available) return d;
  std::sort(live.begin(), live.end(), [](const Key& a, const Key& b) {
    if (a.level != b.level) return a.level < b.level;
    if (a.delayed != b.delayed) return !a.delayed;
    return a.seq < b.seq;
  });

  const QueuedItem& head = queue[live[0].index];
  if (!policy.dynamic_batching || policy.max_batch_size <= 0) {
    d.run.push_back(live[0].index);
    return d;
  }

  // Grow the batch in queue order; stop at a request that cannot join.
  std::vector<size_t> batch{live[0].index};
  std::vector<int64_t> cumulative{head.batch_size};
  int64_t total = head.batch_size;
  int64_t oldest = head.enqueue_us;
  bool blocked = false;
  for (size_t k = 1; k < live.size(); ++k) {
    const QueuedItem& q = queue[live[k].index];
    if (q.shape_key != head.shape_key || total + q.batch_size > policy.max_batch_size) {
      blocked = true;
      break;
    }
    batch.push_back(live[k].index);
    total += q.batch_size;
    cumulative.push_back(total);
    oldest = std::min(oldest, q.enqueue_us);
  }

  auto run_prefix = [&](size_t n) { d.run.assign(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n)); };
  const auto& preferred = policy.preferred_batch_sizes;
  auto is_preferred = [&](int64_t n) { return std::find(preferred.begin(), preferred.end(), n) != preferred.end(); };

  // The largest preferred size some prefix of the batch reaches runs now;
  // the rest waits for the next batch.
  if (!preferred.empty()) {
    for (size_t n = batch.size(); n-- > 0;) {
      if (is_preferred(cumulative[n])) {
        run_prefix(n + 1);
        return d;
      }
    }
  }
  if (total >= policy.max_batch_size || blocked) {
    run_prefix(batch.size());
    return d;
  }
  if (now_us >= oldest + policy.max_queue_delay_us) {
    run_prefix(batch.size());
    return d;
  }
  Earliest(&d.wake_at_us, oldest + policy.max_queue_delay_us);
  return d;
}

}  // namespace imagen::serving
