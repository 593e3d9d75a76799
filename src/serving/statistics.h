// Per model-version inference statistics in Triton's terms (success/fail,
// queue, compute input/infer/output, inference and execution counts, batch
// statistics), failure reasons and request-latency histograms for metrics.
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace imagen::serving {

struct Duration {
  uint64_t count = 0;
  uint64_t ns = 0;
  void Add(uint64_t d_ns) {
    ++count;
    ns += d_ns;
  }
};

// Histogram bucket bounds in microseconds (the last bucket is +Inf).
inline constexpr std::array<double, 14> kLatencyBucketsUs = {100,   250,   500,    1000,   2500,   5000,    10000,
                                                             25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

struct Histogram {
  std::array<uint64_t, kLatencyBucketsUs.size() + 1> counts{};  // non-cumulative
  double sum_us = 0;
  uint64_t count = 0;
  void Observe(double us);
};

struct BatchStats {
  Duration compute_input, compute_infer, compute_output;
};

struct ModelStatsSnapshot {
  std::string name;
  std::string version;
  uint64_t last_inference_ms = 0;
  uint64_t inference_count = 0;
  uint64_t execution_count = 0;
  Duration success, fail, queue, compute_input, compute_infer, compute_output;
  std::map<uint64_t, BatchStats> batch_stats;
  std::map<std::string, uint64_t> failures_by_reason;  // REJECTED, CANCELED, BACKEND, OTHER
  int64_t pending = 0;
  double load_duration_secs = 0;
  Histogram request_latency, queue_latency, compute_latency;
};

class ModelStats {
 public:
  ModelStats(std::string name, std::string version);

  void RequestQueued();
  void RequestLeftQueue();
  // One request finished successfully after `total_ns`; times in ns.
  void RecordSuccess(uint64_t total_ns, uint64_t queue_ns, uint64_t input_ns, uint64_t infer_ns, uint64_t output_ns,
                     uint64_t now_ms);
  void RecordFailure(const std::string& reason, uint64_t total_ns);
  // One model execution over `batch_size` rows.
  void RecordExecution(uint64_t batch_size, uint64_t input_ns, uint64_t infer_ns, uint64_t output_ns);
  void SetLoadDuration(double secs);

  ModelStatsSnapshot Snapshot() const;

 private:
  mutable absl::Mutex mu_;
  ModelStatsSnapshot s_ ABSL_GUARDED_BY(mu_);
};

}  // namespace imagen::serving
