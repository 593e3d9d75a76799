#include "engine/passes_dequant.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace imagen::engine {
namespace {

const Tensor* Const(const Graph& g, ValueId id) {
  auto it = g.initializers.find(id);
  return it == g.initializers.end() || !it->second.is_plain() ? nullptr : &it->second;
}

// Element i of a scalar or per-output-channel constant, as float.
float At(const Tensor& t, int64_t i) {
  const int64_t k = t.size() == 1 ? 0 : i;
  switch (t.dtype()) {
    case DataType::kFloat32:
      return t.data<float>()[k];
    case DataType::kInt8:
      return static_cast<float>(t.data<int8_t>()[k]);
    case DataType::kUInt8:
      return static_cast<float>(t.data<uint8_t>()[k]);
    default:
      return 0.f;
  }
}

}  // namespace

absl::Status DequantizeConvInteger(Graph& g, bool exact, int* rewritten) {
  std::map<ValueId, std::vector<size_t>> readers;
  std::map<ValueId, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (ValueId v : g.nodes[i].inputs)
      if (v != kNoValue) readers[v].push_back(i);
    for (ValueId v : g.nodes[i].outputs) producer[v] = i;
  }
  auto only_reader = [&](ValueId v, const char* op) -> Node* {
    auto it = readers.find(v);
    if (it == readers.end() || it->second.size() != 1) return nullptr;
    Node& n = g.nodes[it->second[0]];
    return n.op_type == op && n.domain.empty() ? &n : nullptr;
  };
  std::vector<bool> dead(g.nodes.size(), false);
  std::vector<Node> added;
  std::map<ValueId, ValueId> fake_quantized;  // x → its DynamicFakeQuantize output
  std::map<size_t, ValueId> as_float;         // exact: quantizer node → its integers as floats
  int count = 0;
  for (size_t ci = 0; ci < g.nodes.size(); ++ci) {
    Node& conv = g.nodes[ci];
    if (conv.op_type != "ConvInteger" || !conv.domain.empty() || conv.inputs.size() < 2) continue;
    auto pq = producer.find(conv.inputs[0]);
    if (pq == producer.end()) continue;
    Node& dq = g.nodes[pq->second];
    if (dq.op_type != "DynamicQuantizeLinear" || dq.outputs.size() != 3 || dq.outputs[0] != conv.inputs[0]) continue;
    if (conv.inputs.size() > 2 && conv.inputs[2] != kNoValue && conv.inputs[2] != dq.outputs[2]) continue;
    const Tensor* wq = Const(g, conv.inputs[1]);
    const Tensor* wzp = conv.inputs.size() > 3 && conv.inputs[3] != kNoValue ? Const(g, conv.inputs[3]) : nullptr;
    if (wq == nullptr || wq->rank() != 4 || (conv.inputs.size() > 3 && conv.inputs[3] != kNoValue && !wzp)) continue;
    Node* cast = only_reader(conv.outputs[0], "Cast");
    if (cast == nullptr || !cast->attrs.GetInt("to").ok() || *cast->attrs.GetInt("to") != 1) continue;
    Node* mul = only_reader(cast->outputs[0], "Mul");
    if (mul == nullptr || mul->inputs.size() != 2) continue;
    const ValueId s = mul->inputs[mul->inputs[0] == cast->outputs[0] ? 1 : 0];
    auto ps = producer.find(s);
    if (ps == producer.end()) continue;
    const Node& smul = g.nodes[ps->second];
    if (smul.op_type != "Mul" || smul.inputs.size() != 2) continue;
    const int xs_i = smul.inputs[0] == dq.outputs[1] ? 0 : smul.inputs[1] == dq.outputs[1] ? 1 : -1;
    if (xs_i < 0) continue;
    const Tensor* wscale = Const(g, smul.inputs[1 - xs_i]);
    const int64_t oc = wq->dim(0);
    if (wscale == nullptr || (wscale->size() != 1 && wscale->size() != oc) ||
        (wzp && wzp->size() != 1 && wzp->size() != oc)) {
      continue;
    }
    Node* add = only_reader(mul->outputs[0], "Add");
    const Tensor* bias = nullptr;
    if (add != nullptr && add->inputs.size() == 2) {
      bias = Const(g, add->inputs[add->inputs[0] == mul->outputs[0] ? 1 : 0]);
      if (bias == nullptr || bias->dtype() != DataType::kFloat32 || bias->size() != oc) add = nullptr, bias = nullptr;
    } else {
      add = nullptr;
    }
    if (exact) {
      bool only_convs = true;
      for (size_t r : readers[dq.outputs[0]]) only_convs = only_convs && g.nodes[r].op_type == "ConvInteger";
      if (!only_convs) continue;
    }
    // W = (wq - wzp) * w_scale per output channel, or without the scale in
    // exact mode.
    Tensor w(DataType::kFloat32, wq->shape());
    const int64_t per = wq->size() / oc;
    for (int64_t o = 0; o < oc; ++o) {
      const float zp = wzp ? At(*wzp, o) : 0.f, sc = At(*wscale, o);
      for (int64_t k = 0; k < per; ++k) w.data<float>()[o * per + k] = (At(*wq, o * per + k) - zp) * (exact ? 1.f : sc);
    }
    ValueId wid = g.AddValue(absl::StrCat(conv.name, "_dequantized_w"));
    g.values[wid].dtype = DataType::kFloat32;
    g.values[wid].shape = w.shape();
    g.initializers[wid] = std::move(w);
    if (exact) {
      // The integers as floats: the convolution's sums are exact, and the
      // Cast, Mul and Add that follow run as in the model.
      auto [xqf, fresh] = as_float.try_emplace(pq->second, kNoValue);
      if (fresh) {
        xqf->second = g.AddValue(absl::StrCat(g.values[dq.outputs[0]].name, "_as_float"));
        g.values[xqf->second].dtype = DataType::kFloat32;
        g.values[xqf->second].shape = g.values[dq.outputs[0]].shape;
      }
      conv.op_type = "Conv";
      conv.inputs = {xqf->second, wid};
      ++count;
      continue;
    }
    auto [fq, fresh] = fake_quantized.try_emplace(dq.inputs[0], kNoValue);
    if (fresh) {
      fq->second = g.AddValue(absl::StrCat(g.values[dq.inputs[0]].name, "_fake_quantized"));
      g.values[fq->second].dtype = DataType::kFloat32;
      g.values[fq->second].shape = g.values[dq.inputs[0]].shape;
      Node q;
      q.name = absl::StrCat(dq.name, "_fake");
      q.op_type = "DynamicFakeQuantize";
      q.domain = "imagen";
      q.inputs = {dq.inputs[0]};
      q.outputs = {fq->second};
      added.push_back(std::move(q));
    }
    std::vector<ValueId> ins{fq->second, wid};
    if (bias) {
      Tensor b(DataType::kFloat32, {oc});
      std::copy(bias->data<float>(), bias->data<float>() + oc, b.data<float>());
      ValueId bid = g.AddValue(absl::StrCat(conv.name, "_bias"));
      g.values[bid].dtype = DataType::kFloat32;
      g.values[bid].shape = b.shape();
      g.initializers[bid] = std::move(b);
      ins.push_back(bid);
    }
    const ValueId out = add ? add->outputs[0] : mul->outputs[0];
    dead[readers[conv.outputs[0]][0]] = true;   // Cast
    dead[readers[cast->outputs[0]][0]] = true;  // Mul
    if (add) dead[readers[mul->outputs[0]][0]] = true;
    conv.op_type = "Conv";
    conv.inputs = ins;
    conv.outputs = {out};
    ++count;
  }
  // Exact mode: the quantizers become DynamicQuantizeToFloat only now, since
  // the matching above reads them as DynamicQuantizeLinear.
  for (const auto& [i, xqf] : as_float) {
    Node& dq = g.nodes[i];
    dq.op_type = "DynamicQuantizeToFloat";
    dq.domain = "imagen";
    dq.outputs = {xqf, dq.outputs[1]};
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  for (Node& n : added) kept.push_back(std::move(n));
  g.nodes = std::move(kept);
  if (rewritten) *rewritten = count;
  RETURN_IF_ERROR(g.TopoSort());
  g.RemoveDeadNodes();  // the quantizers and scale products nobody reads now
  return absl::OkStatus();
}

}  // namespace imagen::engine
