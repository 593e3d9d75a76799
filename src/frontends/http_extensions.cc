// The KServe HTTP routes of Triton's extensions: system shared memory
// (CUDA shared memory refused: imagen is CPU only), logging and trace
// settings. Thin: parse, call the server's extension state, format.
#include <optional>

#include "absl/strings/str_cat.h"
#include "frontends/http_routes.h"
#include "frontends/kserve_json.h"

namespace imagen::frontends::internal {
namespace {

using http::Request;
using http::RequestContext;
using http::Response;
using json = nlohmann::json;

constexpr char kNoCuda[] = "CUDA shared memory is not supported by imagen infer (CPU only)";

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

absl::StatusOr<uint64_t> UInt(const json& body, const char* key, bool required) {
  if (!body.contains(key)) {
    if (required) return absl::InvalidArgumentError(absl::StrCat("shared memory register request needs '", key, "'"));
    return 0;
  }
  const json& v = body[key];
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return absl::InvalidArgumentError(absl::StrCat("'", key, "' must be a non-negative integer"));
}

void AddSharedMemoryRoutes(http::Router& r, serving::InferenceServer* s, const Restricted& rs) {
  constexpr ApiGroup kGroup = ApiGroup::kSharedMemory;
  for (const char* base : {"/v2/systemsharedmemory", "/v2/systemsharedmemory/region/{name}"}) {
    AddSync(r, http::Verb::get, absl::StrCat(base, "/status"), kGroup, rs,
            [s](const Request& req, const RequestContext& ctx) {
              auto regions = s->shared_memory().Status(Param(ctx, "name"));
              if (!regions.ok()) return Error(req, regions.status());
              json out = json::array();
              for (const auto& region : *regions) {
                out.push_back({{"name", region->name()},
                               {"key", region->key()},
                               {"offset", region->offset()},
                               {"byte_size", region->byte_size()}});
              }
              return Json(req, 200, Dump(out));
            });
    AddSync(r, http::Verb::post, absl::StrCat(base, "/unregister"), kGroup, rs,
            [s](const Request& req, const RequestContext& ctx) {
              absl::Status st = s->shared_memory().Unregister(Param(ctx, "name"));
              return st.ok() ? Json(req, 200, "") : Error(req, st);
            });
  }
  AddSync(r, http::Verb::post, "/v2/systemsharedmemory/region/{name}/register", kGroup, rs,
          [s](const Request& req, const RequestContext& ctx) {
            auto body = JsonBody(req, "shared memory register request");
            if (!body.ok()) return Error(req, body.status());
            if (!body->contains("key") || !(*body)["key"].is_string()) {
              return Error(req, absl::InvalidArgumentError("shared memory register request needs 'key' (a string)"));
            }
            auto offset = UInt(*body, "offset", false);
            if (!offset.ok()) return Error(req, offset.status());
            auto size = UInt(*body, "byte_size", true);
            if (!size.ok()) return Error(req, size.status());
            absl::Status st =
                s->shared_memory().Register(Param(ctx, "name"), (*body)["key"].get<std::string>(), *offset, *size);
            return st.ok() ? Json(req, 200, "") : Error(req, st);
          });
  auto no_cuda = [](const Request& req, const RequestContext&) { return Json(req, 400, ErrorJson(kNoCuda)); };
  for (const char* base : {"/v2/cudasharedmemory", "/v2/cudasharedmemory/region/{name}"}) {
    AddSync(r, http::Verb::get, absl::StrCat(base, "/status"), kGroup, rs, no_cuda);
    AddSync(r, http::Verb::post, absl::StrCat(base, "/unregister"), kGroup, rs, no_cuda);
  }
  AddSync(r, http::Verb::post, "/v2/cudasharedmemory/region/{name}/register", kGroup, rs, no_cuda);
}

json LogJson(const serving::LogSettingMap& m) {
  json j = json::object();
  for (const auto& [k, v] : m) std::visit([&j, &k = k](const auto& x) { j[k] = x; }, v);
  return j;
}

void AddLoggingRoutes(http::Router& r, serving::InferenceServer* s, const Restricted& rs) {
  AddSync(r, http::Verb::get, "/v2/logging", ApiGroup::kLogging, rs, [s](const Request& req, const RequestContext&) {
    return Json(req, 200, Dump(LogJson(s->log_control().Get())));
  });
  AddSync(r, http::Verb::post, "/v2/logging", ApiGroup::kLogging, rs, [s](const Request& req, const RequestContext&) {
    auto body = JsonBody(req, "log settings request");
    if (!body.ok()) return Error(req, body.status());
    serving::LogSettingMap update;
    for (auto it = body->begin(); it != body->end(); ++it) {
      const json& v = it.value();
      if (v.is_boolean()) {
        update[it.key()] = v.get<bool>();
      } else if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= UINT32_MAX) {
        update[it.key()] = static_cast<uint32_t>(v.get<int64_t>());
      } else if (v.is_string()) {
        update[it.key()] = v.get<std::string>();
      } else {
        return Error(req, absl::InvalidArgumentError(
                              absl::StrCat("log setting '", it.key(), "' must be a boolean, integer or string")));
      }
    }
    auto updated = s->log_control().Update(update);
    return updated.ok() ? Json(req, 200, Dump(LogJson(*updated))) : Error(req, updated.status());
  });
}

// Triton prints trace_level as an array and every other setting as a string.
json TraceJson(const serving::TraceSettingMap& m) {
  json j = json::object();
  for (const auto& [k, v] : m) j[k] = k == "trace_level" ? json(v) : json(v.empty() ? "" : v.front());
  return j;
}

absl::StatusOr<serving::TraceUpdate> ParseTraceUpdate(const json& body) {
  serving::TraceUpdate update;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const json& v = it.value();
    if (v.is_null()) {
      update[it.key()] = std::nullopt;
    } else if (v.is_string()) {
      update[it.key()] = std::vector<std::string>{v.get<std::string>()};
    } else if (v.is_number_integer()) {
      update[it.key()] = std::vector<std::string>{std::to_string(v.get<int64_t>())};
    } else if (v.is_array()) {
      std::vector<std::string> values;
      for (const json& x : v) {
        if (!x.is_string()) {
          return absl::InvalidArgumentError(absl::StrCat("trace setting '", it.key(), "' must be strings"));
        }
        values.push_back(x.get<std::string>());
      }
      update[it.key()] = std::move(values);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("trace setting '", it.key(), "' must be a string, an array of strings or null"));
    }
  }
  return update;
}

void AddTraceRoutes(http::Router& r, serving::InferenceServer* s, const Restricted& rs) {
  for (const char* path : {"/v2/trace/setting", "/v2/models/{m}/trace/setting"}) {
    AddSync(r, http::Verb::get, path, ApiGroup::kTrace, rs, [s](const Request& req, const RequestContext& ctx) {
      std::string model = Param(ctx, "m");
      if (!model.empty()) {
        if (auto st = s->Config(model, ""); !st.ok()) return Error(req, st.status());
      }
      return Json(req, 200, Dump(TraceJson(s->tracer().Get(model))));
    });
    AddSync(r, http::Verb::post, path, ApiGroup::kTrace, rs, [s](const Request& req, const RequestContext& ctx) {
      std::string model = Param(ctx, "m");
      if (!model.empty()) {
        if (auto st = s->Config(model, ""); !st.ok()) return Error(req, st.status());
      }
      auto body = JsonBody(req, "trace setting request");
      if (!body.ok()) return Error(req, body.status());
      auto update = ParseTraceUpdate(*body);
      if (!update.ok()) return Error(req, update.status());
      auto updated = s->tracer().Update(model, *update);
      return updated.ok() ? Json(req, 200, Dump(TraceJson(*updated))) : Error(req, updated.status());
    });
  }
}

}  // namespace

void AddExtensionRoutes(http::Router& r, serving::InferenceServer* s, const Restricted& restricted) {
  AddSharedMemoryRoutes(r, s, restricted);
  AddLoggingRoutes(r, s, restricted);
  AddTraceRoutes(r, s, restricted);
}

}  // namespace imagen::frontends::internal
