// `imagen infer`: the Triton-compatible inference server alone — KServe v2
// over HTTP and gRPC and Prometheus metrics, over a model repository.
#include <memory>

#include "cmd/commands.h"
#include "cmd/signals.h"
#include "common/logging.h"
#include "common/string_view.h"
#include "fmt/core.h"
#include "frontends/grpc_frontend.h"
#include "frontends/http_frontend.h"
#include "http/server.h"
#include "serving/server.h"
#include "spdlog/spdlog.h"

namespace imagen {
namespace {

struct InferFlags {
  std::string repository;
  std::string control_mode = "none";
  std::vector<std::string> load_models;
  std::string host = "127.0.0.1";
  int http_port = 8000;
  int grpc_port = 8001;
  int metrics_port = 8002;
  int http_threads = 2;
  int engine_threads = 0;
  double poll_secs = 15;
  double grace_secs = 10;
  std::string log_level = "info";
  std::vector<std::string> http_restricted, grpc_restricted;
};

// Triton's restricted protocol groups from repeated flag values.
absl::StatusOr<frontends::RestrictedApis> Restricted(const std::vector<std::string>& specs) {
  frontends::RestrictedApis r;
  for (const auto& spec : specs) {
    if (absl::Status s = r.Add(spec); !s.ok()) return s;
  }
  return r;
}

// `max_connections` 0: the server's default share of the open-file limit.
std::unique_ptr<http::Server> StartHttp(const std::string& host, int port, int threads, int max_connections,
                                        http::Router router, const char* what, int* rc) {
  auto shared = std::make_shared<http::Router>(std::move(router));
  http::ServerOptions o;
  o.host = host;
  o.port = static_cast<uint16_t>(port);
  o.threads = threads;
  o.max_connections = max_connections;
  // Every error on a KServe port has KServe's shape ({"error":"<message>"}),
  // the server's own (400, 413, 431, 503) included; an unknown route or
  // method is answered from the head, before any body byte is read.
  frontends::UseKServeErrors(o, shared);
  auto server = std::make_unique<http::Server>(
      o, [shared](http::Request& req, http::RequestContext& ctx, http::ResponseStream& stream) {
        return shared->Route(req, ctx, stream);
      });
  if (absl::Status s = server->Start(); !s.ok()) {
    fmt::print(stderr, "imagen infer: {} server: {}\n", what, s.message());
    *rc = 1;
    return nullptr;
  }
  return server;
}

int RunInfer(const InferFlags& f) {
  auto mode = serving::ParseModelControlMode(f.control_mode);
  if (!mode.ok()) {
    fmt::print(stderr, "imagen infer: {}\n", mode.status().message());
    return 2;
  }
  serving::ServerOptions options;
  options.model_repository = f.repository;
  options.control_mode = *mode;
  options.startup_models = f.load_models;
  options.engine_threads = f.engine_threads;
  options.poll_interval = absl::Seconds(f.poll_secs);
  auto server = serving::InferenceServer::Create(options);
  if (!server.ok()) {
    fmt::print(stderr, "imagen infer: {}\n", server.status().message());
    return 1;
  }
  for (const auto& e : (*server)->RepositoryIndex(false)) {
    fmt::print("  model {:<24} {:<4} {} {}\n", e.name, e.version, e.state.empty() ? "NOT LOADED" : e.state, e.reason);
  }
  auto http_restricted = Restricted(f.http_restricted);
  auto grpc_restricted = Restricted(f.grpc_restricted);
  for (const auto* r : {&http_restricted, &grpc_restricted}) {
    if (!r->ok()) {
      fmt::print(stderr, "imagen infer: {}\n", r->status().message());
      return 2;
    }
  }
  int rc = 0;
  auto http =
      StartHttp(f.host, f.http_port, f.http_threads, 0,
                frontends::KServeHttpRouter(server->get(), 64ull << 20, std::move(*http_restricted)), "HTTP", &rc);
  if (!http) return rc;
  auto metrics = StartHttp(f.host, f.metrics_port, 1, 64, frontends::MetricsRouter(server->get()), "metrics", &rc);
  if (!metrics) return rc;
  frontends::GrpcOptions go;
  go.host = f.host;
  go.port = static_cast<uint16_t>(f.grpc_port);
  go.restricted = std::move(*grpc_restricted);
  frontends::GrpcFrontend grpc(server->get(), go);
  if (absl::Status s = grpc.Start(); !s.ok()) {
    fmt::print(stderr, "imagen infer: {}\n", s.message());
    return 1;
  }
  fmt::print("imagen infer: HTTP {}:{}  gRPC {}:{}  metrics http://{}:{}/metrics  (repository {}, mode {})\n", f.host,
             http->port(), f.host, grpc.port(), f.host, metrics->port(), f.repository, f.control_mode);
  std::fflush(stdout);

  int sig = WaitForShutdownSignal();
  spdlog::info("signal {} received: refusing new requests, finishing in-flight ones", sig);
  (*server)->BeginShutdown();
  absl::Duration grace = absl::Seconds(f.grace_secs);
  grpc.Stop(grace);
  http->Stop(grace);
  (*server)->Shutdown();
  metrics->Stop(absl::Seconds(1));
  spdlog::info("stopped");
  return 0;
}

}  // namespace

void AddInferCommand(CLI::App& app, int* rc) {
  CLI::App* cmd = app.add_subcommand("infer", "Triton-compatible inference server (KServe v2 HTTP/gRPC)");
  auto f = std::make_shared<InferFlags>();
  cmd->add_option("--model-repository", f->repository, "Model repository folder (Triton layout)")->required();
  cmd->add_option("--model-control-mode", f->control_mode, "none | explicit | poll")
      ->check(CLI::IsMember({"none", "explicit", "poll"}));
  cmd->add_option("--load-model", f->load_models, "explicit mode: model to load at start (repeatable, * = all)");
  cmd->add_option("--host", f->host, "Address to listen on");
  cmd->add_option("--http-port", f->http_port, "KServe v2 HTTP port (0: any free port)");
  cmd->add_option("--grpc-port", f->grpc_port, "KServe v2 gRPC port (0: any free port)");
  cmd->add_option("--metrics-port", f->metrics_port, "Prometheus metrics port (0: any free port)");
  cmd->add_option("--http-threads", f->http_threads, "HTTP I/O threads");
  cmd->add_option("--engine-threads", f->engine_threads, "Engine threads shared by a model's instances (0: all cores)");
  cmd->add_option("--repository-poll-secs", f->poll_secs, "poll mode: seconds between repository scans");
  cmd->add_option("--shutdown-grace-secs", f->grace_secs, "Time in-flight requests get to finish on SIGTERM");
  cmd->add_option("--log-level", f->log_level, "trace, debug, info, warn, error, off");
  cmd->add_option(
      "--http-restricted-api", f->http_restricted,
      "<group>[,<group>...]:<header>=<value>: those KServe HTTP groups need the header (repeatable; groups: "
      "health, metadata, inference, shared-memory, model-config, model-repository, statistics, trace, "
      "logging)");
  cmd->add_option(
      "--grpc-restricted-protocol", f->grpc_restricted,
      "<group>[,<group>...]:<key>=<value>: those gRPC groups need metadata triton-grpc-protocol-<key> (repeatable)");
  cmd->callback([rc, f] {
    if (absl::Status s = InitLogging({f->log_level, false}); !s.ok()) {
      fmt::print(stderr, "imagen infer: {}\n", s.message());
      *rc = 2;
      return;
    }
    *rc = RunInfer(*f);
  });
}

}  // namespace imagen
