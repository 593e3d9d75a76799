// The imagen binary: parses the command line and dispatches to subcommands.
#include "CLI/CLI.hpp"
#include "cmd/commands.h"
#include "cmd/signals.h"
#include "common/version.h"
#include "fmt/core.h"

int main(int argc, char** argv) {
  imagen::BlockShutdownSignals();
  CLI::App app{
      "imagen: self-hosted AI image processing (async job API, Triton-compatible inference server, CPU engine)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", imagen::kVersion);
  int rc = 0;
  imagen::AddServeCommand(app, &rc);
  imagen::AddInferCommand(app, &rc);
  imagen::AddRunCommand(app, &rc);
  imagen::AddModelsCommand(app, &rc);
  imagen::AddKeysCommand(app, &rc);
  imagen::AddEngineCommand(app, &rc);
  imagen::AddBenchCommand(app, &rc);
  imagen::AddConfigCommand(app, &rc);
  app.add_subcommand("version", "Print the version")->callback([] { fmt::print("imagen {}\n", imagen::kVersion); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}
