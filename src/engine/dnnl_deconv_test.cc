// oneDNN ConvTranspose against the reference kernel on odd shapes (13
// channels next to 16, stride 2, pads, output_padding, dilation).
#include <cmath>
#include <random>

#include "engine/kernel.h"
#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

Tensor Random(Shape s, uint32_t seed) {
  Tensor t(DataType::kFloat32, std::move(s));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

absl::StatusOr<Tensor> RunDeconv(Backend backend, const Tensor& x, const Tensor& w, const Tensor& b, Attributes a) {
  Graph g;
  Node n;
  n.name = "deconv";
  n.op_type = "ConvTranspose";
  n.attrs = std::move(a);
  n.inputs = {g.AddValue("x"), g.AddValue("w"), g.AddValue("b")};
  n.outputs = {g.AddValue("y")};
  g.initializers[n.inputs[1]] = w;
  g.initializers[n.inputs[2]] = b;
  KernelInit init{n, g, {nullptr, &g.initializers[n.inputs[1]], &g.initializers[n.inputs[2]]}, Precision::kFast, 2};
  const Backend order[] = {backend};
  auto k = KernelRegistry::Global().Create(init, order);
  if (!k.ok()) return k.status();
  RunContext ctx(2);
  std::vector<Tensor> in{x, w, b}, out(1);
  absl::Status s = (*k)->Forward(in, out, ctx);
  if (!s.ok()) return s;
  return ToPlain(out[0]);
}

TEST(DnnlDeconv, MatchesReferenceOnOddShapes) {
  struct Case {
    int64_t ic, oc, h, w, k, stride, dil;
    std::vector<int64_t> pads, out_pad;
  };
  const Case cases[] = {
      {13, 16, 7, 9, 2, 2, 1, {0, 0, 0, 0}, {0, 0}},
      {16, 13, 6, 5, 4, 2, 1, {3, 3, 3, 3}, {0, 0}},
      {64, 3, 9, 8, 4, 2, 1, {1, 2, 1, 2}, {1, 1}},
      {8, 12, 5, 7, 3, 1, 2, {1, 1, 1, 1}, {0, 0}},
  };
  int seed = 1;
  for (const Case& c : cases) {
    Tensor x = Random({1, c.ic, c.h, c.w}, seed++), w = Random({c.ic, c.oc, c.k, c.k}, seed++),
           b = Random({c.oc}, seed++);
    Attributes a;
    a.Set("strides", std::vector<int64_t>{c.stride, c.stride});
    a.Set("dilations", std::vector<int64_t>{c.dil, c.dil});
    a.Set("pads", c.pads);
    a.Set("output_padding", c.out_pad);
    a.Set("kernel_shape", std::vector<int64_t>{c.k, c.k});
    auto ref = RunDeconv(Backend::kReference, x, w, b, a);
    ASSERT_TRUE(ref.ok()) << ref.status();
    auto got = RunDeconv(Backend::kDnnl, x, w, b, a);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->shape(), ref->shape());
    float m = 0;
    for (int64_t i = 0; i < ref->size(); ++i) m = std::max(m, std::fabs(ref->data<float>()[i] - got->data<float>()[i]));
    EXPECT_LT(m, 1e-4f) << "ic=" << c.ic << " oc=" << c.oc << " k=" << c.k;
  }
}

TEST(DnnlDeconv, DeclinesWhatItDoesNotCover) {
  Attributes a;
  a.Set("group", int64_t{2});
  auto r = RunDeconv(Backend::kDnnl, Random({1, 4, 3, 3}, 1), Random({4, 2, 2, 2}, 2), Random({4}, 3), a);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace imagen::engine
