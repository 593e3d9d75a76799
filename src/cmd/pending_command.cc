#include "cmd/commands.h"
#include "fmt/core.h"

namespace imagen {

CLI::App* AddPendingCommand(CLI::App& app, const std::string& name, const std::string& help, const std::string& issue,
                            int* rc) {
  CLI::App* cmd = app.add_subcommand(name, help + " [not built yet]");
  cmd->allow_extras();
  cmd->prefix_command();
  cmd->callback([rc, name, issue] {
    fmt::print(stderr, "imagen {}: not built yet ({}); nothing was done\n", name, issue);
    *rc = 2;
  });
  return cmd;
}

}  // namespace imagen
