// JobStore: the webhook outbox (payloads, enqueue with a terminal state,
// due deliveries, outcomes).
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "jobs/crypto.h"
#include "jobs/job_store.h"
#include "jobs/job_store_rows.h"
#include "nlohmann/json.hpp"

namespace imagen::jobs {

using store_internal::FromUs;
using store_internal::kDeliveryColumns;
using store_internal::RowToDelivery;

const char* DeliveryStateName(DeliveryState s) {
  switch (s) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kFailed:
      return "failed";
    case DeliveryState::kGone:
      return "gone";
  }
  return "unknown";
}

std::string EventTypeFor(JobState state) {
  switch (state) {
    case JobState::kSucceeded:
      return "job.succeeded";
    case JobState::kCanceled:
      return "job.canceled";
    default:
      return "job.failed";
  }
}

std::string WebhookPayload(const Job& job, absl::Time now) {
  // Every text is made valid UTF-8 first (an error message may quote raw
  // bytes of an upload), and the dump replaces anything left, so building the
  // payload cannot throw on a worker thread.
  try {
    nlohmann::json data = {{"job_id", ToValidUtf8(job.id)},
                           {"status", JobStateName(job.state)},
                           {"operation", ToValidUtf8(job.operation)},
                           {"attempts", job.attempts}};
    if (job.state == JobState::kSucceeded) {
      data["result_url"] = ToValidUtf8("/api/v1/jobs/" + job.id + "/result");
      data["result_type"] = ToValidUtf8(job.result_type);
    }
    if (!job.error_code.empty()) {
      data["error"] = {{"code", ToValidUtf8(job.error_code)}, {"message", ToValidUtf8(job.error_message)}};
    }
    nlohmann::json body = {{"type", EventTypeFor(job.state)},
                           {"timestamp", absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone())},
                           {"data", data}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {
    spdlog::error("webhook payload of job {}: {}", ToValidUtf8(job.id), e.what());
    return absl::StrCat(R"({"type":")", EventTypeFor(job.state), R"(","data":{"status":")", JobStateName(job.state),
                        R"("}})");
  }
}

absl::Status JobStore::EnqueueWebhookLocked(const Job& job) {
  if (job.webhook_url.empty() || !IsTerminal(job.state)) return absl::OkStatus();
  int64_t now = NowUs();
  ASSIGN_OR_RETURN(auto ins, db_->Prepare("INSERT INTO webhook_deliveries(msg_id,job_id,key_id,event,url,payload,"
                                          "state,next_attempt_at,created_at) VALUES(?,?,?,?,?,?,'pending',?,?)"));
  ins.Bind(1, RandomHexId("msg_", 12))
      .Bind(2, job.id)
      .Bind(3, job.key_id)
      .Bind(4, EventTypeFor(job.state))
      .Bind(5, job.webhook_url)
      .Bind(6, WebhookPayload(job, clock_->Now()))
      .Bind(7, now)
      .Bind(8, now);
  return ins.Run();
}

absl::StatusOr<std::vector<WebhookDelivery>> JobStore::DueDeliveries(int limit,
                                                                     const std::vector<std::string>& skip_keys) {
  absl::MutexLock lock(&rmu_);
  std::string skip;
  for (size_t i = 0; i < skip_keys.size(); ++i) absl::StrAppend(&skip, i == 0 ? "" : ",", "?", i + 3);
  ASSIGN_OR_RETURN(
      auto q,
      rdb_->Prepare(absl::StrCat(
          "SELECT ", kDeliveryColumns, " FROM webhook_deliveries WHERE state='pending' AND next_attempt_at<=?1",
          skip.empty() ? "" : absl::StrCat(" AND key_id NOT IN (", skip, ")"), " ORDER BY next_attempt_at LIMIT ?2")));
  q.Bind(1, NowUs()).Bind(2, limit);
  for (size_t i = 0; i < skip_keys.size(); ++i) q.Bind(static_cast<int>(i + 3), skip_keys[i]);
  std::vector<WebhookDelivery> out;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { out.push_back(RowToDelivery(r)); }));
  // Never announce an event whose commit could still be undone by power loss.
  RETURN_IF_ERROR(wal_->SyncAll());
  return out;
}

absl::Status JobStore::RecordDelivery(int64_t id, DeliveryState state, int attempts, absl::Time next_attempt_at,
                                      int last_status, const std::string& last_error) {
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE webhook_deliveries SET state=?, attempts=?, next_attempt_at=?, "
                                           "last_status=?, last_error=? WHERE id=?"));
    RETURN_IF_ERROR(up.Bind(1, DeliveryStateName(state))
                        .Bind(2, attempts)
                        .Bind(3, absl::ToUnixMicros(next_attempt_at))
                        .Bind(4, last_status)
                        .Bind(5, ToValidUtf8(last_error))
                        .Bind(6, id)
                        .Run());
    ticket = wal_->Committed();
  }
  return wal_->SyncThrough(ticket);
}

absl::StatusOr<std::vector<WebhookDelivery>> JobStore::DeliveriesForJob(const std::string& job_id) {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare(absl::StrCat("SELECT ", kDeliveryColumns,
                                                      " FROM webhook_deliveries WHERE job_id=? ORDER BY id")));
  q.Bind(1, job_id);
  std::vector<WebhookDelivery> out;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { out.push_back(RowToDelivery(r)); }));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> JobStore::CountDeliveriesByState() {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare("SELECT state, COUNT(*) FROM webhook_deliveries GROUP BY state"));
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) { out[r.Text(0)] = r.Int(1); }));
  return out;
}

}  // namespace imagen::jobs
