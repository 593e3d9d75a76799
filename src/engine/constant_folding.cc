#include "engine/constant_folding.h"

#include <vector>

#include "common/status_macros.h"
#include "engine/kernel.h"

namespace imagen::engine {
namespace {

// Folded results larger than this stay as nodes (they would bloat memory).
constexpr int64_t kMaxFoldedBytes = 64 << 20;

bool AllInputsConstant(const Graph& g, const Node& n) {
  for (ValueId in : n.inputs) {
    if (in != kNoValue && !g.IsConstant(in)) return false;
  }
  return true;
}

}  // namespace

absl::Status FoldConstants(Graph& graph, int* folded) {
  const KernelRegistry& registry = KernelRegistry::Global();
  const Backend order[] = {Backend::kReference};
  std::vector<Node> kept;
  int count = 0;
  for (Node& node : graph.nodes) {
    if (!AllInputsConstant(graph, node) || !registry.Has(node.op_type, Backend::kReference) ||
        node.op_type == "DynamicQuantizeLinear") {
      kept.push_back(std::move(node));
      continue;
    }
    KernelInit init{node, graph, {}, Precision::kExact, 1};
    std::vector<Tensor> inputs;
    for (ValueId in : node.inputs) {
      init.constants.push_back(in == kNoValue ? nullptr : &graph.initializers.at(in));
      inputs.push_back(in == kNoValue ? Tensor() : graph.initializers.at(in));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, registry.Create(init, order));
    std::vector<Tensor> outputs(node.outputs.size());
    RunContext ctx(1);
    absl::Status st = kernel->Forward(inputs, outputs, ctx);
    if (!st.ok()) {
      return absl::Status(st.code(), "constant folding of node '" + node.name + "' (" + node.op_type +
                                         "): " + std::string(st.message()));
    }
    bool small = true;
    for (const Tensor& t : outputs) small &= static_cast<int64_t>(t.bytes()) <= kMaxFoldedBytes;
    if (!small) {
      kept.push_back(std::move(node));
      continue;
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i] == kNoValue) continue;
      Value& v = graph.values[static_cast<size_t>(node.outputs[i])];
      v.dtype = outputs[i].dtype();
      v.dtype_known = true;
      v.shape = outputs[i].shape();
      graph.initializers[node.outputs[i]] = std::move(outputs[i]);
    }
    ++count;
  }
  graph.nodes = std::move(kept);
  graph.RemoveDeadNodes();
  if (folded) *folded = count;
  return absl::OkStatus();
}

}  // namespace imagen::engine
