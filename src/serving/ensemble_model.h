// An ensemble (platform "ensemble"): runs its steps inside the server,
// feeding each step the ensemble inputs and earlier steps' outputs named in
// its input_map, and returning the tensors the ensemble's outputs name.
// Steps run as soon as their inputs exist. Thread-safe.
#pragma once

#include <functional>
#include <memory>

#include "common/clock.h"
#include "serving/servable.h"

namespace imagen::serving {

// How an ensemble reaches the other models (the server's InferAsync).
using InferFn = std::function<void(InferRequest, InferCallback)>;

class EnsembleModel final : public Servable {
 public:
  EnsembleModel(inference::ModelConfig config, int64_t version, InferFn infer, Clock* clock);
  const inference::ModelConfig& config() const override { return config_; }
  int64_t version() const override { return version_; }
  ModelStats& stats() override { return stats_; }
  void Infer(InferRequest request, InferCallback done) override;
  void Stop() override {}

 private:
  struct Run;
  void Advance(const std::shared_ptr<Run>& run);

  inference::ModelConfig config_;
  int64_t version_;
  InferFn infer_;
  Clock* clock_;
  ModelStats stats_;
};

}  // namespace imagen::serving
