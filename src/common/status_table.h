// The one table from an absl::Status to what each imagen surface answers:
// the REST API column (HTTP status and error code name, body
// {"error":{"code","message"}}) and the KServe/Triton column (HTTP status of
// the KServe HTTP frontend, body {"error":"<message>"}, and the gRPC code,
// kept as an int so that this file needs no gRPC; the frontends convert).
// A status marked disk-full (error_kinds.h) is 507 Insufficient Storage with
// a Retry-After on both HTTP columns. Pure; thread-safe.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace imagen {

struct StatusRow {
  absl::StatusCode code;
  int rest_http;               // REST API HTTP status
  std::string_view rest_code;  // REST API error code name
  int kserve_http;             // KServe v2 / Triton HTTP status
  int grpc_code;               // grpc::StatusCode value (KServe gRPC)
};

// The row of `code`; unknown codes get the kUnknown row.
const StatusRow& StatusRowFor(absl::StatusCode code);

constexpr int kInsufficientStorage = 507;
// Seconds a client should wait before retrying a disk-full error.
constexpr int kDiskFullRetryAfterSeconds = 60;

// The column values for a whole status (disk-full aware).
int RestHttpStatus(const absl::Status& status);
std::string_view RestErrorCode(const absl::Status& status);
int KServeHttpStatus(const absl::Status& status);
int GrpcCode(const absl::Status& status);
// The Retry-After seconds an HTTP answer to `status` carries; 0 for none.
int RetryAfterSeconds(const absl::Status& status);

}  // namespace imagen
