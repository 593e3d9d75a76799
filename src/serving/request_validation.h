// Checks an inference request against a model config, with Triton's
// messages: unknown or missing inputs, datatype, shape (batch dimension
// included), byte size, unknown requested outputs. Shapes are multiplied with
// overflow checks, and the product of a request's dynamic dimensions (its
// "pixels" for an image model [1,3,-1,-1]) is capped by the config parameter
// max_pixels (default kDefaultMaxPixels). Pure; thread-safe.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "model_config.pb.h"
#include "serving/inference_request.h"

namespace imagen::serving {

// 2^26 = 67,108,864 pixels (8192 x 8192) unless parameters { key: "max_pixels" }.
constexpr uint64_t kDefaultMaxPixels = uint64_t{1} << 26;

struct ValidatedRequest {
  int64_t batch_size = 1;  // rows along dim 0 (1 when the model does not batch)
  uint64_t shape_key = 0;  // equal only for requests that may batch together
};

absl::StatusOr<ValidatedRequest> ValidateRequest(const inference::ModelConfig& config, InferRequest* request);

}  // namespace imagen::serving
