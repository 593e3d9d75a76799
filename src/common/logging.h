// Process logging on spdlog: human-readable lines by default, or one JSON
// object per line (ts, level, msg and structured fields) for log shippers.
// Thread-safe after InitLogging.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "spdlog/spdlog.h"

namespace imagen {

struct LogOptions {
  std::string level = "info";  // trace, debug, info, warn, error, off
  bool json = false;
};

absl::Status InitLogging(const LogOptions& options);

using LogField = std::pair<std::string_view, std::string_view>;

// Logs `msg` with key/value fields: `msg k=v ...` in text mode, extra JSON
// members in JSON mode. Use for events a machine will read (requests, job
// transitions).
void LogEvent(spdlog::level::level_enum level, std::string_view msg, std::initializer_list<LogField> fields);

// Escapes `s` for inclusion inside a JSON string literal.
std::string JsonEscape(std::string_view s);

}  // namespace imagen
