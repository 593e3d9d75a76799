// oneDNN kernels that keep tensors in oneDNN's blocked layouts between
// convolutions: element-wise activations (Relu, LeakyRelu, Sigmoid, Tanh,
// Clip, PRelu), binary ops (Add, Sub, Mul, Div, Max, Min) on equal or
// per-channel/scalar-broadcast shapes, channel Concat, 2-D Max/AveragePool
// and the no-op Cast float→float. Each kernel falls back to the node's
// reference kernel (on plain inputs) for cases outside that fast path.
// Thread-safe: Forward keeps no mutable state.
#pragma once

#include "engine/kernel.h"

namespace imagen::engine {

void RegisterDnnlEltwiseKernels(KernelRegistry& registry);

}  // namespace imagen::engine
