// `imagen serve`: the all-in-one server (API, workers, in-process inference)
// on the embedded defaults. Blocks until SIGINT/SIGTERM, then shuts down
// gracefully. Returns the process exit code.
#pragma once

#include "common/config.h"

namespace imagen {

int RunServe(const Config& config);

}  // namespace imagen
