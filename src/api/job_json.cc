#include "api/job_json.h"

#include "common/utf8.h"

namespace imagen::api {

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string IsoTime(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()); }

static nlohmann::json OptTime(const std::optional<absl::Time>& t) {
  if (!t) return nullptr;
  return IsoTime(*t);
}

nlohmann::json JobToJson(const jobs::Job& job) {
  std::string base = "/api/v1/jobs/" + job.id;
  nlohmann::json params = nlohmann::json::parse(ToValidUtf8(job.params_json), nullptr, false);
  if (params.is_discarded()) params = nlohmann::json::object();
  nlohmann::json j = {
      {"job_id", job.id},
      {"status", jobs::JobStateName(job.state)},
      {"operation", ToValidUtf8(job.operation)},
      {"parameters", params},
      {"priority", job.priority},
      {"attempts", job.attempts},
      {"max_attempts", job.max_attempts},
      {"progress", job.progress},
      {"created_at", IsoTime(job.created_at)},
      {"updated_at", IsoTime(job.updated_at)},
      {"started_at", OptTime(job.started_at)},
      {"finished_at", OptTime(job.finished_at)},
      {"deadline_at", OptTime(job.deadline_at)},
      {"cancel_requested", job.cancel_requested},
      {"input", {{"sha256", ToValidUtf8(job.input_ref)}, {"content_type", ToValidUtf8(job.input_type)}}},
      {"links", {{"self", base}, {"events", base + "/events"}}}};
  if (job.state == jobs::JobState::kQueued && job.attempts > 0) j["next_attempt_at"] = IsoTime(job.run_after);
  if (!job.error_code.empty()) {
    j["error"] = {{"code", ToValidUtf8(job.error_code)}, {"message", ToValidUtf8(job.error_message)}};
  } else {
    j["error"] = nullptr;
  }
  if (job.state == jobs::JobState::kSucceeded) {
    j["links"]["result"] = base + "/result";
    j["result"] = {{"url", base + "/result"}, {"content_type", ToValidUtf8(job.result_type)}};
  }
  return j;
}

nlohmann::json JobToJson(const jobs::Job& job, const std::vector<jobs::WebhookDelivery>& deliveries) {
  nlohmann::json j = JobToJson(job);
  if (!job.webhook_url.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : deliveries) {
      list.push_back(
          {{"id", ToValidUtf8(d.msg_id)},
           {"event", ToValidUtf8(d.event)},
           {"state", jobs::DeliveryStateName(d.state)},
           {"attempts", d.attempts},
           {"last_status", d.last_status},
           {"last_error", ToValidUtf8(d.last_error)},
           {"next_attempt_at", d.state == jobs::DeliveryState::kPending ? nlohmann::json(IsoTime(d.next_attempt_at))
                                                                        : nlohmann::json(nullptr)}});
    }
    j["webhook"] = {{"url", ToValidUtf8(job.webhook_url)}, {"deliveries", list}};
  }
  return j;
}

}  // namespace imagen::api
