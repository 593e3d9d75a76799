// The public REST API under /api/v1: job submission (multipart upload per
// operation route), job status, result download, cancel, listing, SSE events,
// the operations catalogue and the admin dead-letter endpoints. Handlers do
// one or two short store calls each and never wait on a worker, except
// `Prefer: wait=N` and SSE, which wait for the job's change notifications
// (JobEvents) without blocking the I/O thread and without polling.
// Register once before serving; handlers are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "api/api_options.h"
#include "api/session_store.h"
#include "api/stream_hub.h"
#include "http/router.h"
#include "http/server.h"
#include "jobs/blob_store.h"
#include "jobs/job_events.h"
#include "jobs/job_store.h"
#include "jobs/rate_limiter.h"
#include "jobs/submit_committer.h"
#include "ops/registry.h"

namespace imagen::api {

class ApiService {
 public:
  ApiService(jobs::JobStore* store, jobs::BlobStore* blobs, jobs::JobEvents* events, const ops::OpRegistry* registry,
             ApiOptions options);

  // Adds every /api/v1 route to `router`.
  void Register(http::Router& router);
  // The server's header-stage check for /api/v1 (http::HeaderCheck): the
  // key is authenticated from the head, so an unauthenticated upload is
  // answered 401 before any body byte is read, and routes that take no
  // upload get a small body limit. Thread-safe; does not block long (a
  // cached key lookup).
  std::optional<http::Response> CheckHeaders(const http::Request& head, http::RequestLimits& limits);
  // Called on each accepted submission with the submit handler's own time.
  void SetSubmitObserver(std::function<void(double seconds)> fn) { on_submit_ = std::move(fn); }
  // Also accept the web UI's session cookie (not owned; outlives this).
  void SetSessionStore(SessionStore* sessions) { sessions_ = sessions; }
  // nullopt when `req` carries the admin key; else 401 (no or unknown key)
  // or 403 naming `what`. For routes outside /api/v1 (e.g. /metrics).
  std::optional<http::Response> RequireAdmin(const http::Request& req, std::string_view what);
  // Ends every open event stream (call before http::Server::Stop, whose
  // grace would otherwise wait for them up to a keep-alive interval).
  void StopStreams() { streams_.StopAll(); }
  // Open streams, refusals and stream wakeups (the test seam for "idle
  // streams do not poll").
  StreamStats stream_stats() const { return streams_.stats(); }

 private:
  struct Caller {
    jobs::ApiKey key;
  };
  // 401 response in `error` when the bearer key is missing or unknown.
  std::optional<Caller> Authenticate(const http::Request& req, http::Response* error);
  // The caller whose key has sha256 `hash` (cached for a second), or a 401.
  std::optional<Caller> CallerForHash(const http::Request& req, const std::string& hash, http::Response* error);
  // The caller's job, or a 404 response (also for another key's job).
  std::optional<jobs::Job> OwnJob(const http::Request& req, const Caller& caller, const std::string& id,
                                  http::Response* error);

  boost::asio::awaitable<http::Response> Submit(const ops::Operation* op, http::Request& req);
  boost::asio::awaitable<http::Response> GetJob(http::Request& req, http::RequestContext& ctx);
  http::Response GetResult(const http::Request& req, const http::RequestContext& ctx);
  http::Response Cancel(const http::Request& req, const http::RequestContext& ctx);
  http::Response ListJobs(const http::Request& req, const http::RequestContext& ctx);
  boost::asio::awaitable<http::Response> Events(http::Request& req, http::RequestContext& ctx,
                                                http::ResponseStream& stream);
  // GET /api/v1/jobs/{id}/ws: the events of Events() as WebSocket text
  // messages (api_websocket.cc).
  boost::asio::awaitable<http::Response> JobSocket(http::Request& req, http::RequestContext& ctx,
                                                   http::ResponseStream& stream);
  http::Response ListDead(const http::Request& req, const http::RequestContext& ctx);
  http::Response Replay(const http::Request& req, const http::RequestContext& ctx);
  // Waits (woken by the event hub) until `id` is terminal or `wait` passed.
  boost::asio::awaitable<void> WaitForJob(const std::string& id, absl::Duration wait);
  http::Response JobResponse(const http::Request& req, http::Status status, const jobs::Job& job);

  jobs::JobStore* store_;
  jobs::BlobStore* blobs_;
  jobs::JobEvents* events_;
  const ops::OpRegistry* registry_;
  ApiOptions options_;
  jobs::RateLimiter limiter_;
  // Submissions wait here (without blocking an I/O thread) for the group
  // commit that makes their row and input durable.
  std::unique_ptr<jobs::SubmitCommitter> committer_;
  std::function<void(double)> on_submit_;
  SessionStore* sessions_ = nullptr;
  StreamHub streams_;
  absl::Mutex keys_mu_;
  // sha256 of a bearer token -> (key, cached until)
  absl::flat_hash_map<std::string, std::pair<jobs::ApiKey, absl::Time>> key_cache_ ABSL_GUARDED_BY(keys_mu_);
};

}  // namespace imagen::api
