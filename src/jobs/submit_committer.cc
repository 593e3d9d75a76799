#include "jobs/submit_committer.h"

#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/string_view.h"

namespace imagen::jobs {

namespace {
constexpr char kStagePayload[] = "imagen.jobs/submit-stage";

absl::Status InGroup(const absl::Status& s, std::string_view what, size_t members) {
  absl::Status out(s.code(),
                   absl::StrCat(ToAbsl(what), " (group commit of ", members, " submission(s)): ", s.message()));
  out.SetPayload(kStagePayload, absl::Cord(ToAbsl(what)));
  return out;
}
}  // namespace

bool IsInputStorageError(const absl::Status& status) {
  auto stage = status.GetPayload(kStagePayload);
  return stage.has_value() && *stage == "storing the inputs";
}

absl::StatusOr<std::string> ReadJobInput(JobStore* store, BlobStore* blobs, const std::string& ref) {
  ASSIGN_OR_RETURN(std::optional<std::string> inline_bytes, store->GetInlineInput(ref));
  if (inline_bytes) return std::move(*inline_bytes);
  return blobs->GetInput(ref);
}

SubmitCommitter::SubmitCommitter(JobStore* store, BlobStore* blobs, SubmitCommitterOptions options)
    : store_(store), blobs_(blobs), options_(options) {
  // BlobStore::RemoveInput (the sweep loop of a server that does not use
  // jobs::Sweeper yet) then checks the rows of this store too.
  blobs_->SetReferenceCheck([store](const std::string& ref) { return store->InputReferenced(ref); });
  thread_ = std::thread([this] { Loop(); });
}

SubmitCommitter::~SubmitCommitter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  blobs_->SetReferenceCheck(nullptr);
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
      while (!queue_.empty() && static_cast<int>(group.size()) < std::max(1, options_.max_group)) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++stats_.groups;
      stats_.submissions += static_cast<int64_t>(group.size());
      stats_.largest_group = std::max<int64_t>(stats_.largest_group, static_cast<int64_t>(group.size()));
    }
    // The committer's thread entry point: an exception (bad_alloc, a throwing
    // callback) fails the members not answered yet and the loop goes on.
    try {
      CommitGroup(group);
    } catch (const std::exception& e) {
      FailUnanswered(group, absl::InternalError(absl::StrCat("group commit: ", e.what())));
    } catch (...) {
      FailUnanswered(group, absl::InternalError("group commit: unknown exception"));
    }
  }
}

void SubmitCommitter::FailUnanswered(std::deque<Pending>& group, const absl::Status& error) {
  spdlog::error("submit committer: {}", error.message());
  for (Pending& p : group) {
    if (p.answered) continue;
    p.answered = true;
    try {
      p.done(error);
    } catch (...) {
      spdlog::error("submit committer: a submission's callback threw");
    }
  }
}

void SubmitCommitter::CommitGroup(std::deque<Pending>& group) {
  std::vector<std::pair<std::string, std::string_view>> inputs;
  std::vector<NewJob> jobs;
  std::vector<std::string> file_refs;
  inputs.reserve(group.size());
  jobs.reserve(group.size());
  for (Pending& p : group) {
    if (p.job.input_ref.empty()) p.job.input_ref = BlobStore::InputRef(p.input);
    if (p.input.size() <= options_.max_inline_bytes && !p.input.empty()) {
      p.job.inline_input = p.input;
    } else {
      inputs.emplace_back(p.job.input_ref, p.input);
      file_refs.push_back(p.job.input_ref);
    }
    jobs.push_back(std::move(p.job));
  }
  absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>> created;
  absl::Time t0 = absl::Now();
  absl::Time t1 = t0;
  // File inputs are durable before any row that names them is committed, and
  // inline ones are part of that commit, so a crash never leaves a job
  // without its input.
  //
  // The claim is taken before PutInputs looks at the files and held until the
  // rows are committed, so the sweeper cannot remove a file this group found
  // already present (content-addressed: an identical earlier upload) and is
  // about to name (BlobStore: claims).
  InputClaim claim = blobs_->ClaimInputs(std::move(file_refs));
  absl::Status s = inputs.empty() ? absl::OkStatus() : blobs_->PutInputs(inputs);
  if (!s.ok()) s = InGroup(s, "storing the inputs", group.size());
  if (s.ok()) s = Step("inputs_durable");
  if (s.ok()) {
    t1 = absl::Now();
    created = store_->CreateBatch(jobs);
    if (!created.ok()) s = InGroup(created.status(), "inserting the jobs", group.size());
  }
  absl::Time t2 = absl::Now();
  if (t2 - t0 > absl::Milliseconds(20)) {
    spdlog::info("slow group commit: {} submission(s), inputs {:.1f} ms, rows {:.1f} ms", group.size(),
                 absl::ToDoubleMilliseconds(t1 - t0), absl::ToDoubleMilliseconds(t2 - t1));
  }
  claim.Release();  // committed (the rows now name the files) or failed
  if (s.ok()) s = Step("committed");
  for (size_t i = 0; i < group.size(); ++i) {
    group[i].answered = true;
    if (s.ok()) {
      group[i].done(std::move((*created)[i]));
    } else {
      group[i].done(s);
    }
  }
}

}  // namespace imagen::jobs
