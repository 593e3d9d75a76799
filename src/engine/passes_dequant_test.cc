// The dequantise-at-load pass: a DynamicQuantizeLinear → ConvInteger → Cast →
// Mul → Add chain becomes one fp32 Conv with weights (wq - zp) * scale, which
// runs the same on the reference and the oneDNN backends.
#include "engine/passes_dequant.h"

#include <cmath>

#include "engine/engine.h"
#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

Graph QuantizedConv() {
  Graph g;
  auto v = [&](const char* n) { return g.AddValue(n); };
  ValueId x = v("x"), xq = v("xq"), xs = v("xs"), xzp = v("xzp"), wq = v("wq"), wzp = v("wzp"), wsc = v("wsc"),
          s = v("s"), yi = v("yi"), yf = v("yf"), ym = v("ym"), bias = v("bias"), y = v("y");
  g.values[x].shape = Shape{1, 3, 6, 5};
  g.values[x].dtype_known = true;
  Tensor w(DataType::kUInt8, {4, 3, 3, 3});
  for (int64_t i = 0; i < w.size(); ++i) w.data<uint8_t>()[i] = static_cast<uint8_t>((i * 37) % 256);
  g.initializers[wq] = w;
  Tensor zp(DataType::kUInt8, {});
  zp.data<uint8_t>()[0] = 128;
  g.initializers[wzp] = zp;
  Tensor sc(DataType::kFloat32, {});
  sc.data<float>()[0] = 0.01f;
  g.initializers[wsc] = sc;
  Tensor b(DataType::kFloat32, {4, 1, 1});
  for (int i = 0; i < 4; ++i) b.data<float>()[i] = 0.1f * static_cast<float>(i);
  g.initializers[bias] = b;
  auto node = [&](const char* op, std::vector<ValueId> in, std::vector<ValueId> out, Attributes a = {}) {
    Node n;
    n.name = std::string(op) + std::to_string(g.nodes.size());
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attrs = std::move(a);
    g.nodes.push_back(std::move(n));
  };
  node("DynamicQuantizeLinear", {x}, {xq, xs, xzp});
  node("Mul", {xs, wsc}, {s});
  Attributes pads;
  pads.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  node("ConvInteger", {xq, wq, xzp, wzp}, {yi}, pads);
  Attributes to_float;
  to_float.Set("to", int64_t{1});
  node("Cast", {yi}, {yf}, to_float);
  node("Mul", {yf, s}, {ym});
  node("Add", {ym, bias}, {y});
  g.inputs = {x};
  g.outputs = {y};
  g.opset = 13;
  return g;
}

TEST(DequantPass, RewritesTheChainIntoAConv) {
  Graph g = QuantizedConv();
  ASSERT_TRUE(g.TopoSort().ok());
  int n = 0;
  ASSERT_TRUE(DequantizeConvInteger(g, &n).ok());
  EXPECT_EQ(n, 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Conv");
  const Tensor& w = g.initializers.at(g.nodes[0].inputs[1]);
  EXPECT_FLOAT_EQ(w.data<float>()[1], (37.f - 128.f) * 0.01f);
  EXPECT_EQ(g.nodes[0].inputs.size(), 3u);  // the bias joined the Conv
}

TEST(DequantPass, DequantizedModelRunsOnBothBackends) {
  ModelOptions ref;
  ref.backends = {Backend::kReference};
  ref.threads = 1;
  ModelOptions fast;
  fast.threads = 2;
  auto m_ref = CompileGraph(QuantizedConv(), ref);
  auto m_fast = CompileGraph(QuantizedConv(), fast);
  ASSERT_TRUE(m_ref.ok()) << m_ref.status();
  ASSERT_TRUE(m_fast.ok()) << m_fast.status();
  Tensor x(DataType::kFloat32, {1, 3, 6, 5});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = std::sin(0.7f * static_cast<float>(i));
  auto a = (*m_ref)->Run({{"x", x}});
  auto b = (*m_fast)->Run({{"x", x}});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  float m = 0;
  for (int64_t i = 0; i < (*b)[0].tensor.size(); ++i) {
    m = std::max(m, std::fabs((*a)[0].tensor.data<float>()[i] - (*b)[0].tensor.data<float>()[i]));
  }
  EXPECT_LT(m, 1e-4f);
}

}  // namespace
}  // namespace imagen::engine
