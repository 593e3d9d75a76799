// The oneDNN element-wise, binary, concat, pooling and cast kernels against
// the reference kernels, on odd shapes (13 channels next to 16) and on inputs
// in oneDNN's blocked layout (nChw8c), plus their fallback cases.
#include <cmath>
#include <random>

#include "engine/dnnl_common.h"
#include "engine/kernel.h"
#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

Tensor Random(Shape s, uint32_t seed) {
  Tensor t(DataType::kFloat32, std::move(s));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-2.f, 2.f);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// The same values in the blocked nChw8c layout.
Tensor Blocked(const Tensor& plain) {
  using dnnl::memory;
  memory::desc bd(dnnl_util::ToDims(plain.shape()), memory::data_type::f32, memory::format_tag::aBcd8b);
  Tensor t =
      Tensor::WithLayout(DataType::kFloat32, plain.shape(), bd.get_size(), std::make_shared<dnnl_util::DnnlLayout>(bd));
  memory src(dnnl_util::PlainDesc(dnnl_util::ToDims(plain.shape()), memory::data_type::f32), dnnl_util::Engine(),
             const_cast<void*>(plain.raw()));
  memory dst(bd, dnnl_util::Engine(), t.raw());
  dnnl::stream s(dnnl_util::Engine());
  dnnl::reorder(src, dst).execute(s, src, dst);
  s.wait();
  return t;
}

struct Case {
  std::string op;
  std::vector<Tensor> inputs;
  std::vector<bool> constant;
  Attributes attrs;
};

absl::StatusOr<Tensor> RunOne(const Case& c, Backend backend, bool blocked) {
  Graph g;
  g.opset = 13;
  Node n;
  n.name = "n";
  n.op_type = c.op;
  n.attrs = c.attrs;
  std::vector<Tensor> feeds;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (c.inputs[i].empty()) {  // an absent optional input
      n.inputs.push_back(kNoValue);
      feeds.emplace_back();
      continue;
    }
    ValueId id = g.AddValue("i" + std::to_string(i));
    if (c.constant[i]) g.initializers[id] = c.inputs[i];
    n.inputs.push_back(id);
    feeds.push_back(blocked && !c.constant[i] && c.inputs[i].rank() == 4 ? Blocked(c.inputs[i]) : c.inputs[i]);
  }
  n.outputs.push_back(g.AddValue("y"));
  std::vector<const Tensor*> consts;
  for (ValueId id : n.inputs)
    consts.push_back(id != kNoValue && g.initializers.count(id) ? &g.initializers[id] : nullptr);
  KernelInit init{n, g, consts, Precision::kFast, 2};
  const Backend order[] = {backend};
  auto k = KernelRegistry::Global().Create(init, order);
  if (!k.ok()) return k.status();
  if (backend == Backend::kReference) {
    for (Tensor& f : feeds) {
      if (f.empty()) continue;
      auto p = ToPlain(f);
      if (!p.ok()) return p.status();
      f = *p;
    }
  }
  RunContext ctx(2);
  std::vector<Tensor> out(1);
  absl::Status s = (*k)->Forward(feeds, out, ctx);
  if (!s.ok()) return s;
  return ToPlain(out[0]);
}

void ExpectMatch(const Case& c) {
  auto ref = RunOne(c, Backend::kReference, false);
  ASSERT_TRUE(ref.ok()) << c.op << ": " << ref.status();
  for (bool blocked : {false, true}) {
    auto got = RunOne(c, Backend::kDnnl, blocked);
    ASSERT_TRUE(got.ok()) << c.op << ": " << got.status();
    ASSERT_EQ(got->shape(), ref->shape()) << c.op;
    ASSERT_EQ(got->dtype(), ref->dtype()) << c.op;
    if (ref->dtype() != DataType::kFloat32) {
      EXPECT_EQ(ToInt64Vector(*got), ToInt64Vector(*ref)) << c.op;
      continue;
    }
    float m = 0;
    for (int64_t i = 0; i < ref->size(); ++i) m = std::max(m, std::fabs(ref->data<float>()[i] - got->data<float>()[i]));
    EXPECT_LT(m, 1e-5f) << c.op << (blocked ? " (blocked input)" : " (plain input)");
  }
}

Tensor Scalar(float v) {
  Tensor t(DataType::kFloat32, {});
  t.data<float>()[0] = v;
  return t;
}

TEST(DnnlEltwise, ActivationsMatchReference) {
  for (Shape s : {Shape{2, 13, 7, 9}, Shape{1, 16, 5, 6}}) {
    Attributes leaky;
    leaky.Set("alpha", 0.2f);
    ExpectMatch({"Relu", {Random(s, 1)}, {false}, {}});
    ExpectMatch({"LeakyRelu", {Random(s, 2)}, {false}, leaky});
    ExpectMatch({"Sigmoid", {Random(s, 3)}, {false}, {}});
    ExpectMatch({"Tanh", {Random(s, 4)}, {false}, {}});
    ExpectMatch({"Clip", {Random(s, 5), Scalar(-0.5f), Scalar(0.7f)}, {false, true, true}, {}});
    ExpectMatch({"PRelu", {Random(s, 6), Random({s[1], 1, 1}, 7)}, {false, true}, {}});
    ExpectMatch({"PRelu", {Random(s, 8), Random({1}, 9)}, {false, true}, {}});
    ExpectMatch({"PRelu", {Random(s, 8), Random({s[3]}, 9)}, {false, true}, {}});  // per-column: fallback
  }
}

TEST(DnnlEltwise, BinaryMatchesReference) {
  const Shape s{2, 13, 7, 9};
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
    ExpectMatch({op, {Random(s, 10), Random(s, 11)}, {false, false}, {}});
    ExpectMatch({op, {Random(s, 12), Random({1, 13, 1, 1}, 13)}, {false, false}, {}});
    ExpectMatch({op, {Random(s, 14), Scalar(0.3f)}, {false, true}, {}});
    ExpectMatch({op, {Random({1, 13, 1, 1}, 15), Random(s, 16)}, {false, false}, {}});  // fallback
  }
}

TEST(DnnlEltwise, ConcatPoolCast) {
  Attributes axis1;
  axis1.Set("axis", int64_t{1});
  ExpectMatch({"Concat",
               {Random({1, 13, 6, 7}, 20), Random({1, 16, 6, 7}, 21), Random({1, 3, 6, 7}, 22)},
               {false, false, false},
               axis1});
  Attributes axis2;
  axis2.Set("axis", int64_t{2});
  ExpectMatch({"Concat", {Random({1, 13, 6, 7}, 23), Random({1, 13, 2, 7}, 24)}, {false, false}, axis2});
  Attributes pool;
  pool.Set("kernel_shape", std::vector<int64_t>{2, 2});
  pool.Set("strides", std::vector<int64_t>{2, 2});
  pool.Set("ceil_mode", int64_t{1});
  ExpectMatch({"MaxPool", {Random({1, 13, 7, 9}, 25)}, {false}, pool});
  Attributes avg;
  avg.Set("kernel_shape", std::vector<int64_t>{3, 3});
  avg.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  ExpectMatch({"AveragePool", {Random({1, 16, 7, 9}, 26)}, {false}, avg});
  Attributes lin;
  lin.Set("mode", std::string("linear"));
  Tensor scales(DataType::kFloat32, {4});
  const float sv[] = {1.f, 1.f, 2.f, 2.f};
  std::copy(sv, sv + 4, scales.data<float>());
  ExpectMatch({"Resize", {Random({1, 13, 5, 7}, 28), Tensor(), scales}, {false, true, true}, lin});
  Attributes lin_pt = lin;
  lin_pt.Set("coordinate_transformation_mode", std::string("pytorch_half_pixel"));
  ExpectMatch({"Resize",
               {Random({1, 16, 9, 6}, 29), Tensor(), Tensor(), MakeInt64Tensor({1, 16, 17, 11})},
               {false, true, true, false},
               lin_pt});
  ExpectMatch({"Shape", {Random({1, 13, 3, 5}, 30)}, {false}, {}});
  Attributes shape_slice;
  shape_slice.Set("start", int64_t{-2});
  ExpectMatch({"Shape", {Random({2, 13, 3, 5}, 31)}, {false}, shape_slice});
  Attributes cast;
  cast.Set("to", int64_t{1});
  ExpectMatch({"Cast", {Random({1, 13, 3, 5}, 27)}, {false}, cast});
}

}  // namespace
}  // namespace imagen::engine
