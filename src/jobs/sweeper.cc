#include "jobs/sweeper.h"

#include <set>

#include "common/logging.h"
#include "common/status_macros.h"

namespace imagen::jobs {

Sweeper::Sweeper(JobStore* store, BlobStore* blobs, Clock* clock, SweeperOptions options)
    : store_(store), blobs_(blobs), clock_(clock), options_(options) {}

Sweeper::~Sweeper() { Stop(); }

absl::StatusOr<bool> Sweeper::RemoveIfUnreferenced(const std::string& ref) {
  return blobs_->RemoveInputIfUnreferenced(ref, [this, &ref] { return store_->InputReferenced(ref); });
}

absl::StatusOr<SweepReport> Sweeper::RunOnce() {
  absl::MutexLock lock(&run_mu_);
  SweepReport report;
  ASSIGN_OR_RETURN(SweptBlobs swept, store_->SweepFinished(clock_->Now() - options_.retention, options_.batch));
  report.jobs = static_cast<int>(swept.job_ids.size());
  for (const auto& ref : swept.result_refs) {
    if (blobs_->RemoveResult(ref).ok()) ++report.results;
  }
  for (const auto& ref : swept.input_refs) {
    // Unreferenced when the sweep committed; a submission of the same bytes
    // may have claimed or committed it since (RemoveInputIfUnreferenced).
    Hook("unreferenced", ref);
    auto removed = RemoveIfUnreferenced(ref);
    if (!removed.ok()) {
      spdlog::warn("sweeper: input {}: {}", ref, std::string(removed.status().message()));
    } else if (*removed) {
      ++report.inputs;
    }
  }
  RETURN_IF_ERROR(SweepOrphans(report));
  return report;
}

absl::Status Sweeper::SweepOrphans(SweepReport& report) {
  absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(std::vector<std::string> refs, blobs_->ListInputs());
  std::set<std::string> present(refs.begin(), refs.end());
  for (auto it = unreferenced_since_.begin(); it != unreferenced_since_.end();) {
    it = present.count(it->first) > 0 ? std::next(it) : unreferenced_since_.erase(it);
  }
  for (const auto& ref : refs) {
    ASSIGN_OR_RETURN(bool referenced, store_->InputReferenced(ref));
    if (referenced || blobs_->InputClaimed(ref)) {
      unreferenced_since_.erase(ref);
      continue;
    }
    auto [it, first] = unreferenced_since_.emplace(ref, now);
    if (first || now - it->second < options_.orphan_grace) continue;
    Hook("orphan", ref);
    ASSIGN_OR_RETURN(bool removed, RemoveIfUnreferenced(ref));
    if (removed) {
      ++report.orphans;
      unreferenced_since_.erase(it);
    }
  }
  return absl::OkStatus();
}

void Sweeper::Start() {
  thread_ = std::thread([this] {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.interval);
        if (stop_) return;
      }
      // The sweeper's thread entry point: log and go on, never terminate.
      try {
        auto r = RunOnce();
        if (!r.ok()) {
          spdlog::warn("sweeper: {}", std::string(r.status().message()));
        } else if (r->jobs + r->orphans > 0) {
          spdlog::info("sweeper removed {} finished job(s), {} result(s), {} input(s), {} orphan input(s)", r->jobs,
                       r->results, r->inputs, r->orphans);
        }
      } catch (const std::exception& e) {
        spdlog::error("sweeper: {}", e.what());
      } catch (...) {
        spdlog::error("sweeper: unknown exception");
      }
    }
  });
}

void Sweeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace imagen::jobs
