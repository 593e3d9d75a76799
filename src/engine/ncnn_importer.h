// Converts a parsed ncnn model (ncnn_model.h) into the engine's Graph, using
// ONNX-semantics ops: ncnn's CHW blobs become NCHW values with a dynamic batch
// and dynamic height/width. Layers: Input, Convolution(DepthWise),
// Deconvolution(DepthWise), InnerProduct, ReLU, PReLU, Sigmoid, Scale,
// BatchNorm, BinaryOp, Eltwise, Split, Concat, Crop, Padding, Pooling, Interp,
// PixelShuffle, Noop (docs/engine-performance.md lists the mapping).
// Thread-safe: a pure function.
#pragma once

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "engine/ncnn_model.h"

namespace imagen::engine {

// Errors name the ncnn layer (unsupported type or parameter, unknown blob).
absl::StatusOr<Graph> ImportNcnn(const NcnnModel& model);

}  // namespace imagen::engine
