// One inference request and its response as the serving API takes and gives
// them (protocol-neutral: the HTTP and gRPC frontends and the in-process
// client all convert to these). Value types.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "serving/tensor.h"
#include "serving/trace.h"

namespace imagen::serving {

struct InferRequest {
  std::string model_name;
  std::string model_version;  // empty: the newest ready version
  std::string id;             // echoed in the response
  std::vector<Tensor> inputs;
  std::vector<std::string> outputs;  // empty: every output of the model
  uint64_t priority = 0;             // 0: the model's default priority level
  uint64_t timeout_us = 0;           // 0: the queue policy's default timeout
  // Set by the frontend when the client gives up; a request still queued
  // then fails "Request cancelled" (reason CANCELED) instead of running.
  std::shared_ptr<const std::atomic<bool>> cancelled;
  // How many ensembles this request is nested in (set by EnsembleModel).
  int ensemble_depth = 0;
  // Set when the trace extension samples this request (serving/trace.h);
  // trace_sampled: a frontend has already asked the tracer (so the server
  // does not sample again).
  std::shared_ptr<RequestTrace> trace;
  bool trace_sampled = false;
};

struct InferResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<Tensor> outputs;
};

// Called exactly once per request, on a server thread; must not block long.
using InferCallback = std::function<void(absl::StatusOr<InferResponse>)>;

}  // namespace imagen::serving
