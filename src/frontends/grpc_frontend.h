// KServe v2 gRPC frontend (service inference.GRPCInferenceService, as Triton
// serves it) plus grpc.health.v1 Check, on the async (completion-queue) API
// with one thread draining the queue that only moves events: handlers run on
// an executor (inference and metadata) or a separate one (repository
// load/unload), so a long load never freezes health checks or inference.
// Thin: each method converts, calls one InferenceServer API and converts
// back; inferences answer from whichever thread completes them. Start/Stop
// from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "frontends/restricted_api.h"
#include "serving/server.h"

namespace imagen::frontends {

struct GrpcOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8001;  // 0 picks a free port
  int max_message_bytes = 256 << 20;
  int handler_threads = 0;  // inference/metadata handler threads; 0: max(2, cores)
  // Protocol groups behind a metadata key (--grpc-restricted-protocol): key
  // K is sent as metadata "triton-grpc-protocol-<k>" (lower case), as Triton.
  RestrictedApis restricted;
};

class GrpcFrontend {
 public:
  GrpcFrontend(serving::InferenceServer* server, GrpcOptions options);
  ~GrpcFrontend();
  GrpcFrontend(const GrpcFrontend&) = delete;
  GrpcFrontend& operator=(const GrpcFrontend&) = delete;

  absl::Status Start();
  uint16_t port() const;
  // Stops accepting calls; in-flight calls get up to `grace` to finish.
  void Stop(absl::Duration grace = absl::Seconds(10));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imagen::frontends
