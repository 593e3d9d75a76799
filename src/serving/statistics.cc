#include "serving/statistics.h"

#include <utility>

namespace imagen::serving {

void Histogram::Observe(double us) {
  size_t i = 0;
  while (i < kLatencyBucketsUs.size() && us > kLatencyBucketsUs[i]) ++i;
  ++counts[i];
  sum_us += us;
  ++count;
}

ModelStats::ModelStats(std::string name, std::string version) {
  s_.name = std::move(name);
  s_.version = std::move(version);
}

void ModelStats::RequestQueued() {
  absl::MutexLock l(&mu_);
  ++s_.pending;
}

void ModelStats::RequestLeftQueue() {
  absl::MutexLock l(&mu_);
  --s_.pending;
}

void ModelStats::RecordSuccess(uint64_t total_ns, uint64_t queue_ns, uint64_t input_ns, uint64_t infer_ns,
                               uint64_t output_ns, uint64_t now_ms) {
  absl::MutexLock l(&mu_);
  s_.success.Add(total_ns);
  s_.queue.Add(queue_ns);
  s_.compute_input.Add(input_ns);
  s_.compute_infer.Add(infer_ns);
  s_.compute_output.Add(output_ns);
  s_.last_inference_ms = now_ms;
  s_.request_latency.Observe(static_cast<double>(total_ns) / 1000.0);
  s_.queue_latency.Observe(static_cast<double>(queue_ns) / 1000.0);
  s_.compute_latency.Observe(static_cast<double>(input_ns + infer_ns + output_ns) / 1000.0);
}

void ModelStats::RecordFailure(const std::string& reason, uint64_t total_ns) {
  absl::MutexLock l(&mu_);
  s_.fail.Add(total_ns);
  ++s_.failures_by_reason[reason];
}

void ModelStats::RecordExecution(uint64_t batch_size, uint64_t input_ns, uint64_t infer_ns, uint64_t output_ns) {
  absl::MutexLock l(&mu_);
  ++s_.execution_count;
  s_.inference_count += batch_size;
  BatchStats& b = s_.batch_stats[batch_size];
  b.compute_input.Add(input_ns);
  b.compute_infer.Add(infer_ns);
  b.compute_output.Add(output_ns);
}

void ModelStats::SetLoadDuration(double secs) {
  absl::MutexLock l(&mu_);
  s_.load_duration_secs = secs;
}

ModelStatsSnapshot ModelStats::Snapshot() const {
  absl::MutexLock l(&mu_);
  return s_;
}

}  // namespace imagen::serving
