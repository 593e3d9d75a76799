// The dequantise-at-load pass: a DynamicQuantizeLinear → ConvInteger → Cast →
// Mul → Add chain becomes one fp32 Conv with weights (wq - zp) * scale, which
// runs the same on the reference and the oneDNN backends.
#include "engine/passes_dequant.h"

#include <algorithm>
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
  ASSERT_TRUE(DequantizeConvInteger(g, /*exact=*/false, &n).ok());
  EXPECT_EQ(n, 1);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op_type, "DynamicFakeQuantize");
  EXPECT_EQ(g.nodes[1].op_type, "Conv");
  EXPECT_EQ(g.nodes[1].inputs[0], g.nodes[0].outputs[0]);
  const Tensor& w = g.initializers.at(g.nodes[1].inputs[1]);
  EXPECT_FLOAT_EQ(w.data<float>()[1], (37.f - 128.f) * 0.01f);
  EXPECT_EQ(g.nodes[1].inputs.size(), 3u);  // the bias joined the Conv
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

  // Both equal the integer computation onnxruntime does: x on the uint8 grid
  // of DynamicQuantizeLinear, an int32 ConvInteger, then the scales.
  const float* xp = x.data<float>();
  float mn = 0, mx = 0;
  for (int64_t i = 0; i < x.size(); ++i) mn = std::min(mn, xp[i]), mx = std::max(mx, xp[i]);
  const float xs = (mx - mn) / 255.f, xzp = std::clamp(std::nearbyint(-mn / xs), 0.f, 255.f);
  auto xq = [&](int64_t c, int64_t h, int64_t w) -> int32_t {
    if (h < 0 || h >= 6 || w < 0 || w >= 5) return 0;  // padding is the zero point
    return static_cast<int32_t>(std::clamp(std::nearbyint(xp[(c * 6 + h) * 5 + w] / xs) + xzp, 0.f, 255.f)) -
           static_cast<int32_t>(xzp);
  };
  float worst = 0;
  for (int64_t o = 0; o < 4; ++o) {
    for (int64_t h = 0; h < 6; ++h) {
      for (int64_t w = 0; w < 5; ++w) {
        int32_t acc = 0;
        for (int64_t c = 0; c < 3; ++c)
          for (int64_t a2 = 0; a2 < 3; ++a2)
            for (int64_t b2 = 0; b2 < 3; ++b2) {
              const int64_t wi = ((o * 3 + c) * 3 + a2) * 3 + b2;
              acc += xq(c, h + a2 - 1, w + b2 - 1) * (static_cast<int32_t>((wi * 37) % 256) - 128);
            }
        const float want = static_cast<float>(acc) * (xs * 0.01f) + 0.1f * static_cast<float>(o);
        worst = std::max(worst, std::fabs(want - (*b)[0].tensor.data<float>()[(o * 6 + h) * 5 + w]));
      }
    }
  }
  EXPECT_LT(worst, 1e-5f);
}

}  // namespace
}  // namespace imagen::engine
