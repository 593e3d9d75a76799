// Triton's logging extension over spdlog (process-wide): log_info,
// log_warning, log_error, log_verbose_level and log_format ("default",
// "ISO8601"); log_file is not supported (logs go to stderr). spdlog has one
// threshold, so the lowest enabled level wins: verbose level >= 1 logs debug
// (>= 2 trace), else info, warning, error, or off. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace imagen::serving {

// A setting's value: bool (log_info, ...), uint32 (log_verbose_level) or
// string (log_file, log_format).
using LogValue = std::variant<bool, uint32_t, std::string>;
using LogSettingMap = std::map<std::string, LogValue>;

class LogControl {
 public:
  LogControl();  // from spdlog's current level
  LogSettingMap Get() const;
  // All of `update` or nothing: InvalidArgument for an unknown setting, a
  // value of the wrong type, a non-empty log_file or an unknown log_format.
  absl::StatusOr<LogSettingMap> Update(const LogSettingMap& update);

 private:
  LogSettingMap GetLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  mutable absl::Mutex mu_;
  bool info_ ABSL_GUARDED_BY(mu_) = true;
  bool warning_ ABSL_GUARDED_BY(mu_) = true;
  bool error_ ABSL_GUARDED_BY(mu_) = true;
  uint32_t verbose_ ABSL_GUARDED_BY(mu_) = 0;
  std::string format_ ABSL_GUARDED_BY(mu_) = "default";
};

}  // namespace imagen::serving
