#include "serving/log_settings.h"

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace imagen::serving {
namespace {

spdlog::level::level_enum Threshold(bool info, bool warning, bool error, uint32_t verbose) {
  if (verbose >= 2) return spdlog::level::trace;
  if (verbose == 1) return spdlog::level::debug;
  if (info) return spdlog::level::info;
  if (warning) return spdlog::level::warn;
  if (error) return spdlog::level::err;
  return spdlog::level::off;
}

}  // namespace

LogControl::LogControl() {
  auto level = spdlog::get_level();
  absl::MutexLock l(&mu_);
  verbose_ = level <= spdlog::level::trace ? 2 : level <= spdlog::level::debug ? 1 : 0;
  info_ = level <= spdlog::level::info;
  warning_ = level <= spdlog::level::warn;
  error_ = level <= spdlog::level::err;
  format_ = "ISO8601";  // imagen's own log lines start with an ISO 8601 time
}

LogSettingMap LogControl::GetLocked() const {
  return {{"log_file", std::string()},     {"log_info", info_},    {"log_warning", warning_}, {"log_error", error_},
          {"log_verbose_level", verbose_}, {"log_format", format_}};
}

LogSettingMap LogControl::Get() const {
  absl::MutexLock l(&mu_);
  return GetLocked();
}

absl::StatusOr<LogSettingMap> LogControl::Update(const LogSettingMap& update) {
  absl::MutexLock l(&mu_);
  bool info = info_, warning = warning_, error = error_;
  uint32_t verbose = verbose_;
  std::string format = format_;
  for (const auto& [key, value] : update) {
    auto want = [&](const char* type) {
      return absl::InvalidArgumentError(absl::StrCat("log setting '", key, "' must be a ", type));
    };
    if (key == "log_info" || key == "log_warning" || key == "log_error") {
      if (!std::holds_alternative<bool>(value)) return want("boolean");
      bool v = std::get<bool>(value);
      (key == "log_info" ? info : key == "log_warning" ? warning : error) = v;
    } else if (key == "log_verbose_level") {
      if (!std::holds_alternative<uint32_t>(value)) return want("non-negative integer");
      verbose = std::get<uint32_t>(value);
    } else if (key == "log_format") {
      if (!std::holds_alternative<std::string>(value)) return want("string");
      format = std::get<std::string>(value);
      if (format != "default" && format != "ISO8601") {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown log_format '", format, "' (supported: default, ISO8601)"));
      }
    } else if (key == "log_file") {
      if (!std::holds_alternative<std::string>(value)) return want("string");
      if (!std::get<std::string>(value).empty()) {
        return absl::InvalidArgumentError(
            "log_file is not supported by imagen infer: logs go to stderr (set log_file to \"\")");
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown log setting '", key,
                       "' (supported: log_file, log_info, log_warning, log_error, log_verbose_level, log_format)"));
    }
  }
  if (format != format_) {
    spdlog::set_pattern(format == "default" ? "%L%m%d %H:%M:%S.%f %t %v" : "%Y-%m-%dT%H:%M:%S.%eZ %L %v",
                        spdlog::pattern_time_type::utc);
  }
  info_ = info;
  warning_ = warning;
  error_ = error;
  verbose_ = verbose;
  format_ = format;
  spdlog::set_level(Threshold(info, warning, error, verbose));
  return GetLocked();
}

}  // namespace imagen::serving
