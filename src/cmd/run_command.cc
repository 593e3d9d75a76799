// `imagen run`: Process one image locally: imagen run OP INPUT -o OUTPUT.
#include "cmd/commands.h"

namespace imagen {

void AddRunCommand(CLI::App& app, int* rc) {
  AddPendingCommand(app, "run", "Process one image locally: imagen run OP INPUT -o OUTPUT", "image operations issue",
                    rc);
}

}  // namespace imagen
