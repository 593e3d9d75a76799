// The one list of kernel backends compiled into the engine. A backend adds
// its Register*Kernels call here (later registrations of the same op are
// tried in ModelOptions::backends order, not registration order).
#include "engine/kernel.h"

namespace imagen::engine {

void RegisterAllKernels(KernelRegistry& registry) { RegisterReferenceKernels(registry); }

}  // namespace imagen::engine
