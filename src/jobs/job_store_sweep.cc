// JobStore: sweeping finished jobs past retention and the inputs nothing
// references any more (the files are removed by jobs::Sweeper).
#include <algorithm>

#include "common/status_macros.h"
#include "jobs/job_store.h"
#include "jobs/job_store_rows.h"

namespace imagen::jobs {

absl::StatusOr<SweptBlobs> JobStore::SweepFinished(absl::Time cutoff, int limit) {
  SweptBlobs out;
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(SweepLocked(cutoff, limit, out));
    ticket = wal_->Committed();
  }
  // The caller removes blob files next: the rows naming them must be gone for good.
  RETURN_IF_ERROR(wal_->SyncThrough(ticket));
  return out;
}

absl::StatusOr<bool> JobStore::InputReferenced(const std::string& input_ref) {
  absl::MutexLock lock(&rmu_);
  ASSIGN_OR_RETURN(auto q, rdb_->Prepare("SELECT 1 FROM jobs WHERE input_ref=? LIMIT 1"));
  q.Bind(1, input_ref);
  return q.Step();
}

absl::Status JobStore::SweepLocked(absl::Time cutoff, int limit, SweptBlobs& out) {
  Transaction tx(db_.get());
  RETURN_IF_ERROR(tx.Begin());
  ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT id, input_ref, result_ref FROM jobs WHERE state IN "
                                        "('succeeded','failed','canceled','dead') AND finished_at<? LIMIT ?"));
  q.Bind(1, absl::ToUnixMicros(cutoff)).Bind(2, limit);
  std::vector<std::string> inputs;
  RETURN_IF_ERROR(q.ForEachRow([&](const Stmt& r) {
    out.job_ids.push_back(r.Text(0));
    inputs.push_back(r.Text(1));
    if (!r.IsNull(2)) out.result_refs.push_back(r.Text(2));
  }));
  for (const auto& id : out.job_ids) {
    ASSIGN_OR_RETURN(auto d, db_->Prepare("DELETE FROM webhook_deliveries WHERE job_id=?"));
    RETURN_IF_ERROR(d.Bind(1, id).Run());
    ASSIGN_OR_RETURN(auto j, db_->Prepare("DELETE FROM jobs WHERE id=?"));
    RETURN_IF_ERROR(j.Bind(1, id).Run());
  }
  for (const auto& ref : inputs) {
    ASSIGN_OR_RETURN(auto c, db_->Prepare("SELECT COUNT(*) FROM jobs WHERE input_ref=?"));
    c.Bind(1, ref);
    ASSIGN_OR_RETURN(bool row, c.Step());
    if (row && c.Int(0) == 0 && std::find(out.input_refs.begin(), out.input_refs.end(), ref) == out.input_refs.end()) {
      out.input_refs.push_back(ref);
      ASSIGN_OR_RETURN(auto d, db_->Prepare("DELETE FROM inline_inputs WHERE ref=?"));
      RETURN_IF_ERROR(d.Bind(1, ref).Run());
    }
  }
  return tx.Commit();
}

}  // namespace imagen::jobs
