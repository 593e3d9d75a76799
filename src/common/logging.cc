#include "common/logging.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace imagen {
namespace {

std::atomic<bool> g_json{false};

// Formats each record as {"ts":..,"level":..,"msg":..}; LogEvent appends its
// fields to the payload already JSON-formatted, marked by a leading '\x01'.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
    std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(micros), absl::UTCTimeZone());
    std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string line =
        absl::StrCat(R"({"ts":")", ts, R"(","level":")", spdlog::level::to_string_view(msg.level).data(), R"(",)");
    if (!payload.empty() && payload.front() == '\x01') {
      line += payload.substr(1);
    } else {
      absl::StrAppend(&line, R"("msg":")", JsonEscape(payload), "\"");
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

absl::Status InitLogging(const LogOptions& options) {
  auto level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log level '", options.level, "' (trace, debug, info, warn, error, off)"));
  }
  auto logger = spdlog::stderr_color_mt("imagen");
  if (options.json) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ %v");
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  g_json.store(options.json);
  return absl::OkStatus();
}

void LogEvent(spdlog::level::level_enum level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!spdlog::should_log(level)) return;
  if (g_json.load()) {
    std::string payload = absl::StrCat("\x01\"msg\":\"", JsonEscape(msg), "\"");
    for (const auto& [k, v] : fields) absl::StrAppend(&payload, ",\"", JsonEscape(k), "\":\"", JsonEscape(v), "\"");
    spdlog::log(level, "{}", payload);
  } else {
    std::string line(msg);
    for (const auto& [k, v] : fields) absl::StrAppend(&line, " ", std::string(k), "=", std::string(v));
    spdlog::log(level, "{}", line);
  }
}

}  // namespace imagen
