// InferenceClient speaking KServe v2 gRPC to `imagen infer` or a real Triton
// server. Each call has a deadline (request.timeout, else the default);
// UNAVAILABLE is retried with exponential backoff and jitter up to
// `max_attempts`; a circuit breaker fails fast (Unavailable) after repeated
// transient failures. Thread-safe: one channel shared by all callers.
//
//   worker::GrpcClientOptions o;  o.target = "127.0.0.1:8001";
//   worker::GrpcInferenceClient client(o);
//   auto result = client.Infer({.model_name = "upscale_x4", .inputs = {...}});
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"
#include "ops/inference_client.h"
#include "worker/circuit_breaker.h"

namespace imagen::worker {

struct GrpcClientOptions {
  std::string target = "127.0.0.1:8001";  // host:port
  absl::Duration default_deadline = absl::Seconds(60);
  int max_attempts = 3;  // first try included; only UNAVAILABLE is retried
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);
  int breaker_failures = 5;
  absl::Duration breaker_open_for = absl::Seconds(10);
  int max_message_bytes = 256 << 20;
  Clock* clock = nullptr;  // nullptr: the real clock
};

class GrpcInferenceClient final : public ops::InferenceClient {
 public:
  explicit GrpcInferenceClient(GrpcClientOptions options);
  ~GrpcInferenceClient() override;
  absl::StatusOr<ops::InferResult> Infer(const ops::InferRequest& request) override;
  absl::Status ModelReady(const std::string& model) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imagen::worker
