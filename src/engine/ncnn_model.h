// An ncnn model (.param + .bin) read into plain structures: the layer list
// from ncnn_param.h plus each layer's weights widened to fp32. Which arrays a
// layer stores, and in which order, follows ncnn's
// operation-param-weight-table.md for the layer types imagen supports.
// Pure functions; the result is immutable and thread-safe to share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/ncnn_param.h"

namespace imagen::engine {

struct NcnnLayerWeights {
  // In storage order, e.g. {weight, bias} for Convolution.
  std::vector<std::vector<float>> arrays;
};

struct NcnnModel {
  NcnnParamFile graph;
  std::vector<NcnnLayerWeights> weights;  // one per graph.layers entry
};

// Layer types whose parameters and weights this reader understands.
const std::vector<std::string>& SupportedNcnnLayerTypes();

// Reads the weights of `graph` from the bytes of a .bin file. Errors name the
// layer (unknown type, truncated data, trailing bytes, int8 storage).
absl::StatusOr<NcnnModel> ParseNcnnModel(NcnnParamFile graph, std::string_view bin);

// Reads both files through the default Env.
absl::StatusOr<NcnnModel> LoadNcnnModel(const std::string& param_path, const std::string& bin_path);

}  // namespace imagen::engine
