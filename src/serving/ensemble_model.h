// An ensemble (platform "ensemble"): runs its steps inside the server,
// feeding each step the ensemble inputs and earlier steps' outputs named in
// its input_map, and returning the tensors the ensemble's outputs name.
// Steps run as soon as their inputs exist and inherit the request's priority
// and timeout. Each request keeps the ensemble alive (a shared_ptr in every
// step callback, as Triton's EnsembleContext does), so unloading or
// re-polling it mid-request is safe. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/clock.h"
#include "serving/servable.h"

namespace imagen::serving {

// How an ensemble reaches the other models (the server's InferAsync).
using InferFn = std::function<void(InferRequest, InferCallback)>;
// Another model's config when it is an ensemble; nullopt otherwise.
using EnsembleConfigFn = std::function<std::optional<inference::ModelConfig>(const std::string& model)>;

// Nesting of ensembles within ensembles at run time beyond this is refused
// (a cycle that appeared after load, e.g. by re-polling another ensemble).
constexpr int kMaxEnsembleDepth = 16;

// Load-time checks of an ensemble: no cycle through nested ensembles
// (`config_of` gives the configs of the other models), every step's inputs
// are produced by the ensemble inputs or another step, and every ensemble
// output is produced.
absl::Status CheckEnsembleGraph(const inference::ModelConfig& config, const EnsembleConfigFn& config_of);

class EnsembleModel final : public Servable, public std::enable_shared_from_this<EnsembleModel> {
 public:
  // Must be owned by a shared_ptr (std::make_shared).
  EnsembleModel(inference::ModelConfig config, int64_t version, InferFn infer, Clock* clock);
  const inference::ModelConfig& config() const override { return config_; }
  int64_t version() const override { return version_; }
  ModelStats& stats() override { return stats_; }
  void Infer(InferRequest request, InferCallback done) override;
  // Refuses new requests; requests in flight finish (they hold the model).
  void Stop() override { stopping_ = true; }

 private:
  struct Run;
  void Advance(const std::shared_ptr<Run>& run);
  void StepDone(const std::shared_ptr<Run>& run, int step, absl::StatusOr<InferResponse> result);

  const inference::ModelConfig config_;
  const int64_t version_;
  const InferFn infer_;
  Clock* const clock_;
  ModelStats stats_;
  std::atomic<bool> stopping_{false};
};

}  // namespace imagen::serving
