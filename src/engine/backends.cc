// The one list of kernel backends compiled into the engine. A backend adds
// its Register*Kernels call here (later registrations of the same op are
// tried in ModelOptions::backends order, not registration order).
#include "engine/dnnl_conv.h"
#include "engine/dnnl_deconv.h"
#include "engine/dnnl_eltwise.h"
#include "engine/kernel.h"
#include "engine/passes_fusion.h"

namespace imagen::engine {

void RegisterAllKernels(KernelRegistry& registry) {
  RegisterReferenceKernels(registry);
  RegisterFusedConvReferenceKernel(registry);
  RegisterDnnlConvKernels(registry);
  RegisterDnnlEltwiseKernels(registry);
  RegisterDnnlDeconvKernels(registry);
}

}  // namespace imagen::engine
