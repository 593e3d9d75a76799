// config.pbtxt: parsing with protobuf TextFormat against Triton's schema
// (model_config.proto), auto-complete from the backend, and the defaults and
// checks Triton applies. Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "model_config.pb.h"
#include "serving/backend.h"

namespace imagen::serving {

// Parses config.pbtxt text; an unknown field or syntax error is an
// InvalidArgument naming `path`, line and column.
absl::StatusOr<inference::ModelConfig> ParseModelConfig(const std::string& text, const std::string& path);

// Parses a ModelConfig written in JSON (Triton's `config` load parameter);
// an unknown field or syntax error is an InvalidArgument naming `what`.
absl::StatusOr<inference::ModelConfig> ParseModelConfigJson(const std::string& json, const std::string& what);

// Fills what the config leaves out (name from the folder, inputs/outputs from
// the model file via `backend`, instance groups, version policy, batching
// defaults) and checks the result. `version_dir` is a folder of one version.
absl::Status CompleteModelConfig(inference::ModelConfig* config, const std::string& model_name, Backend* backend,
                                 const std::string& version_dir);

// Checks a (completed) config; errors name the model and the field.
absl::Status ValidateModelConfig(const inference::ModelConfig& config);

}  // namespace imagen::serving
