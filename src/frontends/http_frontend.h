// KServe v2 HTTP/REST routes as Triton serves them (/v2/health/*, /v2,
// /v2/models/{m}[/versions/{v}][/ready|/config|/stats|/infer],
// /v2/repository/..., /v2/systemsharedmemory/..., /v2/trace/setting,
// /v2/logging), gzip/deflate bodies, errors as {"error": "..."} with
// Triton's status codes; and the metrics route (/metrics). Thin: parse, call
// one InferenceServer API, format. Inference does not block I/O threads.
// Build once; the routers are then thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "frontends/restricted_api.h"
#include "http/router.h"
#include "http/server.h"
#include "serving/server.h"

namespace imagen::frontends {

// `body_limit`: the largest (decompressed) request body accepted;
// `restricted`: protocol groups behind a header (--http-restricted-api).
// Also the system shared-memory, trace and logging extensions.
http::Router KServeHttpRouter(serving::InferenceServer* server, uint64_t body_limit = 64ull << 20,
                              RestrictedApis restricted = {});
// Makes a KServe port answer every error as {"error":"<message>"}: the
// server's own (400, 413, 431, 503) and unknown routes / methods, which are
// rejected from the request head (before the body is read) by `router`.
void UseKServeErrors(http::ServerOptions& options, std::shared_ptr<const http::Router> router);
http::Router MetricsRouter(serving::InferenceServer* server);

}  // namespace imagen::frontends
