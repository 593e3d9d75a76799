#include "engine/passes_fusion.h"

#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/dnnl_conv.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace imagen::engine {
namespace {

const Tensor* ConstOf(const Graph& g, ValueId id) {
  auto it = g.initializers.find(id);
  return it == g.initializers.end() ? nullptr : &it->second;
}

bool ScalarConst(const Graph& g, ValueId id, float* v) {
  const Tensor* t = ConstOf(g, id);
  if (t == nullptr || t->dtype() != DataType::kFloat32 || t->size() != 1 || !t->is_plain()) return false;
  *v = t->data<float>()[0];
  return true;
}

// A PRelu slope that applies per channel of an NCHW tensor (or is a scalar).
bool PerChannelSlope(const Graph& g, ValueId id, int64_t channels) {
  const Tensor* t = ConstOf(g, id);
  if (t == nullptr || t->dtype() != DataType::kFloat32) return false;
  if (t->size() == 1) return true;
  const Shape& s = t->shape();
  const bool chw = s.size() == 3 && s[1] == 1 && s[2] == 1;
  const bool nchw = s.size() == 4 && s[0] == 1 && s[2] == 1 && s[3] == 1;
  return (chw || nchw) && t->size() == channels;
}

}  // namespace

absl::Status FuseConvPostOps(Graph& g, int* fused) {
  // oneDNN 2.6 has no JIT convolution with a PReLU post-op on AVX2 (it falls
  // back to ref:any, ~100x slower); PRelu then runs as its own primitive.
  const bool allow_prelu = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core;
  std::map<ValueId, std::vector<size_t>> readers;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (ValueId v : g.nodes[i].inputs)
      if (v != kNoValue) readers[v].push_back(i);
  std::set<ValueId> outputs(g.outputs.begin(), g.outputs.end());
  std::vector<bool> dead(g.nodes.size(), false);
  int count = 0;
  for (size_t ci = 0; ci < g.nodes.size(); ++ci) {
    Node& conv = g.nodes[ci];
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 || conv.inputs.size() < 2) continue;
    const Tensor* w = ConstOf(g, conv.inputs[1]);
    if (w == nullptr || w->rank() != 4) continue;
    std::vector<std::string> kinds;
    std::vector<float> alphas, betas;
    std::vector<ValueId> extra;
    ValueId cur = conv.outputs[0];
    while (!outputs.count(cur) && readers[cur].size() == 1) {
      const size_t ni = readers[cur][0];
      const Node& n = g.nodes[ni];
      if (!n.domain.empty() || n.outputs.size() != 1) break;
      float a = 0.f, b = 0.f;
      if (n.op_type == "Relu" || n.op_type == "Sigmoid") {
        kinds.push_back(n.op_type);
      } else if (n.op_type == "LeakyRelu") {
        ASSIGN_OR_RETURN(a, n.attrs.GetFloat("alpha", 0.01f));
        kinds.push_back("LeakyRelu");
      } else if (allow_prelu && n.op_type == "PRelu" && n.inputs.size() == 2 && n.inputs[0] == cur &&
                 PerChannelSlope(g, n.inputs[1], w->dim(0))) {
        kinds.push_back("PRelu");
        extra.push_back(n.inputs[1]);
      } else if (n.op_type == "Clip" && n.inputs.size() == 3 && n.inputs[0] == cur && ScalarConst(g, n.inputs[1], &a) &&
                 ScalarConst(g, n.inputs[2], &b)) {
        kinds.push_back("Clip");
      } else if (n.op_type == "Mul" && n.inputs.size() == 2 &&
                 ScalarConst(g, n.inputs[n.inputs[0] == cur ? 1 : 0], &a)) {
        kinds.push_back("Linear");
      } else if (n.op_type == "Add" && n.inputs.size() == 2 && n.inputs[0] != n.inputs[1] &&
                 ConstOf(g, n.inputs[n.inputs[0] == cur ? 1 : 0]) == nullptr) {
        kinds.push_back("Sum");
        extra.push_back(n.inputs[n.inputs[0] == cur ? 1 : 0]);
      } else {
        break;
      }
      alphas.push_back(a);
      betas.push_back(b);
      dead[ni] = true;
      cur = n.outputs[0];
    }
    if (kinds.empty()) continue;
    count += static_cast<int>(kinds.size());
    conv.op_type = kFusedConvOp;
    conv.domain = "imagen";
    conv.inputs.resize(3, kNoValue);
    conv.inputs.insert(conv.inputs.end(), extra.begin(), extra.end());
    conv.outputs = {cur};
    conv.attrs.Set("post_ops", kinds);
    conv.attrs.Set("post_alphas", alphas);
    conv.attrs.Set("post_betas", betas);
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  if (fused) *fused = count;
  // A fused node now reads the Sum addend, which may be produced after the
  // Conv: re-sort.
  return g.TopoSort();
}

}  // namespace imagen::engine
