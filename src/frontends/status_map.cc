#include "frontends/status_map.h"

#include <string>

#include "common/status_table.h"
#include "common/string_view.h"
#include "common/utf8.h"

namespace imagen::frontends {

unsigned HttpCodeFor(absl::StatusCode code) { return static_cast<unsigned>(StatusRowFor(code).kserve_http); }

unsigned HttpCodeFor(const absl::Status& status) { return static_cast<unsigned>(KServeHttpStatus(status)); }

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(GrpcCode(status)), ToValidUtf8(ToStd(status.message())));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  int code = static_cast<int>(status.error_code());
  if (code < 0 || code > 16) code = static_cast<int>(absl::StatusCode::kUnknown);
  return absl::Status(static_cast<absl::StatusCode>(code), status.error_message());
}

}  // namespace imagen::frontends
