// InferenceClient over the in-process serving API (no sockets), for
// `imagen serve` and `imagen run`. Thread-safe; the server must outlive it.
//
//   serving::ServerOptions o;  o.model_repository = "models";
//   auto server = serving::InferenceServer::Create(o).value();
//   worker::InProcessInferenceClient client(server.get());
//   auto result = client.Infer({.model_name = "upscale_x4", .inputs = {...}});
//
// request.timeout bounds the wait for the result (DeadlineExceeded); the
// priority goes to the model's priority levels. Server errors keep their
// codes (Unavailable for a full queue or shutdown, InvalidArgument for bad
// inputs, NotFound for an unknown model).
#pragma once

#include "ops/inference_client.h"
#include "serving/server.h"

namespace imagen::worker {

class InProcessInferenceClient final : public ops::InferenceClient {
 public:
  explicit InProcessInferenceClient(serving::InferenceServer* server) : server_(server) {}
  absl::StatusOr<ops::InferResult> Infer(const ops::InferRequest& request) override;
  absl::Status ModelReady(const std::string& model) override;

 private:
  serving::InferenceServer* server_;
};

}  // namespace imagen::worker
