// The reference backend: plain C++ kernels that are the specification of
// each op (see docs/engine.md for the supported subset).
#include "engine/kernel.h"
#include "engine/ref_util.h"

namespace imagen::engine {

void RegisterReferenceKernels(KernelRegistry& r) {
  ref::RegisterElementwise(r);
  ref::RegisterShapeOps(r);
}

}  // namespace imagen::engine
