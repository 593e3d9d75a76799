// `imagen bench`: Load generators and benchmarks.
#include "cmd/commands.h"

namespace imagen {

void AddBenchCommand(CLI::App& app, int* rc) {
  AddPendingCommand(app, "bench", "Load generators and benchmarks", "inference server issue", rc);
}

}  // namespace imagen
