// Constant folding: runs, at load, every node whose inputs are all constant
// (Constant, Cast, Shape of static values, Slice, Gather, Concat, Unsqueeze,
// ... chains) with the reference kernels, and replaces it by initializers.
// Thread-safe: a pure function of the graph.
#pragma once

#include "absl/status/status.h"
#include "engine/graph.h"

namespace imagen::engine {

// Folds in place; `graph` must be topologically sorted. Returns the number of
// nodes removed through *folded when non-null.
absl::Status FoldConstants(Graph& graph, int* folded = nullptr);

}  // namespace imagen::engine
