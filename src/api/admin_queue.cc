#include "api/admin_queue.h"

#include <utility>

#include "nlohmann/json.hpp"

namespace imagen::api {

namespace bh = http::beast_http;

http::Response AdminQueueResponse(const http::Request& req, jobs::JobStore* store) {
  auto by_state = store->CountByState();
  if (!by_state.ok()) return http::StatusResponse(req, by_state.status());
  auto by_op = store->CountByStateAndOperation();
  if (!by_op.ok()) return http::StatusResponse(req, by_op.status());
  nlohmann::json out = {{"by_state", *by_state}, {"by_operation", nlohmann::json::object()}};
  for (const auto& [op, counts] : *by_op) out["by_operation"][op] = counts;
  http::Response res = http::JsonResponse(req, http::Status::ok, out.dump());
  res.set(bh::field::cache_control, "no-store");
  return res;
}

void RegisterAdminQueue(http::Router& router, jobs::JobStore* store, RequireAdminFn require_admin) {
  router.AddSync(
      http::Verb::get, "/api/v1/admin/queue",
      [store, require_admin = std::move(require_admin)](const http::Request& req, const http::RequestContext&) {
        if (auto refused = require_admin(req)) return *std::move(refused);
        return AdminQueueResponse(req, store);
      });
}

}  // namespace imagen::api
