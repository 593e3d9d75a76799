// Who may read /metrics, and on which listener (config metrics.require_admin,
// metrics.listen): RegisterMetrics adds the route to the router that serves
// it, optionally behind the admin Bearer key. Thread-safe once registered.
#pragma once

#include <functional>
#include <string>

#include "api/api_service.h"
#include "http/router.h"

namespace imagen::api {

struct MetricsAccess {
  // Answer 401 without a key, 403 for a key that is not an admin's.
  bool require_admin = false;
};

// Adds GET /metrics to `router` (the main one, or the router of a separate
// metrics listener), answering `render()` as the Prometheus text format.
// `auth` checks the key when access.require_admin; it must outlive `router`.
void RegisterMetrics(http::Router& router, MetricsAccess access, ApiService* auth, std::function<std::string()> render);

}  // namespace imagen::api
