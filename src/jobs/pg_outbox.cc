// PgQueue: the webhook outbox. Several dispatchers (one per worker process)
// may poll at once: DueDeliveries claims rows with FOR UPDATE SKIP LOCKED and
// pushes their next_attempt_at ahead, so each delivery has one sender at a
// time. Every outbox row was committed durably with its job's final state,
// so nothing here waits for a sync.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "jobs/pg_queue.h"
#include "jobs/pg_rows.h"

namespace imagen::jobs::pg {

absl::StatusOr<std::vector<WebhookDelivery>> PgQueue::DueDeliveries(int limit,
                                                                    const std::vector<std::string>& skip_keys,
                                                                    absl::Duration claim) {
  const int64_t now = NowUs();
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(
      auto r,
      c->Exec(absl::StrCat(
                  "WITH d AS (SELECT id FROM webhook_deliveries WHERE state='pending' "
                  "AND next_attempt_at <= ('epoch'::timestamptz + $1::int8 * interval '1 us') AND NOT key_id = "
                  "ANY($3::text[]) "
                  "ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
                  "UPDATE webhook_deliveries w SET next_attempt_at=('epoch'::timestamptz + $4::int8 * interval '1 us') "
                  "FROM d WHERE w.id=d.id RETURNING ",
                  internal::DeliveryColumns("w")),
              PgParams().Int(now).Int(limit).TextArray(skip_keys).Int(now + absl::ToInt64Microseconds(claim))));
  std::vector<WebhookDelivery> out;
  for (int i = 0; i < r.Rows(); ++i) out.push_back(internal::RowToDelivery(r, i));
  // RETURNING order is unspecified; oldest claim first as documented.
  std::sort(out.begin(), out.end(), [](const WebhookDelivery& a, const WebhookDelivery& b) { return a.id < b.id; });
  return out;
}

absl::Status PgQueue::RecordDelivery(int64_t id, DeliveryState state, int attempts, absl::Time next_attempt_at,
                                     int last_status, const std::string& last_error) {
  auto c = pool_->Acquire();
  return c
      ->Exec(
          "UPDATE webhook_deliveries SET state=$1, attempts=$2, next_attempt_at=('epoch'::timestamptz + $3::int8 * "
          "interval '1 us'), last_status=$4, "
          "last_error=$5 WHERE id=$6",
          PgParams()
              .Text(DeliveryStateName(state))
              .Int(attempts)
              .Int(absl::ToUnixMicros(next_attempt_at))
              .Int(last_status)
              .Text(last_error)
              .Int(id))
      .status();
}

absl::StatusOr<std::vector<WebhookDelivery>> PgQueue::DeliveriesForJob(const std::string& job_id) {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r, c->Exec(absl::StrCat("SELECT ", internal::DeliveryColumns(),
                                                " FROM webhook_deliveries WHERE job_id=$1 ORDER BY id"),
                                   PgParams().Text(job_id)));
  std::vector<WebhookDelivery> out;
  for (int i = 0; i < r.Rows(); ++i) out.push_back(internal::RowToDelivery(r, i));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> PgQueue::CountDeliveriesByState() {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r, c->Exec("SELECT state, count(*) FROM webhook_deliveries GROUP BY state"));
  std::map<std::string, int64_t> out;
  for (DeliveryState s :
       {DeliveryState::kPending, DeliveryState::kDelivered, DeliveryState::kFailed, DeliveryState::kGone}) {
    out[DeliveryStateName(s)] = 0;
  }
  for (int i = 0; i < r.Rows(); ++i) out[std::string(r.Text(i, 0))] = r.Int(i, 1);
  return out;
}

}  // namespace imagen::jobs::pg
