// `imagen config`: the configuration keys, or the effective values.
#include "cmd/commands.h"
#include "cmd/config_schema.h"
#include "cmd/server_flags.h"
#include "common/string_view.h"
#include "fmt/core.h"

namespace imagen {

void AddConfigCommand(CLI::App& app, int* rc) {
  CLI::App* cmd = app.add_subcommand("config", "Print the configuration keys, or the effective values");
  auto flags = std::make_shared<ServerFlags>();
  auto effective = std::make_shared<bool>(false);
  flags->Attach(cmd);
  cmd->add_flag("--effective", *effective, "print the values after file, environment and flags");
  cmd->callback([rc, flags, effective] {
    if (!*effective) {
      for (const auto& k : ImagenConfigSchema().keys()) {
        fmt::print("{:<32} {:<24} env {:<34} {}\n", k.name, k.default_value.empty() ? "\"\"" : k.default_value,
                   ConfigSchema::EnvName(k.name), k.description);
      }
      return;
    }
    auto config = flags->Load();
    if (!config.ok()) {
      fmt::print(stderr, "imagen config: {}\n", config.status().message());
      *rc = 2;
      return;
    }
    fmt::print("{}", config->Describe());
  });
}

}  // namespace imagen
