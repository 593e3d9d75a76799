// Loads imagen's Config for a subcommand: the TOML file named by --config,
// else $IMAGEN_CONFIG, else ./imagen.toml when present; then the process
// environment; then the subcommand's flags.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"

namespace imagen {

absl::StatusOr<Config> LoadImagenConfig(const std::string& config_flag,
                                        const std::map<std::string, std::string>& flags);

}  // namespace imagen
