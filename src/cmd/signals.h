// Shutdown signals: BlockShutdownSignals() must run in main() before any
// thread starts, so that SIGINT/SIGTERM are only received by
// WaitForShutdownSignal().
#pragma once

namespace imagen {

void BlockShutdownSignals();
// Blocks until SIGINT or SIGTERM arrives; returns the signal number.
int WaitForShutdownSignal();

}  // namespace imagen
