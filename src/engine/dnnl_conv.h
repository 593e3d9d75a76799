// oneDNN convolution kernels for ONNX Conv and the engine's FusedConv (a Conv
// whose output runs through post-ops: Relu, LeakyRelu, Sigmoid, PRelu and
// Sum, produced by passes_fusion). In Precision::kFast 3×3 stride-1 layers use
// Winograd: oneDNN's jit_wino_4x3 on AVX-512, the engine's own F(4×4, 3×3)
// kernel on AVX2 (winograd_conv.h); kExact uses direct fp32.
// Activations stay in the primitive's preferred blocked layout. Forward is
// thread-safe: primitives are cached per input layout under a mutex, and
// scratch memory comes from the run's RunContext.
#pragma once

#include <string>
#include <vector>

#include "engine/kernel.h"

namespace imagen::engine {

// The op name and attributes the fusion pass writes (domain "imagen").
inline constexpr char kFusedConvOp[] = "FusedConv";
// Attribute "post_ops": list of "Relu" | "LeakyRelu" | "Sigmoid" | "PRelu" |
// "Sum"; "post_alphas": one float per post-op (LeakyRelu slope; ignored
// otherwise). Inputs: X, W, B (may be absent), then one input per PRelu
// (the slope, constant, C or 1 elements) and per Sum (the addend, same shape
// as the output), in post-op order.

void RegisterDnnlConvKernels(KernelRegistry& registry);

}  // namespace imagen::engine
