#include "frontends/http_frontend.h"

#include <memory>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/as_tuple.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/this_coro.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "common/string_view.h"
#include "frontends/compression.h"
#include "frontends/http_routes.h"
#include "frontends/kserve_json.h"
#include "frontends/metrics_text.h"
#include "frontends/status_map.h"

namespace imagen::frontends {
namespace internal {

namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

Response Json(const Request& req, unsigned code, std::string body) {
  return http::MakeResponse(req, static_cast<http::Status>(code), std::move(body), "application/json");
}

Response Error(const Request& req, const absl::Status& s) {
  return Json(req, HttpCodeFor(s), ErrorJson(std::string(s.message())));
}

std::string Param(const RequestContext& ctx, const char* key) {
  auto it = ctx.path_params.find(key);
  return it == ctx.path_params.end() ? std::string() : it->second;
}

absl::StatusOr<nlohmann::json> JsonBody(const Request& req, std::string_view what) {
  if (req.body().find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
  return ParseJsonObject(req.body(), what);
}

namespace {

// No exception (bad_alloc, a library's throw) leaves a handler: it becomes a
// KServe-shaped 500 (400 for what the JSON library rejects).
Response FromException(const Request& req, const std::exception& e) {
  bool json_error = dynamic_cast<const nlohmann::json::exception*>(&e) != nullptr;
  return Error(req, json_error ? absl::InvalidArgumentError(absl::StrCat("invalid request: ", e.what()))
                               : absl::InternalError(absl::StrCat("internal error: ", e.what())));
}

// The restricted group's check on the request's headers.
absl::Status Allowed(const Request& req, ApiGroup group, const RestrictedApis* restricted) {
  if (restricted == nullptr) return absl::OkStatus();
  const Restriction* r = restricted->Find(group);
  if (r == nullptr) return absl::OkStatus();
  auto it = req.find(r->key);
  std::optional<std::string_view> value;
  if (it != req.end()) value = std::string_view(it->value().data(), it->value().size());
  return restricted->CheckHttp(group, value);
}

}  // namespace

void AddSync(http::Router& r, http::Verb verb, std::string pattern, ApiGroup group, const Restricted& restricted,
             http::SyncHandler fn) {
  r.AddSync(verb, std::move(pattern),
            [fn = std::move(fn), group, restricted](const Request& req, const RequestContext& ctx) -> Response {
              if (absl::Status a = Allowed(req, group, restricted.get()); !a.ok()) return Error(req, a);
              try {
                return fn(req, ctx);
              } catch (const std::exception& e) {
                return FromException(req, e);
              }
            });
}

void Add(http::Router& r, http::Verb verb, std::string pattern, ApiGroup group, const Restricted& restricted,
         http::Handler fn) {
  r.Add(verb, std::move(pattern),
        [fn = std::move(fn), group, restricted](Request& req, RequestContext& ctx,
                                                http::ResponseStream& stream) -> asio::awaitable<Response> {
          if (absl::Status a = Allowed(req, group, restricted.get()); !a.ok()) co_return Error(req, a);
          std::optional<Response> failed;
          try {
            co_return co_await fn(req, ctx, stream);
          } catch (const std::exception& e) {
            failed = FromException(req, e);
          }
          co_return std::move(*failed);
        });
}

}  // namespace internal

namespace {

namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;
using internal::Add;
using internal::AddSync;
using internal::Error;
using internal::Json;
using internal::JsonBody;
using internal::Param;
using internal::Restricted;

// Awaits InferAsync's callback without holding an I/O thread: the callback
// posts the result to the connection's strand and cancels a timer the
// coroutine waits on (the strand orders the wait before the cancel).
asio::awaitable<absl::StatusOr<serving::InferResponse>> AwaitInfer(serving::InferenceServer* server,
                                                                   serving::InferRequest request) {
  using Result = absl::StatusOr<serving::InferResponse>;
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  auto result = std::make_shared<std::optional<Result>>();
  server->InferAsync(std::move(request), [timer, result, executor](Result r) mutable {
    asio::post(executor, [timer, result, r = std::move(r)]() mutable {
      *result = std::move(r);
      timer->cancel();
    });
  });
  while (!result->has_value()) {
    auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
  co_return std::move(**result);
}

// The request body, decompressed per Content-Encoding.
absl::StatusOr<std::string> Body(const Request& req, uint64_t limit) {
  auto it = req.find("Content-Encoding");
  if (it == req.end()) return req.body();
  std::string enc = absl::AsciiStrToLower(ToAbsl(std::string_view(it->value().data(), it->value().size())));
  if (enc.empty() || enc == "identity") return req.body();
  return Decompress(req.body(), enc, limit);
}

void AddModelRoutes(http::Router& r, serving::InferenceServer* s, const std::string& base, uint64_t limit,
                    const Restricted& rs) {
  AddSync(r, http::Verb::get, base, ApiGroup::kMetadata, rs, [s](const Request& req, const RequestContext& ctx) {
    auto md = s->Metadata(Param(ctx, "m"), Param(ctx, "v"));
    return md.ok() ? Json(req, 200, MetadataJson(*md)) : Error(req, md.status());
  });
  AddSync(r, http::Verb::get, base + "/ready", ApiGroup::kHealth, rs,
          [s](const Request& req, const RequestContext& ctx) {
            absl::Status st = s->ModelReady(Param(ctx, "m"), Param(ctx, "v"));
            return st.ok() ? Json(req, 200, "")
                           : Error(req, absl::Status(absl::StatusCode::kInvalidArgument, st.message()));
          });
  AddSync(r, http::Verb::get, base + "/config", ApiGroup::kModelConfig, rs,
          [s](const Request& req, const RequestContext& ctx) {
            auto c = s->Config(Param(ctx, "m"), Param(ctx, "v"));
            return c.ok() ? Json(req, 200, ConfigJson(*c)) : Error(req, c.status());
          });
  AddSync(r, http::Verb::get, base + "/stats", ApiGroup::kStatistics, rs,
          [s](const Request& req, const RequestContext& ctx) {
            auto st = s->Statistics(Param(ctx, "m"), Param(ctx, "v"));
            return st.ok() ? Json(req, 200, StatisticsJson(*st)) : Error(req, st.status());
          });
  Add(r, http::Verb::post, base + "/infer", ApiGroup::kInference, rs,
      [s, limit](Request& req, RequestContext& ctx, http::ResponseStream&) -> asio::awaitable<Response> {
        auto body = Body(req, limit);
        if (!body.ok()) co_return Error(req, body.status());
        std::optional<size_t> header_length;
        if (auto it = req.find("Inference-Header-Content-Length"); it != req.end()) {
          size_t n;
          if (!absl::SimpleAtoi(ToAbsl(std::string_view(it->value().data(), it->value().size())), &n)) {
            co_return Error(req, absl::InvalidArgumentError("invalid Inference-Header-Content-Length"));
          }
          header_length = n;
        }
        bool binary_default = false;
        std::vector<std::string> binary_outputs, json_outputs;
        absl::StatusOr<serving::InferRequest> parsed;
        serving::SharedMemoryOutputs shm_outputs;  // holds the regions until the reply
        if (header_length == 0) {                  // the raw binary request form
          auto config = s->Config(Param(ctx, "m"), Param(ctx, "v"));
          if (!config.ok()) co_return Error(req, config.status());
          parsed = ParseRawInferRequest(std::move(*body), *config, Param(ctx, "m"), Param(ctx, "v"));
        } else {
          parsed = ParseInferRequest(*body, header_length, Param(ctx, "m"), Param(ctx, "v"), &binary_default,
                                     &binary_outputs, &json_outputs, &s->shared_memory(), &shm_outputs);
        }
        if (!parsed.ok()) co_return Error(req, parsed.status());
        std::shared_ptr<serving::RequestTrace> trace = s->tracer().Sample(parsed->model_name);
        if (trace != nullptr) trace->Record("HTTP_RECV_END");  // the body has been read
        parsed->trace = trace;
        parsed->trace_sampled = true;
        auto result = co_await AwaitInfer(s, std::move(*parsed));
        if (!result.ok()) co_return Error(req, result.status());
        if (trace != nullptr) trace->Record("HTTP_SEND_START");
        if (absl::Status w = serving::WriteSharedMemoryOutputs(shm_outputs, *result); !w.ok()) co_return Error(req, w);
        EncodedResponse enc = EncodeInferResponse(*result, binary_default, binary_outputs, json_outputs, &shm_outputs);
        Response res = http::MakeResponse(req, http::Status::ok, std::move(enc.body),
                                          enc.header_length ? "application/octet-stream" : "application/json");
        if (enc.header_length) res.set("Inference-Header-Content-Length", std::to_string(*enc.header_length));
        if (auto it = req.find("Accept-Encoding"); it != req.end()) {
          std::string accept(it->value().data(), it->value().size());
          std::string enc_name = accept.find("gzip") != std::string::npos      ? "gzip"
                                 : accept.find("deflate") != std::string::npos ? "deflate"
                                                                               : "";
          if (!enc_name.empty()) {
            auto z = Compress(res.body(), enc_name);
            if (z.ok()) {
              res.body() = std::move(*z);
              res.set("Content-Encoding", enc_name);
              res.prepare_payload();
            }
          }
        }
        co_return res;
      });
}

}  // namespace

http::Router KServeHttpRouter(serving::InferenceServer* s, uint64_t body_limit, RestrictedApis restricted) {
  http::Router r;
  Restricted rs = std::make_shared<const RestrictedApis>(std::move(restricted));
  AddSync(r, http::Verb::get, "/v2/health/live", ApiGroup::kHealth, rs,
          [s](const Request& req, const RequestContext&) { return Json(req, s->Live() ? 200 : 400, ""); });
  AddSync(r, http::Verb::get, "/v2/health/ready", ApiGroup::kHealth, rs,
          [s](const Request& req, const RequestContext&) { return Json(req, s->Ready() ? 200 : 400, ""); });
  AddSync(r, http::Verb::get, "/v2", ApiGroup::kMetadata, rs,
          [](const Request& req, const RequestContext&) { return Json(req, 200, ServerMetadataJson()); });
  AddSync(r, http::Verb::get, "/v2/models/stats", ApiGroup::kStatistics, rs,
          [s](const Request& req, const RequestContext&) {
            auto st = s->Statistics("", "");
            return st.ok() ? Json(req, 200, StatisticsJson(*st)) : Error(req, st.status());
          });
  AddModelRoutes(r, s, "/v2/models/{m}", body_limit, rs);
  AddModelRoutes(r, s, "/v2/models/{m}/versions/{v}", body_limit, rs);
  internal::AddExtensionRoutes(r, s, rs);
  AddSync(r, http::Verb::post, "/v2/repository/index", ApiGroup::kModelRepository, rs,
          [s](const Request& req, const RequestContext&) {
            auto body = JsonBody(req, "repository index request");
            if (!body.ok()) return Error(req, body.status());
            bool ready = false;
            if (body->contains("ready")) {
              if (!(*body)["ready"].is_boolean()) {
                return Error(req, absl::InvalidArgumentError("repository index request: 'ready' must be a boolean"));
              }
              ready = (*body)["ready"].get<bool>();
            }
            return Json(req, 200, IndexJson(s->RepositoryIndex(ready)));
          });
  for (const char* action : {"load", "unload"}) {
    bool load = std::string(action) == "load";
    AddSync(r, http::Verb::post, absl::StrCat("/v2/repository/models/{m}/", action), ApiGroup::kModelRepository, rs,
            [s, load](const Request& req, const RequestContext& ctx) {
              if (s->options().control_mode != serving::ModelControlMode::kExplicit) {
                return Error(
                    req, absl::UnavailableError("explicit model load / unload is not allowed if polling is enabled"));
              }
              absl::Status st;
              if (load) {
                auto overrides = ParseLoadRequest(req.body());
                st = overrides.ok() ? s->LoadModel(Param(ctx, "m"), *overrides) : overrides.status();
              } else {
                st = ParseUnloadRequest(req.body());
                if (st.ok()) st = s->UnloadModel(Param(ctx, "m"));
              }
              return st.ok() ? Json(req, 200, "") : Error(req, st);
            });
  }
  return r;
}

void UseKServeErrors(http::ServerOptions& options, std::shared_ptr<const http::Router> router) {
  options.error_response = [](const Request& head, http::Status status, std::string_view, std::string_view message) {
    return http::KServeErrorResponse(head, status, message);
  };
  options.on_headers = [router = std::move(router)](const Request& head, RequestContext&,
                                                    http::RequestLimits&) -> std::optional<Response> {
    auto rejected = router->RejectUnrouted(head);
    if (!rejected) return std::nullopt;
    std::string_view target = head.target();
    constexpr size_t kMaxEcho = 200;
    std::string what =
        rejected->result() == http::Status::method_not_allowed ? "method not allowed on: " : "no such path: ";
    what += std::string(target.substr(0, kMaxEcho));
    if (target.size() > kMaxEcho) what += "...";
    return http::KServeErrorResponse(head, rejected->result(), what);
  };
}

http::Router MetricsRouter(serving::InferenceServer* s) {
  http::Router r;
  internal::AddSync(
      r, http::Verb::get, "/metrics", ApiGroup::kStatistics, nullptr, [s](const Request& req, const RequestContext&) {
        auto st = s->Statistics("", "");
        return http::MakeResponse(req, http::Status::ok,
                                  RenderMetrics(st.ok() ? *st : std::vector<serving::ModelStatsSnapshot>{}),
                                  "text/plain; version=0.0.4");
      });
  return r;
}

}  // namespace imagen::frontends
