// Pieces the KServe HTTP route files share (http_frontend.cc, the core
// routes; http_extensions.cc, the shared-memory, trace and logging routes):
// KServe-shaped responses, and route registration that turns exceptions into
// KServe errors and enforces the restricted protocol groups. Internal to
// src/frontends. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "frontends/restricted_api.h"
#include "http/router.h"
#include "nlohmann/json.hpp"
#include "serving/server.h"

namespace imagen::frontends::internal {

using Restricted = std::shared_ptr<const RestrictedApis>;

http::Response Json(const http::Request& req, unsigned code, std::string body);
// {"error": message} with the status's KServe HTTP code (403 for
// PermissionDenied).
http::Response Error(const http::Request& req, const absl::Status& s);
std::string Param(const http::RequestContext& ctx, const char* key);
// The request body as a JSON object; an empty body is `{}`.
absl::StatusOr<nlohmann::json> JsonBody(const http::Request& req, std::string_view what);

// Routes of protocol group `group`: refused (403) when the group is
// restricted and the request lacks its header; exceptions become errors.
void AddSync(http::Router& r, http::Verb verb, std::string pattern, ApiGroup group, const Restricted& restricted,
             http::SyncHandler fn);
void Add(http::Router& r, http::Verb verb, std::string pattern, ApiGroup group, const Restricted& restricted,
         http::Handler fn);

// /v2/systemsharedmemory/..., /v2/cudasharedmemory/... (refused: CPU only),
// /v2/logging, /v2/trace/setting, /v2/models/{m}[/versions/{v}]/trace/setting.
void AddExtensionRoutes(http::Router& r, serving::InferenceServer* s, const Restricted& restricted);

}  // namespace imagen::frontends::internal
