// KServe v2 HTTP/REST bodies as Triton reads and writes them: the JSON
// inference request with the binary tensor extension
// (Inference-Header-Content-Length, binary_data_size, binary_data_output),
// the JSON response, metadata, statistics, repository index, and the model
// config printed as Triton prints it (all fields, defaults included). Pure
// functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model_config.pb.h"
#include "serving/inference_request.h"
#include "serving/server.h"
#include "serving/statistics.h"

namespace imagen::frontends {

// `header_length`: the Inference-Header-Content-Length value, if present.
absl::StatusOr<serving::InferRequest> ParseInferRequest(const std::string& body, std::optional<size_t> header_length,
                                                        const std::string& model, const std::string& version,
                                                        bool* binary_outputs_default,
                                                        std::vector<std::string>* binary_outputs,
                                                        std::vector<std::string>* json_outputs);

struct EncodedResponse {
  std::string body;
  std::optional<size_t> header_length;  // set when binary data follows the JSON
};
EncodedResponse EncodeInferResponse(const serving::InferResponse& response, bool binary_default,
                                    const std::vector<std::string>& binary_outputs,
                                    const std::vector<std::string>& json_outputs);

std::string MetadataJson(const serving::ModelMetadata& md);
std::string ServerMetadataJson();
std::string StatisticsJson(const std::vector<serving::ModelStatsSnapshot>& stats);
std::string IndexJson(const std::vector<serving::ModelIndexEntry>& index);
std::string ConfigJson(const inference::ModelConfig& config);
std::string ErrorJson(const std::string& message);

}  // namespace imagen::frontends
