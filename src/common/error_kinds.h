// Error kinds that one absl::StatusCode cannot tell apart but clients must:
// a full disk (HTTP 507) versus a rate limit or quota (HTTP 429), both
// kResourceExhausted. The kind travels as a status payload so every layer
// can keep returning plain absl::Status. Pure; thread-safe.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace imagen {

// kResourceExhausted marked as "the storage is full".
absl::Status DiskFullError(std::string_view message);
// Marks an existing status (e.g. from ErrnoToStatus on ENOSPC) as disk full.
absl::Status MarkDiskFull(absl::Status status);
bool IsDiskFull(const absl::Status& status);

}  // namespace imagen
