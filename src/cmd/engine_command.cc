// `imagen engine`: Run, benchmark and check models on the CPU engine.
#include "cmd/commands.h"

namespace imagen {

void AddEngineCommand(CLI::App& app, int* rc) {
  AddPendingCommand(app, "engine", "Run, benchmark and check models on the CPU engine", "inference engine issue", rc);
}

}  // namespace imagen
