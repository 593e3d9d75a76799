// One table from absl::Status codes to the HTTP status and gRPC code that
// Triton returns for the same error. Pure; thread-safe.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace imagen::frontends {

unsigned HttpCodeFor(absl::StatusCode code);
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace imagen::frontends
