#include "worker/inprocess_inference_client.h"

#include <future>
#include <memory>

#include "absl/strings/str_cat.h"

namespace imagen::worker {

absl::StatusOr<ops::InferResult> InProcessInferenceClient::Infer(const ops::InferRequest& request) {
  serving::InferRequest r;
  r.model_name = request.model_name;
  r.model_version = request.model_version;
  r.priority = request.priority;
  r.outputs = request.outputs;
  for (const auto& t : request.inputs) r.inputs.push_back({t.name, t.datatype, t.shape, t.data});
  auto promise = std::make_shared<std::promise<absl::StatusOr<serving::InferResponse>>>();
  auto future = promise->get_future();
  server_->InferAsync(std::move(r), [promise](absl::StatusOr<serving::InferResponse> result) {
    promise->set_value(std::move(result));
  });
  if (request.timeout != absl::InfiniteDuration()) {
    auto wait = std::chrono::microseconds(absl::ToInt64Microseconds(request.timeout));
    if (future.wait_for(wait) != std::future_status::ready) {
      return absl::DeadlineExceededError(absl::StrCat("inference on '", request.model_name, "' took longer than ",
                                                      absl::FormatDuration(request.timeout)));
    }
  }
  absl::StatusOr<serving::InferResponse> result = future.get();
  if (!result.ok()) return result.status();
  ops::InferResult out;
  for (auto& t : result->outputs) {
    out.outputs.push_back({std::move(t.name), std::move(t.datatype), std::move(t.shape), std::move(t.data)});
  }
  return out;
}

absl::Status InProcessInferenceClient::ModelReady(const std::string& model) { return server_->ModelReady(model, ""); }

}  // namespace imagen::worker
