#include "jobs/submit_committer.h"

#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/string_view.h"

namespace imagen::jobs {

namespace {
constexpr char kStagePayload[] = "imagen.jobs/submit-stage";

absl::Status InGroup(const absl::Status& s, std::string_view what, size_t members) {
  absl::Status out(s.code(), absl::StrCat(ToAbsl(what), " (group commit of ", members, " submission(s)): ", s.message()));
  out.SetPayload(kStagePayload, absl::Cord(ToAbsl(what)));
  return out;
}
}  // namespace

bool IsInputStorageError(const absl::Status& status) {
  auto stage = status.GetPayload(kStagePayload);
  return stage.has_value() && *stage == "storing the inputs";
}

SubmitCommitter::SubmitCommitter(JobStore* store, BlobStore* blobs, int max_group)
    : store_(store), blobs_(blobs), max_group_(max_group > 0 ? max_group : 1) {
  thread_ = std::thread([this] { Loop(); });
}

SubmitCommitter::~SubmitCommitter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void SubmitCommitter::Submit(NewJob job, std::string_view input, SubmitCallback done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back({std::move(job), input, std::move(done)});
}

absl::StatusOr<CreateResult> SubmitCommitter::SubmitAndWait(NewJob job, std::string_view input) {
  absl::Notification ready;
  absl::StatusOr<CreateResult> result;
  Submit(std::move(job), input, [&](absl::StatusOr<CreateResult> r) {
    result = std::move(r);
    ready.Notify();
  });
  ready.WaitForNotification();
  return result;
}

SubmitCommitterStats SubmitCommitter::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::Status SubmitCommitter::Step(std::string_view name) { return hook_ ? hook_(name) : absl::OkStatus(); }

void SubmitCommitter::Loop() {
  for (;;) {
    std::deque<Pending> group;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, nothing left
      // Everything that arrived while the previous group was syncing.
      while (!queue_.empty() && static_cast<int>(group.size()) < max_group_) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++stats_.groups;
      stats_.submissions += static_cast<int64_t>(group.size());
      stats_.largest_group = std::max<int64_t>(stats_.largest_group, static_cast<int64_t>(group.size()));
    }
    CommitGroup(group);
  }
}

void SubmitCommitter::CommitGroup(std::deque<Pending>& group) {
  std::vector<std::pair<std::string, std::string_view>> inputs;
  std::vector<NewJob> jobs;
  inputs.reserve(group.size());
  jobs.reserve(group.size());
  for (Pending& p : group) {
    if (p.job.input_ref.empty()) p.job.input_ref = BlobStore::InputRef(p.input);
    inputs.emplace_back(p.job.input_ref, p.input);
    jobs.push_back(std::move(p.job));
  }
  absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>> created;
  // The inputs are durable before any row that names them is committed, so a
  // crash never leaves a job without its input.
  absl::Status s = blobs_->PutInputs(inputs);
  if (!s.ok()) s = InGroup(s, "storing the inputs", group.size());
  if (s.ok()) s = Step("inputs_durable");
  if (s.ok()) {
    created = store_->CreateBatch(jobs);
    if (!created.ok()) s = InGroup(created.status(), "inserting the jobs", group.size());
  }
  if (s.ok()) s = Step("committed");
  for (size_t i = 0; i < group.size(); ++i) {
    if (s.ok()) {
      group[i].done(std::move((*created)[i]));
    } else {
      group[i].done(s);
    }
  }
}

}  // namespace imagen::jobs
