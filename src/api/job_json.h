// JSON views of jobs for the REST API (GET /jobs/{id}, lists, SSE events).
// Pure functions; thread-safe.
#pragma once

#include <vector>

#include "jobs/job.h"
#include "jobs/job_store.h"
#include "nlohmann/json.hpp"

namespace imagen::api {

std::string IsoTime(absl::Time t);
nlohmann::json JobToJson(const jobs::Job& job);
nlohmann::json JobToJson(const jobs::Job& job, const std::vector<jobs::WebhookDelivery>& deliveries);

}  // namespace imagen::api
