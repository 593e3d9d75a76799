// Command-line flags shared by the server subcommands (serve, config, and
// later api/worker/infer), mapped onto configuration keys so that flags take
// precedence over environment, file and defaults.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "common/config.h"

namespace imagen {

class ServerFlags {
 public:
  // Adds --config, --data-dir, --listen, --workers, --log-level, --log-json, --set.
  void Attach(CLI::App* cmd);
  // Maps one more flag onto a configuration key.
  void Map(CLI::App* cmd, const std::string& flag, const std::string& key, const std::string& help);
  absl::StatusOr<Config> Load();

 private:
  std::string config_file_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> sets_;
};

}  // namespace imagen
