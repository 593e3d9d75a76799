// An operation the platform sells (upscale, remove_background, ...): a
// pipeline of image processing and model calls, described by an OpSpec that
// the API and CLI show to users. Operations are stateless and thread-safe;
// Run may be called from many worker threads at once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "ops/inference_client.h"
#include "ops/params.h"

namespace imagen::ops {

struct OpSpec {
  std::string name;     // "remove_background"
  std::string route;    // REST path under /api/v1/images/, e.g. "background/remove"
  std::string summary;  // one line for users
  std::vector<ParamSpec> params;
  // Models the operation may call (Triton repository names); may be empty
  // for pure image-processing operations.
  std::vector<std::string> models;
};

// An encoded image (JPEG, PNG, WebP, ...) with its MIME type.
struct ImageBlob {
  std::string bytes;
  std::string content_type;
};

struct OpContext {
  InferenceClient* inference = nullptr;
  // Reports progress in [0, 1]; may be empty.
  std::function<void(double)> progress;
  // Returns true when the job was cancelled; long operations check it
  // between steps and return absl::CancelledError. May be empty.
  std::function<bool()> cancelled;
};

class Operation {
 public:
  virtual ~Operation() = default;
  virtual const OpSpec& spec() const = 0;
  // Errors: InvalidArgument for bad input (never retried); Unavailable,
  // DeadlineExceeded or ResourceExhausted for transient failures (retried);
  // Cancelled when ctx.cancelled() became true.
  virtual absl::StatusOr<ImageBlob> Run(const ImageBlob& input, const ParamValues& params,
                                        const OpContext& ctx) const = 0;
};

// {"name","route","summary","models","parameters":[...]}.
nlohmann::json OpSpecToJson(const OpSpec& spec);

}  // namespace imagen::ops
