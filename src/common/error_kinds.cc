#include "common/error_kinds.h"

#include "absl/strings/cord.h"
#include "common/string_view.h"

namespace imagen {

namespace {
constexpr std::string_view kKindUrl = "type.imagen.dev/error-kind";
constexpr std::string_view kDiskFull = "disk_full";
}  // namespace

absl::Status DiskFullError(std::string_view message) {
  return MarkDiskFull(absl::ResourceExhaustedError(ToAbsl(message)));
}

absl::Status MarkDiskFull(absl::Status status) {
  if (status.ok()) return status;
  status.SetPayload(ToAbsl(kKindUrl), absl::Cord(ToAbsl(kDiskFull)));
  return status;
}

bool IsDiskFull(const absl::Status& status) {
  auto p = status.GetPayload(ToAbsl(kKindUrl));
  return p.has_value() && *p == ToAbsl(kDiskFull);
}

}  // namespace imagen
