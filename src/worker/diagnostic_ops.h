// Diagnostic operations for tests, benchmarks and smoke checks of a
// deployment: "echo" returns the uploaded image unchanged after an optional
// delay, so a result is exactly checkable and the operation's own time is
// known. Registered only when `ops.diagnostic` is true. Thread-safe.
#pragma once

#include "absl/status/status.h"
#include "ops/registry.h"

namespace imagen::worker {

// Registers "echo" (route "debug/echo"; parameter delay_ms 0..60000).
absl::Status RegisterDiagnosticOps(ops::OpRegistry* registry);

}  // namespace imagen::worker
