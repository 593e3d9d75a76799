// InferenceClient: how an operation runs a model, without knowing where it
// runs. Implementations (in src/worker): in-process over the serving API, or
// KServe v2 gRPC to `imagen infer` / a Triton server. Implementations are
// thread-safe. Transient failures (server unavailable, deadline exceeded,
// queue full) are Unavailable / DeadlineExceeded / ResourceExhausted so that
// callers can retry; bad inputs are InvalidArgument.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace imagen::ops {

// A dense tensor in KServe v2 terms: datatype is "FP32", "FP16", "UINT8",
// "INT8", "INT32", "INT64", "BOOL" or "BYTES"; data is row-major, little-endian.
struct Tensor {
  std::string name;
  std::string datatype = "FP32";
  std::vector<int64_t> shape;
  std::string data;
};

struct InferRequest {
  std::string model_name;
  std::string model_version;  // empty: the server's policy picks
  std::vector<Tensor> inputs;
  std::vector<std::string> outputs;  // empty: all outputs
  uint32_t priority = 0;             // 0: the model's default priority level
  absl::Duration timeout = absl::InfiniteDuration();
};

struct InferResult {
  std::vector<Tensor> outputs;
  // nullptr when the result has no output of that name.
  const Tensor* Find(const std::string& name) const {
    for (const auto& t : outputs) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
};

class InferenceClient {
 public:
  virtual ~InferenceClient() = default;
  virtual absl::StatusOr<InferResult> Infer(const InferRequest& request) = 0;
  // OK when `model` is loaded and ready to serve.
  virtual absl::Status ModelReady(const std::string& model) = 0;
};

}  // namespace imagen::ops
