#include "cmd/config_loader.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "cmd/config_schema.h"

namespace imagen {

absl::StatusOr<Config> LoadImagenConfig(const std::string& config_flag,
                                        const std::map<std::string, std::string>& flags) {
  ConfigInputs inputs;
  inputs.env = Config::ProcessEnvironment();
  inputs.flags = flags;
  if (!config_flag.empty()) {
    inputs.toml_path = config_flag;
  } else if (auto it = inputs.env.find(kConfigFileEnv); it != inputs.env.end() && !it->second.empty()) {
    inputs.toml_path = it->second;
  } else if (::access("imagen.toml", F_OK) == 0) {
    inputs.toml_path = "imagen.toml";
  }
  if (!inputs.toml_path.empty() && ::access(inputs.toml_path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("config file ", inputs.toml_path, " cannot be read"));
  }
  return Config::Load(ImagenConfigSchema(), inputs);
}

}  // namespace imagen
