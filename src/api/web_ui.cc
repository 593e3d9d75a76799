#include "api/web_ui.h"

#include "absl/strings/match.h"
#include "api/web_assets.h"
#include "common/string_view.h"
#include "jobs/api_keys.h"
#include "nlohmann/json.hpp"

namespace imagen::api {

namespace bh = http::beast_http;

namespace {

constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const WebAsset* FindAsset(std::string_view name) {
  for (const WebAsset& a : WebAssets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

http::Response ServeAsset(const http::Request& req, const WebAsset& a, bool immutable) {
  http::Response res{http::Status::ok, req.version()};
  res.set(bh::field::content_type, a.content_type);
  res.set(bh::field::etag, a.etag);
  res.set(bh::field::cache_control, immutable ? "public, max-age=31536000, immutable" : "no-cache");
  SetUiSecurityHeaders(res);
  if (auto inm = req.find(bh::field::if_none_match); inm != req.end() && inm->value() == a.etag) {
    res.result(http::Status::not_modified);
  } else if (req.method() != http::Verb::head) {
    res.body() = std::string(a.data);
  }
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  if (req.method() == http::Verb::head) res.content_length(a.data.size());
  return res;
}

// Secure when configured, or when a TLS-terminating proxy says the browser
// spoke https (trusting the header can only make the cookie stricter).
bool SecureCookie(const http::Request& req, const WebUiOptions& options) {
  auto it = req.find("X-Forwarded-Proto");
  return options.secure_cookie || (it != req.end() && absl::EqualsIgnoreCase(ToAbsl(it->value()), "https"));
}

std::string Cookie(std::string_view value, bool secure, bool clear) {
  std::string c = std::string(kSessionCookie) + "=" + std::string(value) + "; HttpOnly; SameSite=Strict; Path=/";
  if (secure) c += "; Secure";
  if (clear) c += "; Max-Age=0";
  return c;
}

nlohmann::json KeyJson(const jobs::ApiKey& key);

http::Response Login(const http::Request& req, SessionStore* sessions, jobs::JobStore* store,
                     const WebUiOptions& options) {
  // A login form posted from another site must not plant a session.
  if (req.find(bh::field::origin) != req.end() && !SessionStore::OriginAllowed(req)) {
    return http::ErrorResponse(req, http::Status::forbidden, "cross_origin", "the Origin is not this server");
  }
  nlohmann::json body = nlohmann::json::parse(req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("api_key") || !body["api_key"].is_string()) {
    return http::ErrorResponse(req, http::Status::bad_request, "invalid_argument",
                               "expected a JSON body {\"api_key\": \"...\"}");
  }
  std::string hash = jobs::HashApiKey(body["api_key"].get<std::string>());
  auto key = store->FindKeyByHash(hash);
  if (!key.ok()) return http::StatusResponse(req, key.status());
  if (!*key) return http::ErrorResponse(req, http::Status::unauthorized, "unauthenticated", "unknown API key");
  auto id = sessions->Create(hash, absl::Now());
  if (!id.ok()) return http::StatusResponse(req, id.status());
  nlohmann::json out = {{"key", KeyJson(**key)}};
  http::Response res = http::JsonResponse(req, http::Status::ok, out.dump());
  res.set(bh::field::set_cookie, Cookie(*id, SecureCookie(req, options), false));
  res.set(bh::field::cache_control, "no-store");
  return res;
}

nlohmann::json KeyJson(const jobs::ApiKey& key) { return {{"id", key.id}, {"name", key.name}, {"admin", key.admin}}; }

http::Response Whoami(const http::Request& req, SessionStore* sessions, jobs::JobStore* store,
                      const WebUiOptions& options) {
  http::Response error;
  auto hash = sessions->KeyHashFor(req, &error);
  if (!hash) return error;
  auto key = store->FindKeyByHash(*hash);
  if (!key.ok()) return http::StatusResponse(req, key.status());
  if (!*key) return http::ErrorResponse(req, http::Status::unauthorized, "unauthenticated", "the key was revoked");
  nlohmann::json out = {{"key", KeyJson(**key)},
                        {"limits",
                         {{"max_pixels", options.image.max_pixels},
                          {"max_side", options.image.max_side},
                          {"formats", options.image.formats},
                          {"max_upload_bytes", options.max_upload_bytes}}}};
  http::Response res = http::JsonResponse(req, http::Status::ok, out.dump());
  res.set(bh::field::cache_control, "no-store");
  return res;
}

http::Response Logout(const http::Request& req, SessionStore* sessions, const WebUiOptions& options) {
  if (!SessionStore::OriginAllowed(req)) {
    return http::ErrorResponse(req, http::Status::forbidden, "cross_origin",
                               "a request authenticated by the session cookie must carry this server's Origin");
  }
  if (std::string id = SessionStore::CookieValue(req); !id.empty()) sessions->Remove(id);
  http::Response res{http::Status::no_content, req.version()};
  res.set(bh::field::set_cookie, Cookie("", SecureCookie(req, options), true));
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

}  // namespace

void SetUiSecurityHeaders(http::Response& res) {
  res.set("Content-Security-Policy", kCsp);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
}

void RegisterWebUi(http::Router& router, SessionStore* sessions, jobs::JobStore* store, WebUiOptions options) {
  auto index = [](const http::Request& req, const http::RequestContext&) {
    const WebAsset* a = FindAsset("index.html");
    if (a == nullptr) return http::ErrorResponse(req, http::Status::not_found, "not_found", "no web UI built in");
    return ServeAsset(req, *a, false);
  };
  router.AddSync(http::Verb::get, "/", index);
  router.AddSync(http::Verb::head, "/", index);
  auto asset = [](const http::Request& req, const http::RequestContext& ctx) {
    auto it = ctx.path_params.find("name");
    const WebAsset* a = it == ctx.path_params.end() ? nullptr : FindAsset(it->second);
    if (a == nullptr || a->name == "index.html") {
      return http::ErrorResponse(req, http::Status::not_found, "not_found", "no such UI file");
    }
    return ServeAsset(req, *a, true);
  };
  router.AddSync(http::Verb::get, "/ui/{name}", asset);
  router.AddSync(http::Verb::head, "/ui/{name}", asset);
  router.AddSync(http::Verb::post, "/api/v1/session",
                 [sessions, store, options](const http::Request& req, const http::RequestContext&) {
                   return Login(req, sessions, store, options);
                 });
  router.AddSync(http::Verb::get, "/api/v1/session",
                 [sessions, store, options](const http::Request& req, const http::RequestContext&) {
                   return Whoami(req, sessions, store, options);
                 });
  router.AddSync(http::Verb::delete_, "/api/v1/session",
                 [sessions, options](const http::Request& req, const http::RequestContext&) {
                   return Logout(req, sessions, options);
                 });
}

}  // namespace imagen::api
