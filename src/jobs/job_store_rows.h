// Row <-> struct conversions and column lists shared by the JobStore's
// files (job_store*.cc, one per concept: jobs, keys, queue, outbox, sweep).
// Internal to the store; not part of its interface. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "jobs/job.h"
#include "jobs/job_store.h"
#include "jobs/sqlite_db.h"

namespace imagen::jobs::store_internal {

inline constexpr const char* kJobColumns =
    "seq,id,key_id,operation,params,input_ref,input_type,state,priority,attempts,max_attempts,created_at,"
    "updated_at,run_after,started_at,finished_at,deadline_at,lease_owner,lease_expires_at,cancel_requested,"
    "progress,error_code,error_message,result_ref,result_type,webhook_url,idempotency_key,request_hash";

inline absl::Time FromUs(int64_t us) { return absl::FromUnixMicros(us); }
inline std::optional<absl::Time> OptTime(std::optional<int64_t> us) {
  if (!us) return std::nullopt;
  return FromUs(*us);
}

inline Job RowToJob(const Stmt& s) {
  Job j;
  j.seq = s.Int(0);
  j.id = s.Text(1);
  j.key_id = s.Text(2);
  j.operation = s.Text(3);
  j.params_json = s.Text(4);
  j.input_ref = s.Text(5);
  j.input_type = s.Text(6);
  j.state = ParseJobState(s.Text(7)).value_or(JobState::kFailed);
  j.priority = static_cast<int>(s.Int(8));
  j.attempts = static_cast<int>(s.Int(9));
  j.max_attempts = static_cast<int>(s.Int(10));
  j.created_at = FromUs(s.Int(11));
  j.updated_at = FromUs(s.Int(12));
  j.run_after = FromUs(s.Int(13));
  j.started_at = OptTime(s.OptInt(14));
  j.finished_at = OptTime(s.OptInt(15));
  j.deadline_at = OptTime(s.OptInt(16));
  j.lease_owner = s.Text(17);
  j.lease_expires_at = OptTime(s.OptInt(18));
  j.cancel_requested = s.Int(19) != 0;
  j.progress = s.Double(20);
  j.error_code = s.Text(21);
  j.error_message = s.Text(22);
  j.result_ref = s.Text(23);
  j.result_type = s.Text(24);
  j.webhook_url = s.Text(25);
  j.idempotency_key = s.Text(26);
  j.request_hash = s.Text(27);
  return j;
}

inline ApiKey RowToKey(const Stmt& s) {
  ApiKey k;
  k.id = s.Text(0);
  k.name = s.Text(1);
  k.key_hash = s.Text(2);
  k.webhook_secret = s.Text(3);
  k.rate = s.Double(4);
  k.max_concurrent = static_cast<int>(s.Int(5));
  k.admin = s.Int(6) != 0;
  k.created_at = FromUs(s.Int(7));
  k.max_priority = static_cast<int>(s.Int(8));
  k.max_queued = s.Int(9);
  k.revoked_at = OptTime(s.OptInt(10));
  return k;
}
inline constexpr const char* kKeyColumns =
    "id,name,key_hash,webhook_secret,rate,max_concurrent,admin,created_at,max_priority,max_queued,revoked_at";

inline constexpr const char* kDeliveryColumns =
    "id,msg_id,job_id,key_id,event,url,payload,state,attempts,next_attempt_at,last_status,last_error";
inline WebhookDelivery RowToDelivery(const Stmt& s) {
  WebhookDelivery d;
  d.id = s.Int(0);
  d.msg_id = s.Text(1);
  d.job_id = s.Text(2);
  d.key_id = s.Text(3);
  d.event = s.Text(4);
  d.url = s.Text(5);
  d.payload = s.Text(6);
  std::string st = s.Text(7);
  d.state = st == "delivered" ? DeliveryState::kDelivered
            : st == "failed"  ? DeliveryState::kFailed
            : st == "gone"    ? DeliveryState::kGone
                              : DeliveryState::kPending;
  d.attempts = static_cast<int>(s.Int(8));
  d.next_attempt_at = FromUs(s.Int(9));
  d.last_status = static_cast<int>(s.Int(10));
  d.last_error = s.Text(11);
  return d;
}

}  // namespace imagen::jobs::store_internal
