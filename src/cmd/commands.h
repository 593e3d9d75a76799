// The subcommands of the imagen binary. Each Add*Command registers one
// subcommand (in its own file, owned by the module it fronts); its callback
// stores the process exit code in *rc.
#pragma once

#include <string>

#include "CLI/CLI.hpp"

namespace imagen {

void AddServeCommand(CLI::App& app, int* rc);
void AddConfigCommand(CLI::App& app, int* rc);
void AddInferCommand(CLI::App& app, int* rc);
void AddRunCommand(CLI::App& app, int* rc);
void AddModelsCommand(CLI::App& app, int* rc);
void AddKeysCommand(CLI::App& app, int* rc);
void AddBenchCommand(CLI::App& app, int* rc);
void AddEngineCommand(CLI::App& app, int* rc);

// Registers a subcommand that is not built yet: it says so and exits 2,
// whatever arguments it is given.
CLI::App* AddPendingCommand(CLI::App& app, const std::string& name, const std::string& help, const std::string& issue,
                            int* rc);

}  // namespace imagen
