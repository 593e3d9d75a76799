// Precision pass: models exported in half precision (ISNet medium) cast their
// activations to float16 around every op. The engine widens fp16 weights to
// fp32 at load, so it computes those models in fp32: each Cast to FLOAT16 whose
// result stays inside the graph becomes a Cast to FLOAT (a no-op the oneDNN
// Cast kernel elides). Casts that produce a graph output keep their type.
// Thread-safe: a pure function over a Graph.
#pragma once

#include "absl/status/status.h"
#include "engine/graph.h"

namespace imagen::engine {

// *rewritten receives the number of Cast nodes changed when non-null.
absl::Status ComputeHalfInFloat(Graph& graph, int* rewritten = nullptr);

}  // namespace imagen::engine
