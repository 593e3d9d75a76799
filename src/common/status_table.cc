#include "common/status_table.h"

#include "common/error_kinds.h"

namespace imagen {
namespace {

using C = absl::StatusCode;

// Indexed by the absl code (0..16, the same numbers as grpc::StatusCode).
// KServe column: the HTTP codes Triton's HTTP frontend returns for the same
// error class (invalid argument, already exists, failed precondition -> 400,
// unavailable and cancelled -> 503); gRPC codes are the absl codes.
constexpr StatusRow kRows[] = {
    {C::kOk, 200, "ok", 200, 0},
    {C::kCancelled, 499, "cancelled", 503, 1},
    {C::kUnknown, 500, "internal", 500, 2},
    {C::kInvalidArgument, 400, "invalid_argument", 400, 3},
    {C::kDeadlineExceeded, 504, "deadline_exceeded", 504, 4},
    {C::kNotFound, 404, "not_found", 404, 5},
    {C::kAlreadyExists, 409, "conflict", 400, 6},
    {C::kPermissionDenied, 403, "permission_denied", 403, 7},
    {C::kResourceExhausted, 429, "resource_exhausted", 413, 8},
    {C::kFailedPrecondition, 422, "failed_precondition", 400, 9},
    {C::kAborted, 409, "conflict", 500, 10},
    {C::kOutOfRange, 400, "invalid_argument", 400, 11},
    {C::kUnimplemented, 501, "unimplemented", 501, 12},
    {C::kInternal, 500, "internal", 500, 13},
    {C::kUnavailable, 503, "unavailable", 503, 14},
    {C::kDataLoss, 500, "internal", 500, 15},
    {C::kUnauthenticated, 401, "unauthenticated", 401, 16},
};

static_assert(sizeof(kRows) / sizeof(kRows[0]) == 17);

constexpr bool RowsInCodeOrder() {
  for (int i = 0; i < 17; ++i) {
    if (static_cast<int>(kRows[i].code) != i || kRows[i].grpc_code != i) return false;
  }
  return true;
}
static_assert(RowsInCodeOrder(), "kRows must be indexed by status code");

}  // namespace

const StatusRow& StatusRowFor(absl::StatusCode code) {
  int i = static_cast<int>(code);
  if (i < 0 || i >= 17) i = static_cast<int>(C::kUnknown);
  return kRows[i];
}

int RestHttpStatus(const absl::Status& status) {
  return IsDiskFull(status) ? kInsufficientStorage : StatusRowFor(status.code()).rest_http;
}

std::string_view RestErrorCode(const absl::Status& status) {
  return IsDiskFull(status) ? "insufficient_storage" : StatusRowFor(status.code()).rest_code;
}

int KServeHttpStatus(const absl::Status& status) {
  return IsDiskFull(status) ? kInsufficientStorage : StatusRowFor(status.code()).kserve_http;
}

int GrpcCode(const absl::Status& status) { return StatusRowFor(status.code()).grpc_code; }

int RetryAfterSeconds(const absl::Status& status) { return IsDiskFull(status) ? kDiskFullRetryAfterSeconds : 0; }

}  // namespace imagen
