// A loaded, servable model version: a backend model behind the dynamic
// batcher (batched_model.h) or an ensemble (ensemble_model.h). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "model_config.pb.h"
#include "serving/inference_request.h"
#include "serving/statistics.h"

namespace imagen::serving {

class Servable {
 public:
  virtual ~Servable() = default;
  virtual const inference::ModelConfig& config() const = 0;
  virtual int64_t version() const = 0;
  virtual ModelStats& stats() = 0;
  // Validates and runs `request`; `done` is called exactly once.
  virtual void Infer(InferRequest request, InferCallback done) = 0;
  // Refuses new requests and finishes the queued ones.
  virtual void Stop() = 0;
};

}  // namespace imagen::serving
