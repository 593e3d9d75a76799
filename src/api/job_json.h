// JSON views of jobs for the REST API (GET /jobs/{id}, lists, SSE events).
// Every string taken from a job is made valid UTF-8 (the store may hold
// client bytes from before validation existed), so building and dumping
// these never throws. Pure functions; thread-safe.
#pragma once

#include <vector>

#include "jobs/job.h"
#include "jobs/job_store.h"
#include "nlohmann/json.hpp"

namespace imagen::api {

std::string IsoTime(absl::Time t);
// `j` serialised compactly; invalid UTF-8 becomes U+FFFD instead of throwing
// (nlohmann's default throws type_error.316).
std::string DumpJson(const nlohmann::json& j);
nlohmann::json JobToJson(const jobs::Job& job);
nlohmann::json JobToJson(const jobs::Job& job, const std::vector<jobs::WebhookDelivery>& deliveries);

}  // namespace imagen::api
