// Row mapping shared by the PgQueue files: the column lists each SELECT /
// RETURNING names and their decoding into Job, ApiKey and WebhookDelivery,
// plus the outbox insert every terminal transition makes. Internal to
// pg_*.cc; pure functions over a connection the caller owns.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "jobs/job.h"
#include "jobs/job_store.h"
#include "jobs/pg_conn.h"

namespace imagen::jobs::pg::internal {

// The 28 job columns in Job order, times as Unix microseconds (inline
// expressions, not the imagen_us() SQL function: inlining that re-parses its
// body at every plan); `prefix` is a
// table alias ("j") or empty.
std::string JobColumns(std::string_view prefix = "");
Job RowToJob(const PgResult& r, int row);

std::string KeyColumns();
ApiKey RowToKey(const PgResult& r, int row);

std::string DeliveryColumns(std::string_view prefix = "");
WebhookDelivery RowToDelivery(const PgResult& r, int row);

// Queues the terminal event of `job` (if it has a webhook URL) inside the
// transaction open on `conn`.
absl::Status EnqueueWebhook(PgConn& conn, const Job& job, absl::Time now);

}  // namespace imagen::jobs::pg::internal
