// Fusion pass: folds the element-wise ops that follow a Conv (Relu,
// LeakyRelu, Sigmoid, PRelu with a constant slope (AVX-512 CPUs only), Clip with constant bounds,
// Mul by a constant scalar, Add of another tensor) into one FusedConv node
// (dnnl_conv.h) so oneDNN applies them as post-ops while the output is still
// in cache and in its blocked layout. Also registers FusedConv's reference
// kernel (the specification: reference Conv, then each post-op in order).
// Thread-safe: pure functions over a Graph.
#pragma once

#include "absl/status/status.h"
#include "engine/graph.h"
#include "engine/kernel.h"

namespace imagen::engine {

// Rewrites `graph` in place (it must be topologically sorted; it stays so).
// *fused receives the number of element-wise nodes absorbed when non-null.
absl::Status FuseConvPostOps(Graph& graph, int* fused = nullptr);

void RegisterFusedConvReferenceKernel(KernelRegistry& registry);

}  // namespace imagen::engine
