#include "serving/ensemble_model.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "serving/request_validation.h"

namespace imagen::serving {

struct EnsembleModel::Run {
  std::shared_ptr<EnsembleModel> self;  // alive until the last step answers
  absl::Mutex mu;
  std::map<std::string, Tensor> tensors;  // ensemble tensor name -> value
  std::vector<bool> started;
  int running = 0;
  bool failed = false;
  InferRequest request;
  InferCallback done;
  int64_t start_us = 0;
};

EnsembleModel::EnsembleModel(inference::ModelConfig config, int64_t version, InferFn infer, Clock* clock)
    : config_(std::move(config)),
      version_(version),
      infer_(std::move(infer)),
      clock_(clock),
      stats_(config_.name(), std::to_string(version)) {}

void EnsembleModel::Infer(InferRequest request, InferCallback done) {
  int64_t start = clock_->NowMicros();
  if (stopping_) {
    done(absl::UnavailableError(absl::StrCat("ensemble '", config_.name(), "' is being unloaded")));
    return;
  }
  if (request.ensemble_depth >= kMaxEnsembleDepth) {
    stats_.RecordFailure("OTHER", 0);
    done(absl::InvalidArgumentError(absl::StrCat("ensemble '", config_.name(), "' nests ensembles deeper than ",
                                                 kMaxEnsembleDepth, " levels (a cycle?)")));
    return;
  }
  auto valid = ValidateRequest(config_, &request);
  if (!valid.ok()) {
    stats_.RecordFailure("OTHER", 0);
    done(valid.status());
    return;
  }
  auto run = std::make_shared<Run>();
  run->self = shared_from_this();
  run->start_us = start;
  run->started.assign(static_cast<size_t>(config_.ensemble_scheduling().step_size()), false);
  for (auto& t : request.inputs) run->tensors[t.name] = t;
  run->request = std::move(request);
  run->done = std::move(done);
  Advance(run);
}

void EnsembleModel::Advance(const std::shared_ptr<Run>& run) {
  std::vector<std::pair<int, InferRequest>> ready;
  bool finished = false;
  {
    absl::MutexLock l(&run->mu);
    if (run->failed) return;
    const auto& steps = config_.ensemble_scheduling().step();
    for (int i = 0; i < steps.size(); ++i) {
      if (run->started[static_cast<size_t>(i)]) continue;
      const auto& step = steps[i];
      InferRequest sub;
      sub.model_name = step.model_name();
      if (step.model_version() > 0) sub.model_version = std::to_string(step.model_version());
      sub.id = run->request.id;
      sub.priority = run->request.priority;
      sub.timeout_us = run->request.timeout_us;
      sub.cancelled = run->request.cancelled;
      sub.ensemble_depth = run->request.ensemble_depth + 1;
      bool have_all = true;
      for (const auto& [model_input, ensemble_tensor] : step.input_map()) {
        auto it = run->tensors.find(ensemble_tensor);
        if (it == run->tensors.end()) {
          have_all = false;
          break;
        }
        Tensor t = it->second;
        t.name = model_input;
        sub.inputs.push_back(std::move(t));
      }
      if (!have_all) continue;
      for (const auto& [model_output, ensemble_tensor] : step.output_map()) sub.outputs.push_back(model_output);
      run->started[static_cast<size_t>(i)] = true;
      ++run->running;
      ready.emplace_back(i, std::move(sub));
    }
    if (ready.empty() && run->running == 0) finished = true;
  }
  if (finished) {
    InferResponse response;
    response.model_name = config_.name();
    response.model_version = std::to_string(version_);
    response.id = run->request.id;
    absl::Status missing;
    for (const auto& out : config_.output()) {
      const auto& wanted = run->request.outputs;
      if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), out.name()) == wanted.end()) continue;
      auto it = run->tensors.find(out.name());
      if (it == run->tensors.end()) {
        missing =
            absl::InternalError(absl::StrCat("ensemble '", config_.name(), "' produced no tensor '", out.name(), "'"));
        break;
      }
      response.outputs.push_back(it->second);
    }
    uint64_t total_ns = static_cast<uint64_t>(clock_->NowMicros() - run->start_us) * 1000;
    if (!missing.ok()) {
      stats_.RecordFailure("OTHER", total_ns);
      run->done(missing);
      return;
    }
    stats_.RecordExecution(1, 0, 0, 0);
    stats_.RecordSuccess(total_ns, 0, 0, total_ns, 0, static_cast<uint64_t>(absl::ToUnixMillis(clock_->Now())));
    run->done(std::move(response));
    return;
  }
  for (auto& [index, sub] : ready) {
    // The callback owns `run`, which owns the ensemble (run->self).
    infer_(std::move(sub),
           [run, index](absl::StatusOr<InferResponse> result) { run->self->StepDone(run, index, std::move(result)); });
  }
}

void EnsembleModel::StepDone(const std::shared_ptr<Run>& run, int index, absl::StatusOr<InferResponse> result) {
  const auto& step = config_.ensemble_scheduling().step(index);
  {
    absl::MutexLock l(&run->mu);
    --run->running;
    if (run->failed) return;
    if (!result.ok()) {
      run->failed = true;
    } else {
      for (auto& t : result->outputs) {
        auto it = step.output_map().find(t.name);
        if (it == step.output_map().end()) continue;
        t.name = it->second;
        run->tensors[it->second] = std::move(t);
      }
    }
  }
  if (!result.ok()) {
    stats_.RecordFailure("BACKEND", static_cast<uint64_t>(clock_->NowMicros() - run->start_us) * 1000);
    run->done(absl::Status(result.status().code(),
                           absl::StrCat("in ensemble '", config_.name(), "': ", result.status().message())));
    return;
  }
  Advance(run);
}

absl::Status CheckEnsembleGraph(const inference::ModelConfig& config, const EnsembleConfigFn& config_of) {
  const std::string& name = config.name();
  // Data flow: which steps can ever run, and are the outputs produced?
  std::set<std::string> available;
  for (const auto& in : config.input()) available.insert(in.name());
  const auto& steps = config.ensemble_scheduling().step();
  std::vector<bool> runs(static_cast<size_t>(steps.size()), false);
  for (bool progress = true; progress;) {
    progress = false;
    for (int i = 0; i < steps.size(); ++i) {
      if (runs[static_cast<size_t>(i)]) continue;
      bool ready = true;
      for (const auto& [model_input, tensor] : steps[i].input_map()) ready = ready && available.count(tensor) > 0;
      if (!ready) continue;
      runs[static_cast<size_t>(i)] = true;
      progress = true;
      for (const auto& [model_output, tensor] : steps[i].output_map()) available.insert(tensor);
    }
  }
  for (int i = 0; i < steps.size(); ++i) {
    if (runs[static_cast<size_t>(i)]) continue;
    for (const auto& [model_input, tensor] : steps[i].input_map()) {
      if (available.count(tensor) == 0) {
        return absl::InvalidArgumentError(absl::StrCat("ensemble '", name, "': step ", i, " (model '",
                                                       steps[i].model_name(), "') needs tensor '", tensor,
                                                       "' that no step or ensemble input provides (or a cycle does)"));
      }
    }
  }
  for (const auto& out : config.output()) {
    if (available.count(out.name()) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("ensemble '", name, "': no step produces ensemble output '", out.name(), "'"));
    }
  }
  // Model cycles through nested ensembles: depth-first over step models.
  std::vector<std::string> path{name};
  std::set<std::string> done;
  std::function<absl::Status(const inference::ModelConfig&)> visit =
      [&](const inference::ModelConfig& c) -> absl::Status {
    for (const auto& step : c.ensemble_scheduling().step()) {
      const std::string& m = step.model_name();
      if (std::find(path.begin(), path.end(), m) != path.end()) {
        std::string cycle = absl::StrJoin(path, " -> ");
        return absl::InvalidArgumentError(
            absl::StrCat("ensemble '", name, "' has a cycle of ensemble steps: ", cycle, " -> ", m));
      }
      if (done.count(m) > 0 || path.size() > 64) continue;
      std::optional<inference::ModelConfig> nested = config_of(m);
      if (!nested || nested->platform() != "ensemble") continue;
      path.push_back(m);
      absl::Status s = visit(*nested);
      path.pop_back();
      if (!s.ok()) return s;
      done.insert(m);
    }
    return absl::OkStatus();
  };
  return visit(config);
}

}  // namespace imagen::serving
