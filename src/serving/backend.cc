#include "serving/backend.h"

#include "absl/strings/str_cat.h"
#include "serving/test_backend.h"

namespace imagen::serving {

absl::StatusOr<Backend*> BackendFor(const inference::ModelConfig& config) {
  const std::string& backend = config.backend();
  const std::string& platform = config.platform();
  if (backend == "imagen_test") return TestBackend();
  if (backend == "onnxruntime" || platform == "onnxruntime_onnx" || backend == "imagen_ncnn") {
    return absl::UnimplementedError(
        absl::StrCat("model '", config.name(), "': the imagen engine backend is not available in this build yet"));
  }
  if (backend.empty() && platform.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", config.name(), "': config has neither backend nor platform"));
  }
  return absl::InvalidArgumentError(absl::StrCat("model '", config.name(), "': unsupported ",
                                                 backend.empty() ? "platform '" + platform : "backend '" + backend,
                                                 "'"));
}

}  // namespace imagen::serving
