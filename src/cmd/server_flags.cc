#include "cmd/server_flags.h"

#include "cmd/config_loader.h"

namespace imagen {

void ServerFlags::Attach(CLI::App* cmd) {
  cmd->add_option("--config", config_file_, "TOML config file (default: $IMAGEN_CONFIG, else ./imagen.toml)");
  Map(cmd, "--data-dir", "data_dir", "data folder (default ./data)");
  Map(cmd, "--listen", "server.listen", "HOST:PORT to listen on (default 127.0.0.1:8080)");
  Map(cmd, "--workers", "workers", "worker threads (default 2)");
  Map(cmd, "--log-level", "log.level", "trace|debug|info|warn|error|off");
  cmd->add_flag_callback(
      "--log-json", [this] { values_["log.json"] = "true"; }, "JSON log lines");
  cmd->add_option("--set", sets_, "KEY=VALUE configuration override (repeatable), see `imagen config`");
}

void ServerFlags::Map(CLI::App* cmd, const std::string& flag, const std::string& key, const std::string& help) {
  cmd->add_option_function<std::string>(
      flag, [this, key](const std::string& v) { values_[key] = v; }, help);
}

absl::StatusOr<Config> ServerFlags::Load() {
  for (const auto& s : sets_) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) return absl::InvalidArgumentError("--set expects KEY=VALUE, got '" + s + "'");
    values_[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return LoadImagenConfig(config_file_, values_);
}

}  // namespace imagen
