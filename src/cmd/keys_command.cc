// `imagen keys`: Create and list API keys.
#include "cmd/commands.h"

namespace imagen {

void AddKeysCommand(CLI::App& app, int* rc) {
  AddPendingCommand(app, "keys", "Create and list API keys", "job platform issue", rc);
}

}  // namespace imagen
