#include "engine/passes_precision.h"

#include <set>

namespace imagen::engine {

absl::Status ComputeHalfInFloat(Graph& graph, int* rewritten) {
  constexpr int64_t kOnnxFloat = 1, kOnnxFloat16 = 10;
  const std::set<ValueId> outputs(graph.outputs.begin(), graph.outputs.end());
  int count = 0;
  for (Node& n : graph.nodes) {
    if (n.op_type != "Cast" || !n.domain.empty() || n.outputs.size() != 1 || outputs.count(n.outputs[0])) continue;
    absl::StatusOr<int64_t> to = n.attrs.GetInt("to");
    if (!to.ok() || *to != kOnnxFloat16) continue;
    n.attrs.Set("to", kOnnxFloat);
    Value& v = graph.values[static_cast<size_t>(n.outputs[0])];
    v.dtype = DataType::kFloat32;
    ++count;
  }
  if (rewritten) *rewritten = count;
  return absl::OkStatus();
}

}  // namespace imagen::engine
