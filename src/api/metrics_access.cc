#include "api/metrics_access.h"

namespace imagen::api {

void RegisterMetrics(http::Router& router, MetricsAccess access, ApiService* auth,
                     std::function<std::string()> render) {
  router.AddSync(http::Verb::get, "/metrics",
                 [access, auth, render = std::move(render)](const http::Request& req, const http::RequestContext&) {
                   if (access.require_admin) {
                     if (auto denied = auth->RequireAdmin(req, "/metrics")) return std::move(*denied);
                   }
                   return http::MakeResponse(req, http::Status::ok, render(), "text/plain; version=0.0.4");
                 });
}

}  // namespace imagen::api
