#include "api/api_service.h"

#include <chrono>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/admin_queue.h"
#include "api/image_check.h"
#include "api/job_json.h"
#include "api/multipart.h"
#include "api/url_check.h"
#include "boost/asio/async_result.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/redirect_error.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/this_coro.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "common/status_table.h"
#include "common/string_view.h"
#include "common/utf8.h"
#include "jobs/api_keys.h"
#include "jobs/crypto.h"
#include "jobs/http_client.h"

namespace imagen::api {

namespace bh = http::beast_http;
using http::Status;

namespace {

// Every message may quote client input (parameters, ids, field names) or
// stored text: it leaves as valid UTF-8.
http::Response Err(const http::Request& req, Status status, std::string_view code, std::string_view message) {
  return http::ErrorResponse(req, status, code, ToValidUtf8(message));
}

// http::StatusResponse with the message made valid UTF-8 (payloads kept).
http::Response StatusErr(const http::Request& req, const absl::Status& status) {
  if (IsValidUtf8(ToStd(status.message()))) return http::StatusResponse(req, status);
  absl::Status clean(status.code(), ToValidUtf8(ToStd(status.message())));
  status.ForEachPayload([&clean](absl::string_view url, const absl::Cord& payload) { clean.SetPayload(url, payload); });
  return http::StatusResponse(req, clean);
}

http::Response Json(const http::Request& req, Status status, const nlohmann::json& body) {
  return http::JsonResponse(req, status, DumpJson(body));
}
// The message of a failed Status, as std::string_view.
std::string_view Msg(const absl::Status& s) { return ToStd(s.message()); }

http::Response WithRetryAfter(http::Response res, int seconds) {
  res.set(bh::field::retry_after, std::to_string(std::max(1, seconds)));
  return res;
}

// "respond-async, wait=10" -> 10 seconds.
std::optional<int64_t> PreferWait(std::string_view prefer) {
  for (absl::string_view token : absl::StrSplit(ToAbsl(prefer), absl::ByAnyChar(",;"))) {
    token = absl::StripAsciiWhitespace(token);
    if (absl::StartsWithIgnoreCase(token, "wait=")) {
      int64_t n = 0;
      if (absl::SimpleAtoi(token.substr(5), &n) && n >= 0) return n;
    }
  }
  return std::nullopt;
}

// Queues a submission on the committer and resumes the awaiting coroutine on
// its own executor once the group commit answered.
template <typename Token>
auto AsyncSubmit(jobs::SubmitCommitter* committer, jobs::NewJob job, std::string_view input, Token&& token) {
  return boost::asio::async_initiate<Token, void(absl::StatusOr<jobs::CreateResult>)>(
      [committer](auto handler, jobs::NewJob job, std::string_view input) {
        auto ex = boost::asio::get_associated_executor(handler);
        auto work = boost::asio::make_work_guard(ex);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        committer->Submit(std::move(job), input,
                          [shared, work = std::move(work)](absl::StatusOr<jobs::CreateResult> r) mutable {
                            auto ex = work.get_executor();
                            boost::asio::post(ex, [shared, r = std::move(r), work = std::move(work)]() mutable {
                              std::move (*shared)(std::move(r));
                            });
                          });
      },
      token, std::move(job), input);
}

}  // namespace

ApiService::ApiService(jobs::JobStore* store, jobs::BlobStore* blobs, jobs::JobEvents* events,
                       const ops::OpRegistry* registry, ApiOptions options)
    : store_(store),
      blobs_(blobs),
      events_(events),
      registry_(registry),
      options_(std::move(options)),
      limiter_(store->clock()),
      committer_(std::make_unique<jobs::SubmitCommitter>(store, blobs)),
      streams_(events, options_.max_streams_per_key) {}

std::optional<ApiService::Caller> ApiService::Authenticate(const http::Request& req, http::Response* error) {
  auto it = req.find(bh::field::authorization);
  // The web UI's session cookie (api/session_store.h) stands for its key.
  if (it == req.end() && sessions_ != nullptr && SessionStore::HasCookie(req)) {
    auto hash = sessions_->KeyHashFor(req, error);  // 401 expired, 403 cross-origin
    return hash ? CallerForHash(req, *hash, error) : std::nullopt;
  }
  if (it == req.end()) {
    *error = Err(req, Status::unauthorized, "unauthenticated", "missing 'Authorization: Bearer <key>' header");
    error->set(bh::field::www_authenticate, "Bearer");
    return std::nullopt;
  }
  std::string_view value = it->value();
  if (value.size() < 8 || !absl::EqualsIgnoreCase(ToAbsl(value.substr(0, 7)), "Bearer ")) {
    *error = Err(req, Status::unauthorized, "unauthenticated", "Authorization must be 'Bearer <key>'");
    error->set(bh::field::www_authenticate, "Bearer");
    return std::nullopt;
  }
  std::string token(absl::StripAsciiWhitespace(ToAbsl(value.substr(7))));
  return CallerForHash(req, jobs::HashApiKey(token), error);
}

std::optional<ApiService::Caller> ApiService::CallerForHash(const http::Request& req, const std::string& hash,
                                                            http::Response* error) {
  absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&keys_mu_);
    auto it = key_cache_.find(hash);
    if (it != key_cache_.end() && it->second.second > now) return Caller{it->second.first};
  }
  auto key = store_->FindKeyByHash(hash);
  if (!key.ok()) {
    *error = StatusErr(req, key.status());
    return std::nullopt;
  }
  if (!*key) {
    *error = Err(req, Status::unauthorized, "unauthenticated", "unknown API key");
    error->set(bh::field::www_authenticate, "Bearer error=\"invalid_token\"");
    return std::nullopt;
  }
  {
    // Known keys are remembered for a second (a revoked key stops working
    // within it); unknown ones are always looked up, so a key made by
    // `imagen keys create` works at once.
    absl::MutexLock lock(&keys_mu_);
    if (key_cache_.size() > 10000) key_cache_.clear();
    key_cache_[hash] = {**key, now + absl::Seconds(1)};
  }
  return Caller{**key};
}

std::optional<http::Response> ApiService::RequireAdmin(const http::Request& req, std::string_view what) {
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) return error;
  if (!caller->key.admin) {
    return Err(req, Status::forbidden, "permission_denied", absl::StrCat(ToAbsl(what), " needs the admin key"));
  }
  return std::nullopt;
}

std::optional<jobs::Job> ApiService::OwnJob(const http::Request& req, const Caller& caller, const std::string& id,
                                            http::Response* error) {
  auto job = store_->Get(id);
  if (!job.ok()) {
    *error = absl::IsNotFound(job.status()) ? Err(req, Status::not_found, "not_found", "job '" + id + "' not found")
                                            : StatusErr(req, job.status());
    return std::nullopt;
  }
  // Another key's job is indistinguishable from a missing one.
  if (job->key_id != caller.key.id && !caller.key.admin) {
    *error = Err(req, Status::not_found, "not_found", "job '" + id + "' not found");
    return std::nullopt;
  }
  return *job;
}

http::Response ApiService::JobResponse(const http::Request& req, Status status, const jobs::Job& job) {
  std::vector<jobs::WebhookDelivery> deliveries;
  if (!job.webhook_url.empty()) {
    auto d = store_->DeliveriesForJob(job.id);
    if (d.ok()) deliveries = std::move(*d);
  }
  return Json(req, status, JobToJson(job, deliveries));
}

std::optional<http::Response> ApiService::CheckHeaders(const http::Request& head, http::RequestLimits& limits) {
  constexpr uint64_t kSmallBodyLimit = 1 << 20;
  std::string_view target = head.target();
  target = target.substr(0, target.find('?'));
  if (!target.starts_with("/api/v1/") || target == "/api/v1/operations") return std::nullopt;
  if (target == "/api/v1/session") {  // the web UI's login (api/web_ui.h) checks the key itself
    limits.body_limit = std::min<uint64_t>(limits.body_limit, kSmallBodyLimit);
    return std::nullopt;
  }
  http::Response error;
  if (!Authenticate(head, &error)) return error;
  if (!(head.method() == http::Verb::post && target.starts_with("/api/v1/images/"))) {
    limits.body_limit = std::min<uint64_t>(limits.body_limit, kSmallBodyLimit);
  }
  return std::nullopt;
}

void ApiService::Register(http::Router& router) {
  std::vector<std::string> routes;
  for (const ops::Operation* op : registry_->List()) {
    routes.push_back(op->spec().route);
    router.Add(
        http::Verb::post, "/api/v1/images/" + op->spec().route,
        [this, op](http::Request& req, http::RequestContext&, http::ResponseStream&) { return Submit(op, req); });
  }
  // The platform's public routes answer even before their operation is installed.
  for (const char* route : {"upscale", "enhance", "style/comic", "style/aged", "background/remove"}) {
    if (std::find(routes.begin(), routes.end(), route) != routes.end()) continue;
    std::string r = route;
    router.AddSync(http::Verb::post, "/api/v1/images/" + r,
                   [r](const http::Request& req, const http::RequestContext&) -> http::Response {
                     return Err(
                         req, Status::not_found, "operation_unavailable",
                         "no operation serves /api/v1/images/" + r + " in this server (see GET /api/v1/operations)");
                   });
  }
  router.AddSync(http::Verb::get, "/api/v1/operations",
                 [this](const http::Request& req, const http::RequestContext&) -> http::Response {
                   return Json(req, Status::ok, registry_->ToJson());
                 });
  router.Add(http::Verb::get, "/api/v1/jobs/{id}",
             [this](http::Request& req, http::RequestContext& ctx, http::ResponseStream&) { return GetJob(req, ctx); });
  router.AddSync(http::Verb::get, "/api/v1/jobs/{id}/result",
                 [this](const http::Request& req, const http::RequestContext& ctx) { return GetResult(req, ctx); });
  router.AddSync(http::Verb::delete_, "/api/v1/jobs/{id}",
                 [this](const http::Request& req, const http::RequestContext& ctx) { return Cancel(req, ctx); });
  router.AddSync(http::Verb::get, "/api/v1/jobs",
                 [this](const http::Request& req, const http::RequestContext& ctx) { return ListJobs(req, ctx); });
  router.Add(http::Verb::get, "/api/v1/jobs/{id}/events",
             [this](http::Request& req, http::RequestContext& ctx, http::ResponseStream& stream) {
               return Events(req, ctx, stream);
             });
  router.Add(http::Verb::get, "/api/v1/jobs/{id}/ws",
             [this](http::Request& req, http::RequestContext& ctx, http::ResponseStream& stream) {
               return JobSocket(req, ctx, stream);
             });
  router.AddSync(http::Verb::get, "/api/v1/admin/dead-letter",
                 [this](const http::Request& req, const http::RequestContext& ctx) { return ListDead(req, ctx); });
  router.AddSync(http::Verb::post, "/api/v1/admin/jobs/{id}/replay",
                 [this](const http::Request& req, const http::RequestContext& ctx) { return Replay(req, ctx); });
  RegisterAdminQueue(router, store_, [this](const http::Request& req) { return RequireAdmin(req, "the queue view"); });
}

boost::asio::awaitable<http::Response> ApiService::Submit(const ops::Operation* op, http::Request& req) {
  int64_t t0 = Clock::Real()->NowMicros();
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) co_return error;

  double rate = caller->key.rate > 0 ? caller->key.rate : options_.default_rate;
  auto decision = limiter_.Acquire(caller->key.id, rate, std::max(1.0, rate * options_.burst_seconds));
  if (!decision.allowed) {
    int secs = static_cast<int>(std::ceil(absl::ToDoubleSeconds(decision.retry_after)));
    co_return WithRetryAfter(Err(req, Status::too_many_requests, "rate_limited",
                                 absl::StrCat("rate limit of ", rate, " requests/s exceeded for this key")),
                             secs);
  }

  auto parts = ParseMultipart(req[bh::field::content_type], req.body());
  if (!parts.ok()) co_return Err(req, Status::bad_request, "malformed_multipart", Msg(parts.status()));

  std::map<std::string, std::string> params;
  const Part* image = nullptr;
  std::string webhook_url;
  int priority = 0;
  std::optional<double> deadline_seconds;
  for (const Part& p : *parts) {
    if (!IsValidUtf8(p.name)) {
      co_return Err(req, Status::bad_request, "malformed_multipart", "a field name is not valid UTF-8");
    }
    if (p.name == "image") {
      if (image != nullptr)
        co_return Err(req, Status::bad_request, "malformed_multipart", "more than one 'image' part");
      image = &p;
      continue;
    }
    std::string value(p.data);
    if (p.name != "webhook_url" && !IsValidUtf8(value)) {
      co_return Err(req, Status::bad_request, "invalid_parameter",
                    "parameter '" + p.name + "': the value is not valid UTF-8");
    }
    if (p.name == "webhook_url") {
      webhook_url = value;
    } else if (p.name == "priority") {
      if (!absl::SimpleAtoi(ToAbsl(value), &priority) || priority < -100 || priority > 100) {
        co_return Err(req, Status::unprocessable_entity, "invalid_parameter",
                      "parameter 'priority': expected an integer in [-100, 100], got '" + value + "'");
      }
    } else if (p.name == "deadline_seconds") {
      double d = 0;
      if (!absl::SimpleAtod(ToAbsl(value), &d) || !(d > 0) || d > 7 * 86400) {
        co_return Err(req, Status::unprocessable_entity, "invalid_parameter",
                      "parameter 'deadline_seconds': expected a number in (0, 604800], got '" + value + "'");
      }
      deadline_seconds = d;
    } else {
      if (params.count(p.name) > 0) {
        co_return Err(req, Status::bad_request, "malformed_multipart", "field '" + p.name + "' given twice");
      }
      params[p.name] = value;
    }
  }
  if (image == nullptr) co_return Err(req, Status::bad_request, "missing_image", "multipart field 'image' is required");

  auto values = ops::ValidateParams(op->spec().params, params);
  if (!values.ok()) co_return Err(req, Status::unprocessable_entity, "invalid_parameter", Msg(values.status()));

  auto info = CheckImage(image->data, options_.image);
  if (!info.ok()) {
    bool too_big = absl::IsOutOfRange(info.status());
    co_return Err(req, too_big ? Status::unprocessable_entity : Status::bad_request,
                  too_big ? "image_too_large" : "invalid_image", Msg(info.status()));
  }

  if (!webhook_url.empty()) {
    // Syntax first (ASCII, RFC 3986): only then may the URL be parsed,
    // stored and echoed.
    if (absl::Status syntax = CheckWebhookUrlSyntax(webhook_url); !syntax.ok()) {
      co_return Err(req, absl::IsInvalidArgument(syntax) ? Status::bad_request : Status::unprocessable_entity,
                    "invalid_webhook_url", Msg(syntax));
    }
    auto url = jobs::ParseUrl(webhook_url);
    if (!url.ok()) co_return Err(req, Status::unprocessable_entity, "invalid_webhook_url", Msg(url.status()));
    // Resolved off this I/O thread (bounded pool, deadline): a slow DNS answer never stalls other requests.
    auto target = co_await jobs::AsyncCheckTarget(jobs::TargetChecker::Default(), *url, options_.webhook_policy,
                                                  boost::asio::use_awaitable);
    if (!target.ok()) co_return Err(req, Status::unprocessable_entity, "invalid_webhook_url", Msg(target.status()));
  }

  auto depth = store_->QueueDepth();
  if (!depth.ok()) co_return StatusErr(req, depth.status());
  if (*depth >= options_.max_queue_depth) {
    co_return WithRetryAfter(Err(req, Status::service_unavailable, "queue_full",
                                 absl::StrCat("the job queue is full (", *depth, " queued); retry later")),
                             options_.retry_after_seconds);
  }

  nlohmann::json params_json = params;  // the texts as given; workers re-validate
  std::string input_sha = jobs::Sha256Hex(image->data);
  std::string idem_key;
  if (auto it = req.find("Idempotency-Key"); it != req.end()) {
    idem_key = std::string(it->value());
    if (idem_key.empty() || idem_key.size() > 255 || !IsValidUtf8(idem_key)) {
      co_return Err(req, Status::bad_request, "invalid_idempotency_key",
                    "Idempotency-Key must be 1-255 characters of valid UTF-8");
    }
  }
  std::string request_hash =
      jobs::Sha256Hex(absl::StrCat(op->spec().name, "\n", DumpJson(params_json), "\n", input_sha, "\n", webhook_url,
                                   "\n", priority, "\n", deadline_seconds ? std::to_string(*deadline_seconds) : ""));

  jobs::NewJob nj;
  nj.key_id = caller->key.id;
  nj.operation = op->spec().name;
  nj.params_json = DumpJson(params_json);
  nj.input_ref = input_sha;
  nj.input_type = info->mime_type;
  nj.priority = priority;
  nj.max_attempts = options_.max_attempts;
  absl::Duration deadline = deadline_seconds ? absl::Seconds(*deadline_seconds) : options_.default_deadline;
  nj.deadline = store_->clock()->Now() + deadline;
  nj.webhook_url = webhook_url;
  nj.idempotency_key = idem_key;
  nj.request_hash = request_hash;
  // `image->data` points into the request body, which outlives this wait.
  absl::StatusOr<jobs::CreateResult> created =
      co_await AsyncSubmit(committer_.get(), std::move(nj), image->data, boost::asio::use_awaitable);
  if (!created.ok()) {
    if (absl::IsAlreadyExists(created.status())) {
      co_return Err(req, Status::conflict, "idempotency_conflict", Msg(created.status()));
    }
    if (jobs::IsQueueQuotaError(created.status())) {
      co_return WithRetryAfter(Err(req, Status::too_many_requests, "queue_quota_exceeded", Msg(created.status())), 5);
    }
    if (jobs::IsInputStorageError(created.status())) {
      co_return WithRetryAfter(Err(req, Status::insufficient_storage, "storage_error",
                                   absl::StrCat("cannot store the upload: ", created.status().message())),
                               std::max(RetryAfterSeconds(created.status()), kDiskFullRetryAfterSeconds));
    }
    co_return StatusErr(req, created.status());
  }
  const jobs::Job job = created->job;
  if (on_submit_) on_submit_(static_cast<double>(Clock::Real()->NowMicros() - t0) / 1e6);

  if (auto wait = PreferWait(req["Prefer"]); wait && *wait > 0) {
    co_await WaitForJob(job.id, absl::Seconds(std::min(*wait, options_.max_wait_seconds)));
    auto now = store_->Get(job.id);
    if (now.ok() && jobs::IsTerminal(now->state)) {
      http::Response res = JobResponse(req, Status::ok, *now);
      res.set("Preference-Applied", "wait=" + std::to_string(*wait));
      res.set(bh::field::location, "/api/v1/jobs/" + job.id);
      co_return res;
    }
  }
  nlohmann::json body = {{"job_id", job.id}, {"status", jobs::JobStateName(job.state)}};
  http::Response res = Json(req, Status::accepted, body);
  res.set(bh::field::location, "/api/v1/jobs/" + job.id);
  co_return res;
}

boost::asio::awaitable<void> ApiService::WaitForJob(const std::string& id, absl::Duration wait) {
  auto ex = co_await boost::asio::this_coro::executor;
  auto timer = std::make_shared<boost::asio::steady_timer>(ex);
  // A change of the job moves the timer's expiry to the past: that ends a
  // pending wait at once, and makes the next one return at once. It runs on
  // this coroutine's executor (the connection's strand), so never between
  // the check below and the wait.
  uint64_t watch = events_->Watch(id, [ex, timer] {
    boost::asio::post(ex, [timer] { timer->expires_at(boost::asio::steady_timer::time_point::min()); });
  });
  absl::Time deadline = absl::Now() + wait;
  for (absl::Time now = absl::Now(); now < deadline; now = absl::Now()) {
    auto snap = events_->Get(id);
    if (snap && jobs::IsTerminal(snap->state)) break;
    timer->expires_after(absl::ToChronoNanoseconds(std::min(deadline - now, absl::Seconds(1))));
    boost::system::error_code ec;
    co_await timer->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
  events_->Unwatch(id, watch);
}

boost::asio::awaitable<http::Response> ApiService::GetJob(http::Request& req, http::RequestContext& ctx) {
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) co_return error;
  auto job = OwnJob(req, *caller, ctx.path_params["id"], &error);
  if (!job) co_return error;
  if (auto wait = PreferWait(req["Prefer"]); wait && *wait > 0 && !jobs::IsTerminal(job->state)) {
    co_await WaitForJob(job->id, absl::Seconds(std::min(*wait, options_.max_wait_seconds)));
    auto again = store_->Get(job->id);
    if (again.ok()) job = *again;
  }
  co_return JobResponse(req, Status::ok, *job);
}

http::Response ApiService::GetResult(const http::Request& req, const http::RequestContext& ctx) {
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) return error;
  auto job = OwnJob(req, *caller, ctx.path_params.at("id"), &error);
  if (!job) return error;
  if (job->state != jobs::JobState::kSucceeded) {
    std::string msg = absl::StrCat("job ", job->id, " is ", jobs::JobStateName(job->state), "; no result");
    if (!job->error_code.empty()) absl::StrAppend(&msg, " (", job->error_code, ": ", job->error_message, ")");
    return Err(req, Status::conflict, "result_not_available", msg);
  }
  auto bytes = blobs_->GetResult(job->result_ref);
  if (!bytes.ok()) {
    return Err(req, Status::gone, "result_gone",
               absl::StrCat("the result is no longer stored: ", bytes.status().message()));
  }
  std::string type = job->result_type.empty() ? "application/octet-stream" : job->result_type;
  http::Response res = http::MakeResponse(req, Status::ok, std::move(*bytes), type);
  res.set(bh::field::cache_control, "private, max-age=3600");
  return res;
}

http::Response ApiService::Cancel(const http::Request& req, const http::RequestContext& ctx) {
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) return error;
  auto job = OwnJob(req, *caller, ctx.path_params.at("id"), &error);
  if (!job) return error;
  auto after = store_->Cancel(job->id);
  if (!after.ok()) return StatusErr(req, after.status());
  return JobResponse(req, after->state == jobs::JobState::kRunning ? Status::accepted : Status::ok, *after);
}

http::Response ApiService::ListJobs(const http::Request& req, const http::RequestContext& ctx) {
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) return error;
  std::optional<jobs::JobState> state;
  if (auto it = ctx.query.find("status"); it != ctx.query.end() && !it->second.empty()) {
    auto s = jobs::ParseJobState(it->second);
    if (!s.ok()) return Err(req, Status::bad_request, "invalid_argument", Msg(s.status()));
    state = *s;
  }
  int limit = 50;
  if (auto it = ctx.query.find("limit"); it != ctx.query.end()) {
    if (!absl::SimpleAtoi(ToAbsl(it->second), &limit) || limit < 1 || limit > options_.max_list_limit) {
      return Err(req, Status::bad_request, "invalid_argument",
                 absl::StrCat("limit must be an integer in [1, ", options_.max_list_limit, "]"));
    }
  }
  int64_t cursor = 0;
  if (auto it = ctx.query.find("cursor"); it != ctx.query.end() && !it->second.empty()) {
    if (!absl::SimpleAtoi(ToAbsl(it->second), &cursor) || cursor < 0) {
      return Err(req, Status::bad_request, "invalid_argument", "cursor must be a value from next_cursor");
    }
  }
  auto jobs = store_->List(caller->key.id, state, limit + 1, cursor);
  if (!jobs.ok()) return StatusErr(req, jobs.status());
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < static_cast<int>(jobs->size()) && i < limit; ++i) list.push_back(JobToJson((*jobs)[i]));
  nlohmann::json body = {{"jobs", list}, {"next_cursor", nullptr}};
  if (static_cast<int>(jobs->size()) > limit) body["next_cursor"] = std::to_string((*jobs)[limit - 1].seq);
  return Json(req, Status::ok, body);
}

namespace {
std::string SseEvent(const jobs::Job& j) {
  nlohmann::json data = {{"job_id", j.id}, {"status", jobs::JobStateName(j.state)}, {"progress", j.progress}};
  if (!j.error_code.empty()) {
    data["error"] = {{"code", ToValidUtf8(j.error_code)}, {"message", ToValidUtf8(j.error_message)}};
  }
  if (j.state == jobs::JobState::kSucceeded) data["result_url"] = "/api/v1/jobs/" + j.id + "/result";
  return absl::StrCat("event: ", jobs::IsTerminal(j.state) ? "done" : "state", "\ndata: ", DumpJson(data), "\n\n");
}
}  // namespace

boost::asio::awaitable<http::Response> ApiService::Events(http::Request& req, http::RequestContext& ctx,
                                                          http::ResponseStream& stream) {
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) co_return error;
  std::string id = ctx.path_params["id"];
  // The slot watches the job before it is read, so no change is missed.
  auto slot = streams_.Open(caller->key.id, id, co_await boost::asio::this_coro::executor);
  if (!slot) {
    co_return WithRetryAfter(
        Err(req, Status::too_many_requests, "too_many_streams",
            absl::StrCat("this key has ", options_.max_streams_per_key, " event streams open; close one first")),
        options_.retry_after_seconds);
  }
  auto job = OwnJob(req, *caller, id, &error);
  if (!job) co_return error;
  http::Response head{Status::ok, req.version()};
  head.set(bh::field::content_type, "text/event-stream");
  head.set(bh::field::cache_control, "no-cache");
  if (!co_await stream.Begin(std::move(head))) co_return http::Response{};
  if (!co_await stream.Write(SseEvent(*job))) co_return http::Response{};
  jobs::JobState last_state = job->state;
  double last_progress = job->progress;
  while (!jobs::IsTerminal(last_state) && !stream.stopping()) {
    // Woken only by a change of this job, the keep-alive interval or
    // shutdown. The store is re-read on each wakeup, so a change made by
    // another process shows at the next keep-alive at the latest.
    bool changed = co_await slot->WaitForChange(options_.stream_keep_alive);
    if (slot->stopped() || stream.stopping()) break;
    auto now = store_->Get(id);
    if (!now.ok()) break;
    if (now->state != last_state || now->progress != last_progress) {
      last_state = now->state;
      last_progress = now->progress;
      if (!co_await stream.Write(SseEvent(*now))) break;
    } else if (!changed) {
      if (!co_await stream.Write(": keep-alive\n\n")) break;
    }
  }
  co_return http::Response{};
}

http::Response ApiService::ListDead(const http::Request& req, const http::RequestContext& ctx) {
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) return error;
  if (!caller->key.admin)
    return Err(req, Status::forbidden, "permission_denied", "the dead-letter queue is admin-only");
  int limit = 100;
  if (auto it = ctx.query.find("limit"); it != ctx.query.end()) {
    if (!absl::SimpleAtoi(ToAbsl(it->second), &limit) || limit < 1 || limit > 1000) {
      return Err(req, Status::bad_request, "invalid_argument", "limit must be an integer in [1, 1000]");
    }
  }
  auto dead = store_->ListDead(limit);
  if (!dead.ok()) return StatusErr(req, dead.status());
  nlohmann::json list = nlohmann::json::array();
  for (const auto& j : *dead) {
    nlohmann::json o = JobToJson(j);
    o["key_id"] = j.key_id;
    list.push_back(o);
  }
  return Json(req, Status::ok, nlohmann::json{{"jobs", list}});
}

http::Response ApiService::Replay(const http::Request& req, const http::RequestContext& ctx) {
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) return error;
  if (!caller->key.admin) return Err(req, Status::forbidden, "permission_denied", "replay is admin-only");
  auto job = store_->Replay(ctx.path_params.at("id"));
  if (!job.ok()) {
    if (absl::IsFailedPrecondition(job.status())) return Err(req, Status::conflict, "not_dead", Msg(job.status()));
    return StatusErr(req, job.status());
  }
  return JobResponse(req, Status::ok, *job);
}

}  // namespace imagen::api
