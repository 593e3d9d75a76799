// `imagen run OP INPUT -o OUTPUT [--param k=v ...]`: one operation on one
// image on this machine, without a server; prints the time taken.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "cmd/commands.h"
#include "common/env.h"
#include "common/string_view.h"
#include "fmt/core.h"
#include "imaging/codec.h"
#include "ops/builtin_ops.h"
#include "ops/registry.h"
#include "serving/server.h"
#include "worker/inprocess_inference_client.h"

namespace imagen {
namespace {

struct RunArgs {
  std::string op;
  std::string input;
  std::string output;
  std::vector<std::string> params;
  std::string repository = "models";
  int tile = 256;
  int64_t max_megapixels = 40;
  bool refuse_animated = false;
  int repeat = 1;
};

// Loads each model on its first request, so that `imagen run` starts only
// the model the operation needs rather than the whole repository.
class LazyLoadingClient : public ops::InferenceClient {
 public:
  explicit LazyLoadingClient(serving::InferenceServer* server) : server_(server), client_(server) {}
  absl::StatusOr<ops::InferResult> Infer(const ops::InferRequest& request) override {
    if (auto s = Ensure(request.model_name); !s.ok()) return s;
    return client_.Infer(request);
  }
  absl::Status ModelReady(const std::string& model) override {
    if (auto s = Ensure(model); !s.ok()) return s;
    return client_.ModelReady(model);
  }

 private:
  absl::Status Ensure(const std::string& model) {
    std::lock_guard<std::mutex> lock(mu_);
    if (loaded_.count(model) > 0) return absl::OkStatus();
    if (auto s = server_->LoadModel(model); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("model '", model, "' cannot be loaded: ", s.message(),
                                                 " (run `imagen models fetch`?)"));
    }
    loaded_.insert(model);
    return absl::OkStatus();
  }
  serving::InferenceServer* server_;
  worker::InProcessInferenceClient client_;
  std::mutex mu_;
  std::set<std::string> loaded_;
};

int RunOnce(const RunArgs& args) {
  ops::BuiltinOpsOptions options;
  options.tile_size = args.tile;
  options.limits.max_pixels = args.max_megapixels * 1'000'000;
  options.limits.animated =
      args.refuse_animated ? imaging::AnimatedPolicy::kRefuse : imaging::AnimatedPolicy::kFirstFrame;
  ops::OpRegistry registry;
  if (auto s = ops::RegisterBuiltinOps(&registry, options); !s.ok()) {
    fmt::print(stderr, "imagen run: {}\n", s.ToString());
    return 1;
  }
  auto op = registry.Get(args.op);
  if (!op.ok()) {
    fmt::print(stderr, "imagen run: {}\n", op.status().message());
    return 2;
  }
  std::map<std::string, std::string> given;
  for (const auto& kv : args.params) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      fmt::print(stderr, "imagen run: --param '{}' is not k=v\n", kv);
      return 2;
    }
    given[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto params = ops::ValidateParams((*op)->spec().params, given);
  if (!params.ok()) {
    fmt::print(stderr, "imagen run: {}\n", params.status().message());
    return 2;
  }
  Env* env = Env::Default();
  auto bytes = env->ReadFile(args.input);
  if (!bytes.ok()) {
    fmt::print(stderr, "imagen run: cannot read {}: {}\n", args.input, bytes.status().message());
    return 2;
  }
  ops::ImageBlob input{.bytes = *std::move(bytes), .content_type = ""};
  ops::OpContext ctx;
  std::unique_ptr<serving::InferenceServer> server;
  std::unique_ptr<LazyLoadingClient> client;
  if (!(*op)->spec().models.empty()) {
    // The in-process inference server over the model repository, no
    // sockets; models are loaded on first use.
    serving::ServerOptions so;
    so.model_repository = args.repository;
    so.control_mode = serving::ModelControlMode::kExplicit;
    auto created = serving::InferenceServer::Create(so);
    if (!created.ok()) {
      fmt::print(stderr, "imagen run: model repository {}: {}\n", args.repository, created.status().message());
      return 1;
    }
    server = *std::move(created);
    client = std::make_unique<LazyLoadingClient>(server.get());
    ctx.inference = client.get();
  }
  // The first run includes loading the model; further runs (--repeat) show
  // the steady-state time per image.
  absl::StatusOr<ops::ImageBlob> result;
  std::vector<double> seconds;
  for (int i = 0; i < std::max(1, args.repeat); ++i) {
    const auto start = std::chrono::steady_clock::now();
    result = (*op)->Run(input, *params, ctx);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!result.ok()) {
      fmt::print(stderr, "imagen run: {} failed: {}\n", args.op, result.status().ToString());
      return absl::IsInvalidArgument(result.status()) ? 2 : 1;
    }
  }
  if (auto s = WriteFileAtomically(env, args.output, result->bytes); !s.ok()) {
    fmt::print(stderr, "imagen run: cannot write {}: {}\n", args.output, s.message());
    return 1;
  }
  fmt::print("{}: {} -> {} ({}, {} bytes) in {:.3f} s\n", args.op, args.input, args.output, result->content_type,
             result->bytes.size(), seconds[0]);
  if (seconds.size() > 1) {
    double sum = 0;
    for (size_t i = 1; i < seconds.size(); ++i) sum += seconds[i];
    const double mean = sum / static_cast<double>(seconds.size() - 1);
    fmt::print("{}: {} more runs: {:.3f} s per image, {:.3f} images/s\n", args.op, seconds.size() - 1, mean,
               1.0 / mean);
  }
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, int* rc) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand("run", "Process one image locally: imagen run OP INPUT -o OUTPUT");
  run->add_option("op", args->op, "Operation: remove_background, upscale, enhance, style_comic, style_aged")
      ->required();
  run->add_option("input", args->input, "Input image file")->required();
  run->add_option("-o,--output", args->output, "Output image file")->required();
  run->add_option("-p,--param", args->params, "Operation parameter k=v (repeatable)");
  run->add_option("--repository", args->repository, "Model repository folder")->capture_default_str();
  run->add_option("--tile", args->tile, "Model tile size in pixels (0: whole image)")->capture_default_str();
  run->add_option("--max-megapixels", args->max_megapixels, "Refuse larger inputs")->capture_default_str();
  run->add_option("--repeat", args->repeat, "Run the operation N times (timing)")->capture_default_str();
  run->add_flag("--refuse-animated", args->refuse_animated, "Refuse animated images instead of taking frame 1");
  run->callback([args, rc] { *rc = RunOnce(*args); });
}

}  // namespace imagen
