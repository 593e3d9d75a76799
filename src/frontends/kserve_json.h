// KServe v2 HTTP/REST bodies as Triton reads and writes them: the JSON
// inference request with the binary tensor extension
// (Inference-Header-Content-Length, binary_data_size, binary_data_output),
// the JSON response, metadata, statistics, repository index, and the model
// config printed as Triton prints it (all fields, defaults included). Pure
// functions; thread-safe. Every body is checked for nesting depth before the
// (recursive) JSON parser sees it, and every string written is valid UTF-8.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model_config.pb.h"
#include "nlohmann/json.hpp"
#include "serving/inference_request.h"
#include "serving/server.h"
#include "serving/shared_memory.h"
#include "serving/statistics.h"

namespace imagen::frontends {

// Triton's cap on JSON nesting (arrays and objects) in a request body.
constexpr int kMaxJsonDepth = 100;
// True when `text` nests arrays/objects deeper than `max_depth`; brackets
// inside strings do not count. Linear, no recursion.
bool JsonDepthExceeds(std::string_view text, int max_depth);
// Parses a JSON object after the depth check; errors are InvalidArgument
// "failed to parse the <what> JSON buffer: ...".
absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view text, std::string_view what);

// `header_length`: the Inference-Header-Content-Length value, if present.
// With `shm`, inputs with shared_memory_region parameters are read from their
// region and outputs with them are resolved into `*shm_outputs`; without, such
// parameters are refused.
absl::StatusOr<serving::InferRequest> ParseInferRequest(
    const std::string& body, std::optional<size_t> header_length, const std::string& model, const std::string& version,
    bool* binary_outputs_default, std::vector<std::string>* binary_outputs, std::vector<std::string>* json_outputs,
    const serving::SharedMemoryManager* shm = nullptr, serving::SharedMemoryOutputs* shm_outputs = nullptr);

// The raw binary request form (Inference-Header-Content-Length: 0): the whole
// body is the one input of a model with exactly one input; its name, datatype
// and shape come from the config as Triton deduces them (batch dimension 1
// when the model batches; at most one variable dimension, sized from the
// body; a BYTES input must have shape [1] and the body is its one element).
absl::StatusOr<serving::InferRequest> ParseRawInferRequest(std::string body, const inference::ModelConfig& config,
                                                           const std::string& model, const std::string& version);

struct EncodedResponse {
  std::string body;
  std::optional<size_t> header_length;  // set when binary data follows the JSON
};
// Outputs in `shm_outputs` (already written to their regions) carry
// shared_memory_region / _byte_size / _offset parameters instead of data.
EncodedResponse EncodeInferResponse(const serving::InferResponse& response, bool binary_default,
                                    const std::vector<std::string>& binary_outputs,
                                    const std::vector<std::string>& json_outputs,
                                    const serving::SharedMemoryOutputs* shm_outputs = nullptr);

// The body of POST /v2/repository/models/{m}/load: {"parameters": {"config":
// "<ModelConfig JSON>", "file:<path>": "<base64>"}}; any other parameter is
// refused (InvalidArgument), never ignored. An empty body loads as is.
absl::StatusOr<serving::ModelLoadOverrides> ParseLoadRequest(std::string_view body);
// The body of .../unload: {"parameters": {"unload_dependents": false}}.
absl::Status ParseUnloadRequest(std::string_view body);

std::string MetadataJson(const serving::ModelMetadata& md);
std::string ServerMetadataJson();
std::string StatisticsJson(const std::vector<serving::ModelStatsSnapshot>& stats);
std::string IndexJson(const std::vector<serving::ModelIndexEntry>& index);
std::string ConfigJson(const inference::ModelConfig& config);
std::string ErrorJson(const std::string& message);

}  // namespace imagen::frontends
