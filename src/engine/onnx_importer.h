// Imports an ONNX ModelProto (opset 11-19, default domain) into the engine's
// Graph. Weights may arrive as initializers or as graph inputs (node tests
// feed them as inputs); fp16 initializers are widened to fp32. Thread-safe:
// pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "engine/tensor.h"

namespace imagen::engine {

// Parses serialized ModelProto bytes.
absl::StatusOr<Graph> ImportOnnx(const std::string& bytes);

// Parses serialized TensorProto bytes (the node tests' input_*.pb / output_*.pb).
// Returns the tensor and sets *name to the proto's name when non-null.
absl::StatusOr<Tensor> ParseOnnxTensor(const std::string& bytes, std::string* name = nullptr);

}  // namespace imagen::engine

namespace imagen::engine {

// The distinct op types of a serialized ModelProto's main graph (domain
// prefixed as "domain:Op" outside the default domain).
absl::StatusOr<std::vector<std::string>> OnnxOpTypes(const std::string& bytes);

}  // namespace imagen::engine
