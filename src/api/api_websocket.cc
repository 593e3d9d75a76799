// GET /api/v1/jobs/{id}/ws: a job's transitions as WebSocket text messages,
// {"event":"state"|"done","job_id","status","progress",...} — the same
// events as the SSE stream, pushed from the same StreamHub slot (no
// polling; a ping every keep-alive interval). The server hands the
// connection over through ResponseStream::TakeOver.
#include "absl/strings/str_cat.h"
#include "api/api_service.h"
#include "api/job_json.h"
#include "boost/asio/redirect_error.hpp"
#include "boost/asio/this_coro.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/websocket.hpp"
#include "common/utf8.h"

namespace imagen::api {

namespace {

namespace bh = http::beast_http;
namespace ws = boost::beast::websocket;
using http::Status;

std::string SocketEvent(const jobs::Job& j) {
  nlohmann::json data = {{"event", jobs::IsTerminal(j.state) ? "done" : "state"},
                         {"job_id", j.id},
                         {"status", jobs::JobStateName(j.state)},
                         {"progress", j.progress}};
  if (!j.error_code.empty()) {
    data["error"] = {{"code", ToValidUtf8(j.error_code)}, {"message", ToValidUtf8(j.error_message)}};
  }
  if (j.state == jobs::JobState::kSucceeded) data["result_url"] = "/api/v1/jobs/" + j.id + "/result";
  return DumpJson(data);
}

}  // namespace

boost::asio::awaitable<http::Response> ApiService::JobSocket(http::Request& req, http::RequestContext& ctx,
                                                             http::ResponseStream& stream) {
  http::Response error;
  auto caller = Authenticate(req, &error);
  if (!caller) co_return error;
  if (!ws::is_upgrade(req)) {
    co_return http::ErrorResponse(req, Status::bad_request, "websocket_upgrade_required",
                                  "this endpoint speaks WebSocket (Connection: Upgrade, Upgrade: websocket)");
  }
  std::string id = ctx.path_params["id"];
  auto slot = streams_.Open(caller->key.id, id, co_await boost::asio::this_coro::executor);
  if (!slot) {
    http::Response res = http::ErrorResponse(
        req, Status::too_many_requests, "too_many_streams",
        absl::StrCat("this key has ", options_.max_streams_per_key, " event streams open; close one first"));
    res.set(bh::field::retry_after, std::to_string(std::max(1, options_.retry_after_seconds)));
    co_return res;
  }
  auto job = OwnJob(req, *caller, id, &error);
  if (!job) co_return error;
  boost::beast::tcp_stream* tcp = stream.TakeOver();
  if (tcp == nullptr) {
    co_return http::ErrorResponse(req, Status::not_implemented, "unimplemented",
                                  "this server cannot upgrade to WebSocket; use GET /api/v1/jobs/{id}/events");
  }
  tcp->expires_never();
  ws::stream<boost::beast::tcp_stream&> socket(*tcp);
  ws::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(30);
  timeouts.idle_timeout = ws::stream_base::none();
  timeouts.keep_alive_pings = false;
  socket.set_option(timeouts);
  boost::system::error_code ec;
  auto token = boost::asio::redirect_error(boost::asio::use_awaitable, ec);
  co_await socket.async_accept(req, token);
  if (ec) co_return http::Response{};
  socket.text(true);
  co_await socket.async_write(boost::asio::buffer(SocketEvent(*job)), token);
  jobs::JobState last_state = job->state;
  double last_progress = job->progress;
  while (!ec && !jobs::IsTerminal(last_state) && !stream.stopping()) {
    bool changed = co_await slot->WaitForChange(options_.stream_keep_alive);
    if (slot->stopped() || stream.stopping()) break;
    auto now = store_->Get(id);
    if (!now.ok()) break;
    if (now->state != last_state || now->progress != last_progress) {
      last_state = now->state;
      last_progress = now->progress;
      co_await socket.async_write(boost::asio::buffer(SocketEvent(*now)), token);
    } else if (!changed) {
      co_await socket.async_ping({}, token);
    }
  }
  if (!ec) {
    ws::close_reason reason(jobs::IsTerminal(last_state) ? ws::close_code::normal : ws::close_code::going_away);
    // Bounded: a peer that never answers the close is cut off.
    tcp->expires_after(std::chrono::seconds(5));
    co_await socket.async_close(reason, token);
  }
  co_return http::Response{};
}

}  // namespace imagen::api
