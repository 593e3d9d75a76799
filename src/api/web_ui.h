// The browser UI: `/` (index.html) and `/ui/<hashed name>` from the files
// embedded at build time (web_assets.h), with a strict CSP and cache headers,
// plus the login endpoints that trade an API key for a session cookie:
//   POST   /api/v1/session  {"api_key": "..."} -> 200, Set-Cookie imagen_session
//   GET    /api/v1/session  -> 200 the session's key and the upload limits
//                              (the page checks an image before sending it), or 401
//   DELETE /api/v1/session  -> 204, the session removed, the cookie cleared
// The REST API accepts the cookie through ApiService::SetSessionStore.
// Register once before serving; handlers are thread-safe.
#pragma once

#include "api/image_check.h"
#include "api/session_store.h"
#include "http/router.h"
#include "jobs/job_store.h"

namespace imagen::api {

struct WebUiOptions {
  // Adds `Secure` to the cookie (the server, or a proxy before it, speaks
  // TLS); it is also added for a request with `X-Forwarded-Proto: https`.
  bool secure_cookie = false;
  ImageLimits image;              // reported to the page
  uint64_t max_upload_bytes = 0;  // server.body_limit_bytes; 0: not reported
};

void RegisterWebUi(http::Router& router, SessionStore* sessions, jobs::JobStore* store, WebUiOptions options = {});

// The headers every UI response carries (CSP, nosniff, no-referrer, framing).
void SetUiSecurityHeaders(http::Response& res);

}  // namespace imagen::api
