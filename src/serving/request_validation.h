// Checks an inference request against a model config, with Triton's
// messages: unknown or missing inputs, datatype, shape (batch dimension
// included), byte size, unknown requested outputs. Pure; thread-safe.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "model_config.pb.h"
#include "serving/inference_request.h"

namespace imagen::serving {

struct ValidatedRequest {
  int64_t batch_size = 1;  // rows along dim 0 (1 when the model does not batch)
  uint64_t shape_key = 0;  // equal only for requests that may batch together
};

absl::StatusOr<ValidatedRequest> ValidateRequest(const inference::ModelConfig& config, InferRequest* request);

}  // namespace imagen::serving
