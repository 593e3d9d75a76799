// `imagen models`: Install the packaged models into the model repository.
#include "cmd/commands.h"

namespace imagen {

void AddModelsCommand(CLI::App& app, int* rc) {
  AddPendingCommand(app, "models", "Install the packaged models into the model repository", "image operations issue",
                    rc);
}

}  // namespace imagen
