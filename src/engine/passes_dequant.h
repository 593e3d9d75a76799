// Dequantise-at-load pass for dynamically quantised models (onnxruntime's
// quantize_dynamic output, e.g. ISNet small): the chain
//   (xq, xs, xzp) = DynamicQuantizeLinear(x); s = Mul(xs, w_scale);
//   y = Add(Mul(Cast<float>(ConvInteger(xq, wq, xzp, wzp)), s), bias)
// becomes Conv(DynamicFakeQuantize(x), (wq - wzp) * w_scale, bias):
// activations are still rounded to DynamicQuantizeLinear's 8-bit grid, so
// the result is onnxruntime's integer result up to float rounding, while the
// convolution runs on the fp32 kernels with the scales and bias fused. With
// `exact`, the chain keeps its Cast, Mul and Add, and only becomes
// Conv(DynamicQuantizeToFloat(x), wq - wzp) on integer-valued floats, so the
// sums are onnxruntime's int32 sums (exact below 2^24) and the output matches
// its bit for bit in practice. Thread-safe: a pure function over a Graph.
#pragma once

#include "absl/status/status.h"
#include "engine/graph.h"

namespace imagen::engine {

// *rewritten receives the number of ConvInteger chains replaced.
absl::Status DequantizeConvInteger(Graph& graph, bool exact, int* rewritten = nullptr);

}  // namespace imagen::engine
