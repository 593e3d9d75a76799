// Dequantise-at-load pass for dynamically quantised models (onnxruntime's
// quantize_dynamic output, e.g. ISNet small): the chain
//   (xq, xs, xzp) = DynamicQuantizeLinear(x); s = Mul(xs, w_scale);
//   y = Add(Mul(Cast<float>(ConvInteger(xq, wq, xzp, wzp)), s), bias)
// becomes Conv(x, (wq - wzp) * w_scale, bias), which runs on the fp32 oneDNN
// convolution. Activations are no longer rounded to 8 bits, so results move
// slightly towards the float model (the benchmark reports the difference to
// onnxruntime's int8 run). Thread-safe: a pure function over a Graph.
#pragma once

#include "absl/status/status.h"
#include "engine/graph.h"

namespace imagen::engine {

// *rewritten receives the number of ConvInteger chains replaced.
absl::Status DequantizeConvInteger(Graph& graph, int* rewritten = nullptr);

}  // namespace imagen::engine
