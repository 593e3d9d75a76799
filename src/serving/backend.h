// Backends execute a model: a Backend fills in a config from the model files
// (Triton's auto-complete) and creates instances; a ModelInstance runs one
// (possibly batched) execution. Instances are used by one thread at a time;
// Backends are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "model_config.pb.h"
#include "serving/tensor.h"

namespace imagen::serving {

class ModelInstance {
 public:
  virtual ~ModelInstance() = default;
  // `inputs` follow the config's inputs (batched along dim 0 when the model
  // batches). Returns every output of the config.
  virtual absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) = 0;
};

struct InstanceOptions {
  std::string version_dir;  // <repo>/<model>/<version>
  int threads = 1;          // engine threads this instance may use
  Clock* clock = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Fills inputs/outputs (and max_batch_size when unset) from the model files.
  virtual absl::Status AutoComplete(inference::ModelConfig* config, const std::string& version_dir) = 0;
  virtual absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(const inference::ModelConfig& config,
                                                                        const InstanceOptions& options) = 0;
};

// The backend for a config (by `backend`, else `platform`), or NotFound /
// InvalidArgument naming what was asked for. Never returns nullptr on OK.
absl::StatusOr<Backend*> BackendFor(const inference::ModelConfig& config);

}  // namespace imagen::serving
