// `imagen serve`: the all-in-one server. Opens the embedded job store and
// blob folder under data_dir, makes sure the admin key exists, registers the
// operations, starts the workers, the webhook dispatcher and the sweeper, and
// serves the REST API, /healthz, /readyz and /metrics until SIGTERM/SIGINT.
#include "cmd/serve_command.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "api/api_service.h"
#include "api/metrics_access.h"
#include "api/web_ui.h"
#include "cmd/admin_key.h"
#include "cmd/commands.h"
#include "cmd/listen_address.h"
#include "cmd/server_flags.h"
#include "cmd/signals.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/string_view.h"
#include "common/utf8.h"
#include "common/version.h"
#include "fmt/core.h"
#include "http/server.h"
#include "imaging/decode_budget.h"
#include "jobs/api_keys.h"
#include "jobs/blob_store.h"
#include "jobs/job_events.h"
#include "jobs/job_store.h"
#include "jobs/sweeper.h"
#include "jobs/webhooks.h"
#include "ops/builtin_ops.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "serving/server.h"
#include "worker/diagnostic_ops.h"
#include "worker/grpc_inference_client.h"
#include "worker/inprocess_inference_client.h"
#include "worker/worker_pool.h"

namespace imagen {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return out;
}

// Answers every Infer with Unavailable: the state of a server whose inference
// backend is not configured (jobs that need a model retry, then go dead).
class NoInferenceClient final : public ops::InferenceClient {
 public:
  explicit NoInferenceClient(std::string why) : why_(std::move(why)) {}
  absl::StatusOr<ops::InferResult> Infer(const ops::InferRequest& r) override {
    return absl::UnavailableError(absl::StrCat("no inference backend for model '", r.model_name, "': ", why_));
  }
  absl::Status ModelReady(const std::string& model) override { return absl::UnavailableError(why_); }

 private:
  std::string why_;
};

// The in-process inference server, loading each model on its first request
// so that a server only pays for the models its jobs use.
class LazyInProcessClient final : public ops::InferenceClient {
 public:
  explicit LazyInProcessClient(std::unique_ptr<serving::InferenceServer> server)
      : server_(std::move(server)), client_(server_.get()) {}
  absl::StatusOr<ops::InferResult> Infer(const ops::InferRequest& r) override {
    if (absl::Status s = Ensure(r.model_name); !s.ok()) return s;
    return client_.Infer(r);
  }
  absl::Status ModelReady(const std::string& model) override {
    if (absl::Status s = Ensure(model); !s.ok()) return s;
    return client_.ModelReady(model);
  }

 private:
  absl::Status Ensure(const std::string& model) {
    std::lock_guard<std::mutex> lock(mu_);
    if (loaded_.count(model) > 0) return absl::OkStatus();
    if (absl::Status s = server_->LoadModel(model); !s.ok()) {
      // A missing model is a deployment problem: InvalidArgument would fail
      // the job for good, so report it as unavailable (retried, then dead).
      return absl::UnavailableError(
          absl::StrCat("model '", model, "' cannot be loaded: ", s.message(), " (run `imagen models fetch`?)"));
    }
    loaded_.insert(model);
    return absl::OkStatus();
  }
  std::unique_ptr<serving::InferenceServer> server_;
  worker::InProcessInferenceClient client_;
  std::mutex mu_;
  std::set<std::string> loaded_;
};

// One `imagen serve` per data folder: the store's leases assume it.
absl::StatusOr<int> LockDataDir(const std::string& data_dir) {
  std::string path = data_dir + "/serve.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("another imagen serve is using ", data_dir, " (", path, " is locked)"));
  }
  return fd;
}

struct PlatformMetrics {
  explicit PlatformMetrics(prometheus::Registry& r)
      : requests(prometheus::BuildCounter()
                     .Name("imagen_http_requests_total")
                     .Help("HTTP requests by method, route and status code")
                     .Register(r)),
        latency(prometheus::BuildHistogram()
                    .Name("imagen_http_request_duration_seconds")
                    .Help("HTTP request latency by route")
                    .Register(r)),
        jobs(prometheus::BuildGauge().Name("imagen_jobs").Help("Jobs in the store by state").Register(r)),
        queue_depth(
            prometheus::BuildGauge().Name("imagen_job_queue_depth").Help("Jobs waiting to run").Register(r).Add({})),
        queue_wait(prometheus::BuildHistogram()
                       .Name("imagen_job_queue_wait_seconds")
                       .Help("Time from submission to the start of each attempt")
                       .Register(r)
                       .Add({}, MetricsRegistry::LatencyBucketsSeconds())),
        processing(prometheus::BuildHistogram()
                       .Name("imagen_job_processing_seconds")
                       .Help("Worker time per attempt, by outcome")
                       .Register(r)),
        submit(prometheus::BuildHistogram()
                   .Name("imagen_job_submit_seconds")
                   .Help("Time to accept a submission (auth, parse, store)")
                   .Register(r)
                   .Add({}, MetricsRegistry::LatencyBucketsSeconds())),
        webhooks(prometheus::BuildCounter()
                     .Name("imagen_webhook_deliveries_total")
                     .Help("Webhook delivery attempts by outcome")
                     .Register(r)) {}
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Family<prometheus::Gauge>& jobs;
  prometheus::Gauge& queue_depth;
  prometheus::Histogram& queue_wait;
  prometheus::Family<prometheus::Histogram>& processing;
  prometheus::Histogram& submit;
  prometheus::Family<prometheus::Counter>& webhooks;
};

}  // namespace

int RunServe(const Config& config) {
  auto listen = ParseListenAddress(config.GetString("server.listen"));
  if (!listen.ok()) {
    fmt::print(stderr, "imagen serve: {}\n", listen.status().message());
    return 2;
  }
  const std::string& data_dir = config.GetString("data_dir");
  Env* env = Env::Default();
  auto fail = [](std::string_view what, const absl::Status& s) {
    fmt::print(stderr, "imagen serve: {}: {}\n", what, s.ToString());
    return 1;
  };
  if (absl::Status s = env->CreateDirs(data_dir); !s.ok()) return fail("cannot create the data folder", s);
  auto lock = LockDataDir(data_dir);
  if (!lock.ok()) return fail("cannot lock the data folder", lock.status());

  auto store_or = jobs::JobStore::Open(data_dir + "/jobs.db", Clock::Real());
  if (!store_or.ok()) return fail("cannot open the job store", store_or.status());
  jobs::JobStore* store = store_or->get();
  // Webhook secrets at rest: sealed under IMAGEN_SECRET_KEY or DIR/secret.key
  // (docs/jobs.md, "Secrets at rest"); plaintext rows are sealed now.
  std::string secret_source;
  auto box = jobs::SecretBox::FromEnvOrFile(data_dir, &secret_source);
  if (!box.ok()) return fail("cannot load the secret key", box.status());
  if (absl::Status s = store->UseSecretBox(std::move(*box)); !s.ok()) return fail("cannot seal webhook secrets", s);
  spdlog::info("webhook secrets sealed at rest with the key from {}", secret_source);
  auto admin = EnsureAdminKey(env, data_dir);
  if (!admin.ok()) return fail("cannot prepare the admin key", admin.status());
  if (auto k = jobs::EnsureApiKey(store, admin->key, {.name = "admin", .admin = true}); !k.ok()) {
    return fail("cannot store the admin key", k.status());
  }
  // This process owns the folder (lock above): leases left are from a dead one.
  if (auto n = store->RecoverLeases(); !n.ok()) {
    return fail("cannot recover leases", n.status());
  } else if (*n > 0) {
    spdlog::info("recovered {} job(s) left running by a previous process", *n);
  }
  jobs::BlobStore blobs(env, data_dir + "/blobs");
  if (absl::Status s = blobs.Init(); !s.ok()) return fail("cannot prepare the blob folder", s);

  ops::OpRegistry registry;
  ops::BuiltinOpsOptions builtin;
  builtin.limits.max_pixels = static_cast<uint64_t>(config.GetInt("limits.max_pixels"));
  builtin.limits.max_side = config.GetInt("limits.max_side");
  imaging::DecodeBudget::Global().SetCapacity(config.GetInt("limits.decode_budget_bytes"));
  if (absl::Status s = ops::RegisterBuiltinOps(&registry, builtin); !s.ok()) return fail("operations", s);
  if (config.GetBool("ops.diagnostic")) {
    if (absl::Status s = worker::RegisterDiagnosticOps(&registry); !s.ok()) return fail("operations", s);
  }
  std::unique_ptr<ops::InferenceClient> inference;
  std::string inference_problem;  // non-empty: /readyz says not ready
  const std::string& inference_url = config.GetString("inference.url");
  const std::string& repository = config.GetString("inference.model_repository");
  if (!inference_url.empty()) {
    // Remote KServe v2 gRPC (`imagen infer` or Triton).
    worker::GrpcClientOptions go;
    go.target = inference_url;
    inference = std::make_unique<worker::GrpcInferenceClient>(go);
  } else if (!env->FileExists(repository)) {
    inference_problem = absl::StrCat("model repository ", repository, " does not exist (run `imagen models fetch`)");
  } else {
    serving::ServerOptions so;
    so.model_repository = repository;
    so.control_mode = serving::ModelControlMode::kExplicit;
    auto server = serving::InferenceServer::Create(so);
    if (server.ok()) {
      inference = std::make_unique<LazyInProcessClient>(std::move(*server));
    } else {
      inference_problem = absl::StrCat("model repository ", repository, ": ", server.status().message());
    }
  }
  if (!inference) {
    spdlog::warn("no inference backend: {}; operations that need a model will fail", inference_problem);
    inference = std::make_unique<NoInferenceClient>(inference_problem);
  }

  MetricsRegistry metrics;
  prometheus::BuildGauge()
      .Name("imagen_build_info")
      .Help("imagen version")
      .Register(metrics.registry())
      .Add({{"version", kVersion}})
      .Set(1);
  PlatformMetrics pm(metrics.registry());

  jobs::JobEvents events;
  store->SetListener([&events](const jobs::Job& job) { events.Publish(job); });
  store->SetQueuePolicy({.max_queued_per_key = config.GetInt("jobs.max_queued_per_key")});

  worker::PoolOptions pool_options;
  pool_options.threads = static_cast<int>(config.GetInt("workers"));
  pool_options.worker.lease = absl::Seconds(config.GetDouble("jobs.lease_seconds"));
  pool_options.heartbeat = absl::Seconds(config.GetDouble("jobs.heartbeat_seconds"));
  pool_options.worker.retry.max_attempts = static_cast<int>(config.GetInt("jobs.max_attempts"));
  pool_options.worker.retry.base_delay = absl::Seconds(config.GetDouble("jobs.retry_base_seconds"));
  pool_options.worker.retry.max_delay = absl::Seconds(config.GetDouble("jobs.retry_max_seconds"));
  worker::WorkerPool pool(store, &blobs, &registry, inference.get(), &events, pool_options);
  pool.SetTimingObserver([&pm](const worker::JobTiming& t) {
    if (t.outcome.empty()) return;
    pm.queue_wait.Observe(t.queue_wait_s);
    pm.processing.Add({{"outcome", t.outcome}}, MetricsRegistry::LatencyBucketsSeconds()).Observe(t.processing_s);
  });

  jobs::WebhookOptions wh;
  wh.policy.allow_private = config.GetBool("webhooks.allow_private");
  wh.policy.allow_hosts = SplitList(config.GetString("webhooks.allow_hosts"));
  wh.retry.max_attempts = static_cast<int>(config.GetInt("webhooks.max_attempts"));
  wh.retry.base_delay = absl::Seconds(config.GetDouble("webhooks.retry_base_seconds"));
  wh.timeout = absl::Seconds(config.GetDouble("webhooks.timeout_seconds"));
  wh.max_in_flight = static_cast<int>(config.GetInt("webhooks.max_in_flight"));
  wh.max_in_flight_per_key = static_cast<int>(config.GetInt("webhooks.max_in_flight_per_key"));
  jobs::WebhookDispatcher dispatcher(store, wh, [&pm](const std::string& outcome) {
    pm.webhooks.Add({{"outcome", outcome}}).Increment();
  });

  api::ApiOptions api_options;
  api_options.image.max_pixels = static_cast<uint64_t>(config.GetInt("limits.max_pixels"));
  api_options.image.max_side = static_cast<uint32_t>(config.GetInt("limits.max_side"));
  api_options.image.formats = SplitList(config.GetString("limits.formats"));
  api_options.max_queue_depth = config.GetInt("jobs.max_queue_depth");
  api_options.max_attempts = static_cast<int>(config.GetInt("jobs.max_attempts"));
  api_options.max_wait_seconds = config.GetInt("api.max_wait_seconds");
  api_options.default_deadline = absl::Seconds(config.GetDouble("jobs.default_deadline_seconds"));
  api_options.default_rate = config.GetDouble("api.default_rate");
  api_options.webhook_policy = wh.policy;
  api_options.max_streams_per_key = static_cast<int>(config.GetInt("api.max_streams_per_key"));
  api::ApiService api_service(store, &blobs, &events, &registry, api_options);
  api_service.SetSubmitObserver([&pm](double s) { pm.submit.Observe(s); });

  http::Router router;
  router.AddSync(http::Verb::get, "/healthz", [](const http::Request& req, const http::RequestContext&) {
    return http::JsonResponse(req, http::Status::ok, R"({"status":"ok"})");
  });
  router.AddSync(
      http::Verb::get, "/readyz", [store, &pool_options](const http::Request& req, const http::RequestContext&) {
        if (absl::Status s = store->Ping(); !s.ok()) {
          return http::ErrorResponse(req, http::Status::service_unavailable, "store_unavailable", ToStd(s.message()));
        }
        if (pool_options.threads == 0) {
          return http::ErrorResponse(req, http::Status::service_unavailable, "no_workers",
                                     "this server runs no workers (workers = 0)");
        }
        return http::JsonResponse(req, http::Status::ok, R"({"status":"ready"})");
      });
  // /metrics on the API's listener or on metrics.listen, optionally admin-only.
  http::Router metrics_router;
  const std::string& metrics_listen = config.GetString("metrics.listen");
  api::RegisterMetrics(metrics_listen.empty() ? router : metrics_router,
                       {.require_admin = config.GetBool("metrics.require_admin")}, &api_service,
                       [&metrics, &pm, store] {
                         if (auto counts = store->CountByState(); counts.ok()) {
                           for (const auto& [state, n] : *counts) {
                             pm.jobs.Add({{"state", state}}).Set(static_cast<double>(n));
                           }
                           pm.queue_depth.Set(static_cast<double>((*counts)["queued"]));
                         }
                         return metrics.Serialize();
                       });
  api_service.Register(router);
  api::SessionStore sessions;  // the web UI at / (api/web_ui.h) logs in with a session cookie
  api_service.SetSessionStore(&sessions);
  api::RegisterWebUi(
      router, &sessions, store,
      {.image = api_options.image, .max_upload_bytes = uint64_t(config.GetInt("server.body_limit_bytes"))});

  http::ServerOptions options;
  options.host = listen->host;
  options.port = listen->port;
  options.threads = static_cast<int>(config.GetInt("server.http_threads"));
  options.body_limit = static_cast<uint64_t>(config.GetInt("server.body_limit_bytes"));
  options.max_connections = static_cast<int>(config.GetInt("server.max_connections"));
  options.header_timeout = absl::Seconds(config.GetDouble("server.header_timeout_seconds"));
  options.max_inflight_body_bytes = static_cast<uint64_t>(config.GetInt("server.max_inflight_body_bytes"));
  // Routing and authentication from the request head, before any body byte
  // is read: an unknown route or a missing or unknown key never costs an
  // upload's worth of memory.
  options.on_headers = [&router, &api_service](const http::Request& head, http::RequestContext&,
                                               http::RequestLimits& limits) -> std::optional<http::Response> {
    if (auto rejected = router.RejectUnrouted(head)) return rejected;
    return api_service.CheckHeaders(head, limits);
  };
  // Labels come from the route table only (the matched pattern or "other",
  // the method from a fixed set): clients cannot add series or put invalid
  // UTF-8 into /metrics.
  auto observer = [&pm, &router](const http::Request& req, unsigned code, absl::Duration elapsed) {
    std::string method(http::MethodLabel(req.method()));
    std::string status = std::to_string(code);
    std::string route(router.PatternOf(req.target()));
    std::string target = ToValidUtf8(req.target().substr(0, 512));
    pm.requests.Add({{"method", method}, {"route", route}, {"code", status}}).Increment();
    pm.latency.Add({{"method", method}, {"route", route}}, MetricsRegistry::LatencyBucketsSeconds())
        .Observe(absl::ToDoubleSeconds(elapsed));
    LogEvent(spdlog::level::info, "request",
             {{"method", method},
              {"target", target},
              {"route", route},
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
  std::unique_ptr<http::Server> metrics_server;
  if (!metrics_listen.empty()) {
    auto addr = ParseListenAddress(metrics_listen);
    if (!addr.ok()) {
      fmt::print(stderr, "imagen serve: metrics.listen: {}\n", addr.status().message());
      return 1;
    }
    http::ServerOptions mo;
    mo.host = addr->host;
    mo.port = addr->port;
    mo.threads = 1;
    mo.max_connections = 64;
    metrics_server = std::make_unique<http::Server>(
        mo, [&metrics_router](http::Request& req, http::RequestContext& ctx, http::ResponseStream& stream) {
          return metrics_router.Route(req, ctx, stream);
        });
    if (absl::Status s = metrics_server->Start(); !s.ok()) {
      fmt::print(stderr, "imagen serve: metrics.listen: {}\n", s.message());
      return 1;
    }
    fmt::print("/metrics on http://{}:{}/metrics\n", addr->host, metrics_server->port());
  }
  pool.Start();
  dispatcher.Start();

  // Sweeper: finished jobs past retention and their blobs, orphan input files.
  jobs::Sweeper sweeper(store, &blobs, Clock::Real(),
                        {.retention = absl::Seconds(config.GetDouble("jobs.result_retention_seconds")),
                         .interval = absl::Seconds(config.GetDouble("jobs.sweep_interval_seconds")),
                         .orphan_grace = absl::Seconds(config.GetDouble("jobs.orphan_grace_seconds"))});
  sweeper.Start();

  fmt::print("imagen {} listening on http://{}:{} (data: {})\n", kVersion, listen->host, server.port(), data_dir);
  if (admin->created) {
    fmt::print("admin API key (shown once, saved to {} with mode 0600):\n  {}\n", admin->path, admin->key);
  } else {
    fmt::print("admin API key: see {}\n", admin->path);
  }
  std::fflush(stdout);

  int sig = WaitForShutdownSignal();
  absl::Duration grace = absl::Seconds(config.GetDouble("server.shutdown_grace_seconds"));
  spdlog::info("signal {} received, shutting down (grace {})", sig, absl::FormatDuration(grace));
  api_service.StopStreams();  // event streams end now instead of holding the grace
  server.Stop(grace);
  if (metrics_server) metrics_server->Stop(absl::Seconds(1));
  pool.Stop(grace);
  dispatcher.Stop();
  sweeper.Stop();
  ::close(*lock);
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
