// GET /api/v1/admin/queue (admin key or an admin's session): the queue depth
//   {"by_state": {"queued": n, "running": n, ...},
//    "by_operation": {"<op>": {"queued": n, "running": n, ...}, ...}}
// for the web UI's admin view. Every state is present (0 when none). Other
// keys get what `require_admin` answers (401 / 403, as the other admin routes).
#pragma once

#include <functional>
#include <optional>

#include "http/router.h"
#include "jobs/job_store.h"

namespace imagen::api {

// nullopt for an admin caller, else the refusal to send.
using RequireAdminFn = std::function<std::optional<http::Response>(const http::Request&)>;

void RegisterAdminQueue(http::Router& router, jobs::JobStore* store, RequireAdminFn require_admin);

// The body above as a 200 response (or the store's error); no auth check.
http::Response AdminQueueResponse(const http::Request& req, jobs::JobStore* store);

}  // namespace imagen::api
