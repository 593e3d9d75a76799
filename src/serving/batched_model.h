// A backend model version behind the dynamic batcher: validates requests,
// applies priority levels and queue policies, gathers a batch, runs it on a
// free instance, splits the outputs and records statistics. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "serving/backend.h"
#include "serving/scheduler.h"
#include "serving/servable.h"

namespace imagen::serving {

// The priority level a request gets: `requested` when in [1,
// priority_levels], else the default level (Triton's rule). Pure.
uint32_t PriorityLevel(const inference::ModelDynamicBatching& db, uint64_t requested);
// The queue timeout of a request: the policy's default, shortened (never
// lengthened) by the request's when allow_timeout_override. 0: none. Pure.
uint64_t QueueTimeoutUs(const inference::ModelQueuePolicy& policy, uint64_t requested_us);

class BatchedModel final : public Servable {
 public:
  // Creates the config's instances (sharing `engine_threads` among them) and
  // starts the scheduler.
  static absl::StatusOr<std::unique_ptr<BatchedModel>> Create(inference::ModelConfig config, int64_t version,
                                                              const std::string& version_dir, Backend* backend,
                                                              int engine_threads, Clock* clock);
  ~BatchedModel() override;

  const inference::ModelConfig& config() const override { return config_; }
  int64_t version() const override { return version_; }
  ModelStats& stats() override { return stats_; }
  void Infer(InferRequest request, InferCallback done) override;
  void Stop() override;

 private:
  BatchedModel(inference::ModelConfig config, int64_t version, Clock* clock);
  void Execute(int instance, Batch batch);
  void Fail(QueuedRequest& r, const absl::Status& status, const std::string& reason);
  const inference::ModelQueuePolicy& QueuePolicy(uint32_t level) const;

  inference::ModelConfig config_;
  int64_t version_;
  Clock* clock_;
  ModelStats stats_;
  std::vector<std::unique_ptr<ModelInstance>> instances_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace imagen::serving
