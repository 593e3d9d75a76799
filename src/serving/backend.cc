#include "serving/backend.h"

#include "absl/strings/str_cat.h"
#include "serving/engine_backend.h"
#include "serving/test_backend.h"

namespace imagen::serving {

absl::StatusOr<Backend*> BackendFor(const inference::ModelConfig& config) {
  const std::string& backend = config.backend();
  const std::string& platform = config.platform();
  if (backend == "imagen_test") return TestBackend();
  if (IsEngineBackend(config)) return EngineBackend();
  if (backend.empty() && platform.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", config.name(), "': config has neither backend nor platform"));
  }
  return absl::InvalidArgumentError(absl::StrCat("model '", config.name(), "': unsupported ",
                                                 backend.empty() ? "platform '" + platform : "backend '" + backend,
                                                 "'"));
}

}  // namespace imagen::serving
