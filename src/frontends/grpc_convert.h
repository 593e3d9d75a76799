// Conversions between KServe v2 gRPC messages (Triton's grpc_service.proto)
// and the serving API's types: requests (raw_input_contents or typed
// contents, priority/timeout parameters), responses (raw_output_contents),
// metadata, statistics. Used by the gRPC frontend and the gRPC client.
// Pure functions; thread-safe.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "grpc_service.pb.h"
#include "serving/inference_request.h"
#include "serving/server.h"
#include "serving/shared_memory.h"
#include "serving/statistics.h"

namespace imagen::frontends {

absl::StatusOr<serving::InferRequest> FromProto(const inference::ModelInferRequest& in);
// As above, moving the raw tensor bytes out of `*in` instead of copying them.
// With `shm`, inputs with shared_memory_* parameters are read from their
// region and such outputs resolved into `*shm_outputs`; without, refused.
absl::StatusOr<serving::InferRequest> FromProto(inference::ModelInferRequest* in,
                                                const serving::SharedMemoryManager* shm = nullptr,
                                                serving::SharedMemoryOutputs* shm_outputs = nullptr);
void ToProto(const serving::InferRequest& in, inference::ModelInferRequest* out);
// Outputs in `shm_outputs` (already written) carry shared_memory_*
// parameters and an empty raw_output_contents entry instead of their data.
void ToProto(serving::InferResponse in, inference::ModelInferResponse* out,
             const serving::SharedMemoryOutputs* shm_outputs = nullptr);
absl::StatusOr<serving::InferResponse> FromProto(inference::ModelInferResponse* in);
void ToProto(const serving::ModelMetadata& in, inference::ModelMetadataResponse* out);
void ToProto(const serving::ModelStatsSnapshot& in, inference::ModelStatistics* out);

}  // namespace imagen::frontends
