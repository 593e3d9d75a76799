#include "worker/worker.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "jobs/submit_committer.h"
#include "nlohmann/json.hpp"

namespace imagen::worker {

std::string ErrorCodeName(const absl::Status& status) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
}

Worker::Worker(jobs::JobStore* store, jobs::BlobStore* blobs, const ops::OpRegistry* registry,
               ops::InferenceClient* inference, jobs::JobEvents* events, WorkerOptions options, std::string owner)
    : store_(store),
      blobs_(blobs),
      registry_(registry),
      inference_(inference),
      events_(events),
      options_(options),
      retry_(options.retry),
      owner_(std::move(owner)),
      rng_(std::random_device{}()) {}

absl::Status Worker::Step(std::string_view name, const std::string& job_id) {
  if (!hook_) return absl::OkStatus();
  return hook_(name, job_id);
}

absl::StatusOr<bool> Worker::RunOne() {
  ASSIGN_OR_RETURN(auto leased, store_->Lease(owner_, options_.lease));
  if (!leased) return false;
  const jobs::Job& job = *leased;
  JobTiming timing;
  if (job.started_at) timing.queue_wait_s = absl::ToDoubleSeconds(store_->clock()->Now() - job.created_at);
  int64_t t0 = store_->clock()->NowMicros();
  absl::Status s;
  // An operation (or a library under it) that throws must not take the
  // worker thread, and with it the process, down: the job fails instead.
  try {
    s = Process(job, timing);
  } catch (const std::exception& e) {
    s = FailOrRetrySafely(job, absl::InternalError(absl::StrCat("the operation threw: ", e.what())), timing);
  } catch (...) {
    s = FailOrRetrySafely(job, absl::InternalError("the operation threw an unknown exception"), timing);
  }
  timing.processing_s = static_cast<double>(store_->clock()->NowMicros() - t0) / 1e6;
  if (observe_) observe_(timing);
  RETURN_IF_ERROR(s);
  return true;
}

absl::Status Worker::FailOrRetrySafely(const jobs::Job& job, const absl::Status& error, JobTiming& timing) {
  try {
    return FailOrRetry(job, error, timing);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("failing job ", job.id, " after an exception: ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat("failing job ", job.id, " after an exception"));
  }
}

absl::Status Worker::FailOrRetry(const jobs::Job& job, const absl::Status& error, JobTiming& timing) {
  RETURN_IF_ERROR(Step("finishing", job.id));
  std::string code = ErrorCodeName(error);
  std::string message(error.message());
  absl::Status s;
  bool canceled = error.code() == absl::StatusCode::kCancelled;
  if (!canceled && events_ != nullptr) {
    auto snap = events_->Get(job.id);
    canceled = snap && snap->cancel_requested;
  }
  if (canceled) {
    timing.outcome = "canceled";
    s = store_->Fail(job.id, owner_, jobs::JobState::kCanceled, "canceled", "canceled by the client");
  } else if (job.deadline_at && store_->clock()->Now() >= *job.deadline_at) {
    timing.outcome = "failed";
    s = store_->Fail(job.id, owner_, jobs::JobState::kFailed, "deadline_exceeded",
                     absl::StrCat("the job's deadline passed (last error: ", message, ")"));
  } else if (retry_.ShouldRetry(error, job.attempts)) {
    timing.outcome = "retry";
    absl::Time at = store_->clock()->Now() + retry_.Backoff(job.attempts, rng_);
    s = store_->Retry(job.id, owner_, at, code, message);
  } else if (jobs::IsRetryable(error)) {
    timing.outcome = "dead";
    s = store_->Fail(job.id, owner_, jobs::JobState::kDead, code,
                     absl::StrCat(message, " (after ", job.attempts, " attempts)"));
  } else {
    timing.outcome = "failed";
    s = store_->Fail(job.id, owner_, jobs::JobState::kFailed, code, message);
  }
  if (absl::IsFailedPrecondition(s)) {
    timing.outcome = "lost";
    return absl::OkStatus();  // lease lost: whoever holds it now decides
  }
  return s;
}

absl::Status Worker::Process(const jobs::Job& job, JobTiming& timing) {
  RETURN_IF_ERROR(Step("leased", job.id));
  if (job.deadline_at && store_->clock()->Now() >= *job.deadline_at) {
    return FailOrRetry(job, absl::DeadlineExceededError("deadline passed"), timing);
  }
  const ops::Operation* op = registry_->Find(job.operation);
  if (op == nullptr) {
    return FailOrRetry(
        job,
        absl::FailedPreconditionError(absl::StrCat("operation '", job.operation, "' is not available in this server")),
        timing);
  }
  std::map<std::string, std::string> given;
  nlohmann::json params = nlohmann::json::parse(job.params_json, nullptr, false);
  if (params.is_object()) {
    for (auto& [k, v] : params.items()) given[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  auto values = ops::ValidateParams(op->spec().params, given);
  if (!values.ok()) return FailOrRetry(job, values.status(), timing);

  auto input = jobs::ReadJobInput(store_, blobs_, job.input_ref);
  if (!input.ok()) {
    absl::Status e = absl::IsNotFound(input.status())
                         ? absl::DataLossError(absl::StrCat("input blob missing: ", input.status().message()))
                         : absl::UnavailableError(absl::StrCat("reading input: ", input.status().message()));
    return FailOrRetry(job, e, timing);
  }
  RETURN_IF_ERROR(Step("input_read", job.id));

  ops::OpContext ctx;
  ctx.inference = inference_;
  std::string id = job.id;
  ctx.progress = [this, id](double p) {
    if (progress_) progress_(id, p);
  };
  ctx.cancelled = [this, id] {
    if (abort_ != nullptr && abort_->load()) return true;
    if (events_ == nullptr) return false;
    auto snap = events_->Get(id);
    return snap && snap->cancel_requested;
  };
  ops::ImageBlob in{std::move(*input), job.input_type};
  int64_t op0 = store_->clock()->NowMicros();
  absl::StatusOr<ops::ImageBlob> out = op->Run(in, *values, ctx);
  timing.operation_s = static_cast<double>(store_->clock()->NowMicros() - op0) / 1e6;
  RETURN_IF_ERROR(Step("op_ran", job.id));
  if (!out.ok()) return FailOrRetry(job, out.status(), timing);
  if (ctx.cancelled()) return FailOrRetry(job, absl::CancelledError("canceled"), timing);

  auto ref = blobs_->PutResult(job.id, out->bytes);
  if (!ref.ok()) {
    // Disk full or an I/O error: nothing half-written (atomic write); retry later.
    return FailOrRetry(job, absl::UnavailableError(absl::StrCat("writing result: ", ref.status().message())), timing);
  }
  RETURN_IF_ERROR(Step("result_written", job.id));
  RETURN_IF_ERROR(Step("finishing", job.id));
  absl::Status s = store_->Complete(job.id, owner_, *ref, out->content_type);
  if (absl::IsFailedPrecondition(s)) {
    // Lease lost (expired and taken): the result file is the job's one path
    // and will be rewritten by the current holder; do not complete twice.
    timing.outcome = "lost";
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(s);
  timing.outcome = "succeeded";
  return Step("completed", job.id);
}

}  // namespace imagen::worker
