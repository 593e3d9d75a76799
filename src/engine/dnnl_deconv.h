// oneDNN kernel for ONNX ConvTranspose (see dnnl_deconv.cc for the cases it
// takes; the rest run on the reference kernel). Thread-safe.
#pragma once

#include "engine/kernel.h"

namespace imagen::engine {

void RegisterDnnlDeconvKernels(KernelRegistry& registry);

}  // namespace imagen::engine
