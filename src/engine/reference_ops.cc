// The reference backend: plain C++ kernels that are the specification of
// each op (see docs/engine.md for the supported subset).
#include "engine/kernel.h"
#include "engine/ref_util.h"

namespace imagen::engine {

void RegisterReferenceKernels(KernelRegistry& r) {
  ref::RegisterElementwise(r);
  ref::RegisterConv(r);
  ref::RegisterPool(r);
  ref::RegisterResize(r);
  ref::RegisterShapeOps(r);
  ref::RegisterNorm(r);
  ref::RegisterQuant(r);
}

}  // namespace imagen::engine
