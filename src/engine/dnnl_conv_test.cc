// The oneDNN Conv / FusedConv kernels against their reference kernels on odd
// shapes (13 channels next to 16, odd spatial sizes, strides, dilations,
// groups, every post-op), in both precisions; and the fusion pass.
#include "engine/dnnl_conv.h"

#include <cmath>
#include <random>

#include "engine/kernel.h"
#include "engine/passes_fusion.h"
#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

Tensor Random(Shape s, uint32_t seed, float scale = 1.f) {
  Tensor t(DataType::kFloat32, std::move(s));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

struct ConvCase {
  int64_t n, c, h, w, oc, k, stride, dil, group;
  std::vector<int64_t> pads;
};

// Builds a one-node graph: op(X, W, B, extras...) with W, B (and constant
// extras) as initializers; runtime extras are given at Forward.
struct OneNode {
  Graph g;
  Node node;
  std::vector<const Tensor*> consts;
};

OneNode MakeNode(const std::string& op, const ConvCase& cc, const Tensor& w, const Tensor& b,
                 const std::vector<std::pair<Tensor, bool>>& extras, Attributes post) {
  OneNode o;
  o.node.name = "n";
  o.node.op_type = op;
  if (op == kFusedConvOp) o.node.domain = "imagen";
  o.node.attrs = std::move(post);
  o.node.attrs.Set("strides", std::vector<int64_t>{cc.stride, cc.stride});
  o.node.attrs.Set("dilations", std::vector<int64_t>{cc.dil, cc.dil});
  o.node.attrs.Set("pads", cc.pads);
  o.node.attrs.Set("group", cc.group);
  o.node.attrs.Set("kernel_shape", std::vector<int64_t>{cc.k, cc.k});
  o.node.inputs.push_back(o.g.AddValue("x"));
  ValueId wid = o.g.AddValue("w"), bid = o.g.AddValue("b");
  o.g.initializers[wid] = w;
  o.g.initializers[bid] = b;
  o.node.inputs.push_back(wid);
  o.node.inputs.push_back(bid);
  for (size_t i = 0; i < extras.size(); ++i) {
    ValueId id = o.g.AddValue("e" + std::to_string(i));
    if (extras[i].second) o.g.initializers[id] = extras[i].first;
    o.node.inputs.push_back(id);
  }
  o.node.outputs.push_back(o.g.AddValue("y"));
  for (ValueId id : o.node.inputs) {
    auto it = o.g.initializers.find(id);
    o.consts.push_back(it == o.g.initializers.end() ? nullptr : &it->second);
  }
  return o;
}

absl::StatusOr<Tensor> RunOne(const OneNode& o, Backend backend, Precision prec, std::vector<Tensor> inputs) {
  KernelInit init{o.node, o.g, o.consts, prec, 2};
  const Backend order[] = {backend};
  auto k = KernelRegistry::Global().Create(init, order);
  if (!k.ok()) return k.status();
  RunContext ctx(2);
  std::vector<Tensor> out(1);
  absl::Status s = (*k)->Forward(inputs, out, ctx);
  if (!s.ok()) return s;
  return ToPlain(out[0]);
}

float MaxDiff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float m = 0;
  for (int64_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  return m;
}

const ConvCase kCases[] = {
    {1, 13, 11, 9, 16, 3, 1, 1, 1, {1, 1, 1, 1}},  {2, 16, 12, 13, 13, 3, 1, 1, 1, {1, 1, 1, 1}},
    {1, 13, 17, 15, 7, 3, 2, 1, 1, {1, 0, 1, 2}},  {1, 16, 19, 19, 16, 3, 1, 2, 1, {2, 2, 2, 2}},
    {1, 12, 9, 10, 24, 1, 1, 1, 1, {0, 0, 0, 0}},  {1, 3, 21, 20, 64, 3, 1, 1, 1, {1, 1, 1, 1}},
    {1, 16, 8, 9, 16, 3, 1, 1, 4, {1, 1, 1, 1}},   {1, 13, 10, 7, 13, 5, 1, 1, 13, {2, 2, 2, 2}},
    {1, 64, 32, 31, 64, 3, 1, 1, 1, {1, 1, 1, 1}},
};

TEST(DnnlConv, MatchesReferenceOnOddShapes) {
  int seed = 1;
  for (const ConvCase& cc : kCases) {
    Tensor x = Random({cc.n, cc.c, cc.h, cc.w}, seed++);
    Tensor w = Random({cc.oc, cc.c / cc.group, cc.k, cc.k}, seed++, 0.3f);
    Tensor b = Random({cc.oc}, seed++);
    OneNode o = MakeNode("Conv", cc, w, b, {}, {});
    auto ref = RunOne(o, Backend::kReference, Precision::kExact, {x, w, b});
    ASSERT_TRUE(ref.ok()) << ref.status();
    for (Precision p : {Precision::kExact, Precision::kFast}) {
      auto got = RunOne(o, Backend::kDnnl, p, {x, w, b});
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_LT(MaxDiff(*ref, *got), 1e-4f) << "c=" << cc.c << " oc=" << cc.oc << " k=" << cc.k << " g=" << cc.group;
    }
  }
}

TEST(DnnlConv, FusedPostOpsMatchReference) {
  const ConvCase cc{2, 13, 11, 10, 16, 3, 1, 1, 1, {1, 1, 1, 1}};
  Tensor x = Random({2, 13, 11, 10}, 7), w = Random({16, 13, 3, 3}, 8, 0.3f), b = Random({16}, 9);
  Tensor slope = Random({16, 1, 1}, 10, 0.5f), addend = Random({2, 16, 11, 10}, 11),
         bias_add = Random({1, 16, 1, 1}, 12);
  Attributes post;
  post.Set("post_ops",
           std::vector<std::string>{"PRelu", "Sum", "LeakyRelu", "Linear", "Sum", "Clip", "Sigmoid", "Relu"});
  post.Set("post_alphas", std::vector<float>{0, 0, 0.2f, 0.5f, 0, -0.8f, 0, 0});
  post.Set("post_betas", std::vector<float>{0, 0, 0, 0, 0, 0.9f, 0, 0});
  OneNode o = MakeNode(kFusedConvOp, cc, w, b, {{slope, true}, {addend, false}, {bias_add, false}}, post);
  auto ref = RunOne(o, Backend::kReference, Precision::kExact, {x, w, b, slope, addend, bias_add});
  ASSERT_TRUE(ref.ok()) << ref.status();
  auto got = RunOne(o, Backend::kDnnl, Precision::kExact, {x, w, b, slope, addend, bias_add});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_LT(MaxDiff(*ref, *got), 1e-5f);
}

TEST(DnnlConv, PostOpOrdersMatchReference) {
  // Some orders have no JIT kernel (sum after an activation on AVX2): the
  // kernel then fuses a prefix and runs the rest as separate primitives.
  const ConvCase cc{1, 16, 9, 11, 24, 3, 1, 1, 1, {1, 1, 1, 1}};
  Tensor x = Random({1, 16, 9, 11}, 30), w = Random({24, 16, 3, 3}, 31, 0.3f), b = Random({24}, 32);
  Tensor addend = Random({1, 24, 9, 11}, 33);
  for (auto kinds : {std::vector<std::string>{"Relu", "Sum"}, std::vector<std::string>{"Sum", "Relu"},
                     std::vector<std::string>{"Sigmoid", "Sum", "LeakyRelu"}}) {
    Attributes post;
    post.Set("post_ops", kinds);
    post.Set("post_alphas", std::vector<float>(kinds.size(), 0.1f));
    OneNode o = MakeNode(kFusedConvOp, cc, w, b, {{addend, false}}, post);
    auto ref = RunOne(o, Backend::kReference, Precision::kExact, {x, w, b, addend});
    ASSERT_TRUE(ref.ok()) << ref.status();
    auto got = RunOne(o, Backend::kDnnl, Precision::kFast, {x, w, b, addend});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_LT(MaxDiff(*ref, *got), 1e-4f) << kinds[0] << "," << kinds[1];
  }
}

TEST(DnnlConv, OpaqueLayoutFlowsBetweenConvs) {
  const ConvCase cc{1, 16, 9, 9, 16, 3, 1, 1, 1, {1, 1, 1, 1}};
  Tensor x = Random({1, 16, 9, 9}, 20), w = Random({16, 16, 3, 3}, 21, 0.3f), b = Random({16}, 22);
  OneNode o = MakeNode("Conv", cc, w, b, {}, {});
  KernelInit init{o.node, o.g, o.consts, Precision::kExact, 2};
  const Backend dnnl[] = {Backend::kDnnl};
  auto k = KernelRegistry::Global().Create(init, dnnl);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_TRUE((*k)->AcceptsOpaqueLayout());
  RunContext ctx(2);
  std::vector<Tensor> y1(1), y2(1);
  std::vector<Tensor> in1{x, w, b};
  ASSERT_TRUE((*k)->Forward(in1, y1, ctx).ok());
  std::vector<Tensor> in2{y1[0], w, b};  // possibly blocked: fed as is
  ASSERT_TRUE((*k)->Forward(in2, y2, ctx).ok());
  auto p1 = ToPlain(y1[0]);
  ASSERT_TRUE(p1.ok());
  auto ref2 = RunOne(o, Backend::kReference, Precision::kExact, {*p1, w, b});
  ASSERT_TRUE(ref2.ok());
  auto p2 = ToPlain(y2[0]);
  ASSERT_TRUE(p2.ok());
  EXPECT_LT(MaxDiff(*ref2, *p2), 1e-4f);
}

TEST(DnnlConv, BadInputIsAnErrorNotACrash) {
  const ConvCase cc{1, 16, 9, 9, 16, 3, 1, 1, 1, {1, 1, 1, 1}};
  Tensor w = Random({16, 16, 3, 3}, 1), b = Random({16}, 2);
  OneNode o = MakeNode("Conv", cc, w, b, {}, {});
  auto r = RunOne(o, Backend::kDnnl, Precision::kFast, {Random({1, 13, 9, 9}, 3), w, b});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("channels"), std::string::npos) << r.status();
}

TEST(FusionPass, FoldsActivationChainAndAdd) {
  Graph g;
  ValueId x = g.AddValue("x"), w = g.AddValue("w"), c = g.AddValue("c"), r = g.AddValue("r"), s = g.AddValue("s"),
          other = g.AddValue("other"), y = g.AddValue("y"), alpha = g.AddValue("alpha"), m = g.AddValue("m");
  g.initializers[w] = Random({4, 4, 3, 3}, 1);
  g.initializers[alpha] = Random({1}, 2);
  g.inputs = {x, other};
  auto add = [&](const std::string& op, std::vector<ValueId> in, ValueId out) {
    Node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {out};
    g.nodes.push_back(std::move(n));
  };
  add("Conv", {x, w}, c);
  add("Relu", {c}, r);
  add("Mul", {alpha, r}, m);
  add("Add", {m, other}, s);
  add("Sigmoid", {s}, y);
  g.outputs = {y, s};  // s is an output: the chain must stop before Sigmoid
  int fused = 0;
  ASSERT_TRUE(FuseConvPostOps(g, &fused).ok());
  EXPECT_EQ(fused, 3);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op_type, kFusedConvOp);
  EXPECT_EQ(g.nodes[0].outputs[0], s);
  EXPECT_EQ(g.nodes[0].inputs.size(), 4u);
  EXPECT_EQ(g.nodes[0].inputs[3], other);
  EXPECT_EQ(g.nodes[1].op_type, "Sigmoid");
}

}  // namespace
}  // namespace imagen::engine
