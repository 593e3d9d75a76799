#include "jobs/pg_rows.h"

#include "absl/strings/str_cat.h"
#include "jobs/crypto.h"

namespace imagen::jobs::pg::internal {

namespace {

absl::Time FromUs(int64_t us) { return absl::FromUnixMicros(us); }
std::optional<absl::Time> OptTime(const PgResult& r, int row, int col) {
  if (r.IsNull(row, col)) return std::nullopt;
  return FromUs(r.Int(row, col));
}
std::string Str(const PgResult& r, int row, int col) { return std::string(r.Text(row, col)); }

// Columns in the order RowToJob reads them; "@" marks a timestamptz, read as
// Unix microseconds.
constexpr const char* kJobCols[] = {"seq",
                                    "id",
                                    "key_id",
                                    "operation",
                                    "params",
                                    "input_ref",
                                    "input_type",
                                    "state",
                                    "priority",
                                    "attempts",
                                    "max_attempts",
                                    "@created_at",
                                    "@updated_at",
                                    "@run_after",
                                    "@started_at",
                                    "@finished_at",
                                    "@deadline_at",
                                    "lease_owner",
                                    "@lease_expires_at",
                                    "cancel_requested",
                                    "progress",
                                    "error_code",
                                    "error_message",
                                    "result_ref",
                                    "result_type",
                                    "webhook_url",
                                    "idempotency_key",
                                    "request_hash"};

std::string Columns(std::string_view prefix, const char* const* cols, size_t n) {
  std::string p = prefix.empty() ? "" : absl::StrCat(std::string(prefix), ".");
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    std::string_view c = cols[i];
    if (c[0] == '@') {
      absl::StrAppend(&out, "(extract(epoch FROM ", p, std::string(c.substr(1)), ")*1000000)::int8");
    } else {
      absl::StrAppend(&out, p, std::string(c));
    }
  }
  return out;
}

constexpr const char* kDeliveryCols[] = {"id",          "msg_id",    "job_id", "key_id",   "event",
                                         "url",         "payload",   "state",  "attempts", "@next_attempt_at",
                                         "last_status", "last_error"};

}  // namespace

std::string JobColumns(std::string_view prefix) { return Columns(prefix, kJobCols, std::size(kJobCols)); }

Job RowToJob(const PgResult& r, int row) {
  Job j;
  j.seq = r.Int(row, 0);
  j.id = Str(r, row, 1);
  j.key_id = Str(r, row, 2);
  j.operation = Str(r, row, 3);
  j.params_json = Str(r, row, 4);
  j.input_ref = Str(r, row, 5);
  j.input_type = Str(r, row, 6);
  std::string state = Str(r, row, 7);
  // 'scheduled' is a queued job waiting for its run_after.
  j.state = state == "scheduled" ? JobState::kQueued : ParseJobState(state).value_or(JobState::kFailed);
  j.priority = static_cast<int>(r.Int(row, 8));
  j.attempts = static_cast<int>(r.Int(row, 9));
  j.max_attempts = static_cast<int>(r.Int(row, 10));
  j.created_at = FromUs(r.Int(row, 11));
  j.updated_at = FromUs(r.Int(row, 12));
  j.run_after = FromUs(r.Int(row, 13));
  j.started_at = OptTime(r, row, 14);
  j.finished_at = OptTime(r, row, 15);
  j.deadline_at = OptTime(r, row, 16);
  j.lease_owner = Str(r, row, 17);
  j.lease_expires_at = OptTime(r, row, 18);
  j.cancel_requested = r.Bool(row, 19);
  j.progress = r.Double(row, 20);
  j.error_code = Str(r, row, 21);
  j.error_message = Str(r, row, 22);
  j.result_ref = Str(r, row, 23);
  j.result_type = Str(r, row, 24);
  j.webhook_url = Str(r, row, 25);
  j.idempotency_key = Str(r, row, 26);
  j.request_hash = Str(r, row, 27);
  return j;
}

std::string KeyColumns() {
  return "id,name,key_hash,webhook_secret,rate,max_concurrent,admin,(extract(epoch FROM created_at)*1000000)::int8,"
         "max_priority,max_queued,(extract(epoch FROM revoked_at)*1000000)::int8";
}

ApiKey RowToKey(const PgResult& r, int row) {
  ApiKey k;
  k.id = Str(r, row, 0);
  k.name = Str(r, row, 1);
  k.key_hash = Str(r, row, 2);
  k.webhook_secret = Str(r, row, 3);
  k.rate = r.Double(row, 4);
  k.max_concurrent = static_cast<int>(r.Int(row, 5));
  k.admin = r.Bool(row, 6);
  k.created_at = FromUs(r.Int(row, 7));
  k.max_priority = static_cast<int>(r.Int(row, 8));
  k.max_queued = r.Int(row, 9);
  k.revoked_at = OptTime(r, row, 10);
  return k;
}

std::string DeliveryColumns(std::string_view prefix) {
  return Columns(prefix, kDeliveryCols, std::size(kDeliveryCols));
}

WebhookDelivery RowToDelivery(const PgResult& r, int row) {
  WebhookDelivery d;
  d.id = r.Int(row, 0);
  d.msg_id = Str(r, row, 1);
  d.job_id = Str(r, row, 2);
  d.key_id = Str(r, row, 3);
  d.event = Str(r, row, 4);
  d.url = Str(r, row, 5);
  d.payload = Str(r, row, 6);
  std::string st = Str(r, row, 7);
  d.state = st == "delivered" ? DeliveryState::kDelivered
            : st == "failed"  ? DeliveryState::kFailed
            : st == "gone"    ? DeliveryState::kGone
                              : DeliveryState::kPending;
  d.attempts = static_cast<int>(r.Int(row, 8));
  d.next_attempt_at = FromUs(r.Int(row, 9));
  d.last_status = static_cast<int>(r.Int(row, 10));
  d.last_error = Str(r, row, 11);
  return d;
}

absl::Status EnqueueWebhook(PgConn& conn, const Job& job, absl::Time now) {
  if (job.webhook_url.empty() || !IsTerminal(job.state)) return absl::OkStatus();
  int64_t now_us = absl::ToUnixMicros(now);
  return conn
      .Exec(
          "INSERT INTO webhook_deliveries(msg_id,job_id,key_id,event,url,payload,state,next_attempt_at,created_at) "
          "VALUES($1,$2,$3,$4,$5,$6,'pending',('epoch'::timestamptz + $7::int8 * interval '1 "
          "us'),('epoch'::timestamptz + $7::int8 * interval '1 us'))",
          PgParams()
              .Text(RandomHexId("msg_", 12))
              .Text(job.id)
              .Text(job.key_id)
              .Text(EventTypeFor(job.state))
              .Text(job.webhook_url)
              .Text(WebhookPayload(job, now))
              .Int(now_us))
      .status();
}

}  // namespace imagen::jobs::pg::internal
