// `imagen infer`: Triton-compatible inference server (KServe v2 HTTP/gRPC).
#include "cmd/commands.h"

namespace imagen {

void AddInferCommand(CLI::App& app, int* rc) {
  AddPendingCommand(app, "infer", "Triton-compatible inference server (KServe v2 HTTP/gRPC)", "inference server issue",
                    rc);
}

}  // namespace imagen
