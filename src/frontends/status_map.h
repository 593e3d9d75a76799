// The KServe column of the one Status table (common/status_table.h) in the
// frontends' types: the HTTP status and gRPC code that Triton returns for the
// same error. Pure; thread-safe.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace imagen::frontends {

unsigned HttpCodeFor(absl::StatusCode code);
// Disk-full aware (507).
unsigned HttpCodeFor(const absl::Status& status);
// Messages are made valid UTF-8.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace imagen::frontends
