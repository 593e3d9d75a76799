// The imagen binary: parses the command line and dispatches to subcommands.
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cmd/config_loader.h"
#include "cmd/config_schema.h"
#include "cmd/serve_command.h"
#include "cmd/signals.h"
#include "common/logging.h"
#include "common/string_view.h"
#include "common/version.h"
#include "fmt/core.h"

namespace imagen {
namespace {

// Options shared by the server subcommands, mapped onto config keys.
struct ServerFlags {
  std::string config_file;
  std::map<std::string, std::string> values;
  std::vector<std::string> sets;

  void Attach(CLI::App* cmd) {
    cmd->add_option("--config", config_file, "TOML config file (default: $IMAGEN_CONFIG, else ./imagen.toml)");
    Map(cmd, "--data-dir", "data_dir", "data folder (default ./data)");
    Map(cmd, "--listen", "server.listen", "HOST:PORT to listen on (default 127.0.0.1:8080)");
    Map(cmd, "--workers", "workers", "worker threads (default 2)");
    Map(cmd, "--log-level", "log.level", "trace|debug|info|warn|error|off");
    cmd->add_flag_callback(
        "--log-json", [this] { values["log.json"] = "true"; }, "JSON log lines");
    cmd->add_option("--set", sets, "KEY=VALUE configuration override (repeatable), see `imagen config`");
  }
  void Map(CLI::App* cmd, const std::string& flag, const std::string& key, const std::string& help) {
    cmd->add_option_function<std::string>(
        flag, [this, key](const std::string& v) { values[key] = v; }, help);
  }

  absl::StatusOr<Config> Load() {
    for (const auto& s : sets) {
      size_t eq = s.find('=');
      if (eq == std::string::npos) return absl::InvalidArgumentError("--set expects KEY=VALUE, got '" + s + "'");
      values[s.substr(0, eq)] = s.substr(eq + 1);
    }
    return LoadImagenConfig(config_file, values);
  }
};

int NotBuilt(const std::string& name, const std::string& issue) {
  fmt::print(stderr, "imagen {}: not built yet ({}); nothing was done\n", name, issue);
  return 2;
}

int Main(int argc, char** argv) {
  BlockShutdownSignals();
  CLI::App app{
      "imagen: self-hosted AI image processing (async job API, Triton-compatible inference server, "
      "CPU engine)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  int rc = 0;

  ServerFlags serve_flags;
  CLI::App* serve = app.add_subcommand("serve", "All-in-one server: REST API, workers, in-process inference");
  serve_flags.Attach(serve);
  serve->callback([&] {
    auto config = serve_flags.Load();
    if (!config.ok()) {
      fmt::print(stderr, "imagen serve: {}\n", config.status().message());
      rc = 2;
      return;
    }
    if (absl::Status s = InitLogging({config->GetString("log.level"), config->GetBool("log.json")}); !s.ok()) {
      fmt::print(stderr, "imagen serve: {}\n", s.message());
      rc = 2;
      return;
    }
    rc = RunServe(*config);
  });

  CLI::App* config_cmd = app.add_subcommand("config", "Print the configuration keys, or the effective values");
  bool effective = false;
  ServerFlags config_flags;
  config_flags.Attach(config_cmd);
  config_cmd->add_flag("--effective", effective, "print the values after file, environment and flags");
  config_cmd->callback([&] {
    if (!effective) {
      for (const auto& k : ImagenConfigSchema().keys()) {
        fmt::print("{:<32} {:<24} env {:<34} {}\n", k.name, k.default_value.empty() ? "\"\"" : k.default_value,
                   ConfigSchema::EnvName(k.name), k.description);
      }
      return;
    }
    auto config = config_flags.Load();
    if (!config.ok()) {
      fmt::print(stderr, "imagen config: {}\n", config.status().message());
      rc = 2;
      return;
    }
    fmt::print("{}", config->Describe());
  });

  struct Pending {
    const char* name;
    const char* help;
    const char* issue;
  };
  const Pending pending[] = {
      {"infer", "Triton-compatible inference server (KServe v2 HTTP/gRPC)", "inference server issue"},
      {"run", "Process one image locally: imagen run OP INPUT -o OUTPUT", "image operations issue"},
      {"models", "Install the packaged models into the model repository", "image operations issue"},
      {"keys", "Create and list API keys", "job platform issue"},
      {"bench", "Load generators and benchmarks", "inference server and job platform issues"},
      {"engine", "Run, benchmark and check models on the CPU engine", "inference engine issue"},
  };
  for (const auto& p : pending) {
    CLI::App* cmd = app.add_subcommand(p.name, p.help);
    cmd->allow_extras();
    cmd->prefix_command();
    cmd->callback([&rc, p] { rc = NotBuilt(p.name, p.issue); });
  }

  app.add_subcommand("version", "Print the version")->callback([] { fmt::print("imagen {}\n", kVersion); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}

}  // namespace
}  // namespace imagen

int main(int argc, char** argv) { return imagen::Main(argc, argv); }
