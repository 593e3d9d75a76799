#include "cmd/serve_command.h"

#include "absl/strings/str_cat.h"
#include "cmd/admin_key.h"
#include "cmd/commands.h"
#include "cmd/listen_address.h"
#include "cmd/server_flags.h"
#include "cmd/signals.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/string_view.h"
#include "common/version.h"
#include "fmt/core.h"
#include "http/server.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace imagen {
namespace {

// Core HTTP routes every imagen server answers.
http::Router CoreRouter(MetricsRegistry* metrics) {
  http::Router router;
  router.AddSync(http::Verb::get, "/healthz", [](const http::Request& req, const http::RequestContext&) {
    return http::JsonResponse(req, http::Status::ok, R"({"status":"ok"})");
  });
  router.AddSync(http::Verb::get, "/readyz", [](const http::Request& req, const http::RequestContext&) {
    return http::JsonResponse(req, http::Status::ok, R"({"status":"ready"})");
  });
  router.AddSync(http::Verb::get, "/metrics", [metrics](const http::Request& req, const http::RequestContext&) {
    return http::MakeResponse(req, http::Status::ok, metrics->Serialize(), "text/plain; version=0.0.4");
  });
  return router;
}

}  // namespace

int RunServe(const Config& config) {
  auto listen = ParseListenAddress(config.GetString("server.listen"));
  if (!listen.ok()) {
    fmt::print(stderr, "imagen serve: {}\n", listen.status().message());
    return 2;
  }
  const std::string& data_dir = config.GetString("data_dir");
  Env* env = Env::Default();
  auto admin = EnsureAdminKey(env, data_dir);
  if (!admin.ok()) {
    fmt::print(stderr, "imagen serve: cannot prepare data folder: {}\n", admin.status().ToString());
    return 1;
  }

  MetricsRegistry metrics;
  prometheus::Gauge& build_info = prometheus::BuildGauge()
                                      .Name("imagen_build_info")
                                      .Help("imagen version")
                                      .Register(metrics.registry())
                                      .Add({{"version", kVersion}});
  build_info.Set(1);
  auto& requests = prometheus::BuildCounter()
                       .Name("imagen_http_requests_total")
                       .Help("HTTP requests by method and status code")
                       .Register(metrics.registry());
  auto& latency = prometheus::BuildHistogram()
                      .Name("imagen_http_request_duration_seconds")
                      .Help("HTTP request latency")
                      .Register(metrics.registry());

  http::Router router = CoreRouter(&metrics);
  http::ServerOptions options;
  options.host = listen->host;
  options.port = listen->port;
  options.threads = static_cast<int>(config.GetInt("server.http_threads"));
  options.body_limit = static_cast<uint64_t>(config.GetInt("server.body_limit_bytes"));
  auto observer = [&](const http::Request& req, unsigned code, absl::Duration elapsed) {
    std::string method(req.method_string());
    std::string status = std::to_string(code);
    requests.Add({{"method", method}, {"code", status}}).Increment();
    latency.Add({{"method", method}}, MetricsRegistry::LatencyBucketsSeconds()).Observe(absl::ToDoubleSeconds(elapsed));
    LogEvent(spdlog::level::info, "request",
             {{"method", method},
              {"target", req.target()},
              {"status", status},
              {"ms", absl::StrCat(absl::ToDoubleMilliseconds(elapsed))}});
  };
  http::Server server(
      options,
      [&router](http::Request& req, http::RequestContext& ctx, http::ResponseStream& stream) {
        return router.Route(req, ctx, stream);
      },
      observer);
  if (absl::Status s = server.Start(); !s.ok()) {
    fmt::print(stderr, "imagen serve: {}\n", s.message());
    return 1;
  }
  fmt::print("imagen {} listening on http://{}:{} (data: {})\n", kVersion, listen->host, server.port(), data_dir);
  if (admin->created) {
    fmt::print("admin API key (shown once, saved to {} with mode 0600):\n  {}\n", admin->path, admin->key);
  } else {
    fmt::print("admin API key: see {}\n", admin->path);
  }
  std::fflush(stdout);

  int sig = WaitForShutdownSignal();
  spdlog::info("signal {} received, shutting down", sig);
  server.Stop(absl::Seconds(config.GetDouble("server.shutdown_grace_seconds")));
  spdlog::info("stopped");
  return 0;
}

void AddServeCommand(CLI::App& app, int* rc) {
  CLI::App* cmd = app.add_subcommand("serve", "All-in-one server: REST API, workers, in-process inference");
  auto flags = std::make_shared<ServerFlags>();
  flags->Attach(cmd);
  cmd->callback([rc, flags] {
    auto config = flags->Load();
    if (!config.ok()) {
      fmt::print(stderr, "imagen serve: {}\n", config.status().message());
      *rc = 2;
      return;
    }
    if (absl::Status s = InitLogging({config->GetString("log.level"), config->GetBool("log.json")}); !s.ok()) {
      fmt::print(stderr, "imagen serve: {}\n", s.message());
      *rc = 2;
      return;
    }
    *rc = RunServe(*config);
  });
}

}  // namespace imagen
