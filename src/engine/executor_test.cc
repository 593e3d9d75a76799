// Executor and engine API: running hand-built graphs, changing the batch,
// concurrent runs, and the errors a caller sees for bad inputs and models.
#include <thread>

#include "engine/engine.h"
#include "engine/onnx_importer.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"

namespace imagen::engine {
namespace {

// x[N,2,3,3] -> Conv(2->2, 1x1, constant W, B) -> Relu -> Add(x) -> y
Graph ConvReluAdd() {
  Graph g;
  const ValueId x = g.AddValue("x"), w = g.AddValue("w"), b = g.AddValue("b"), c = g.AddValue("c"), r = g.AddValue("r"),
                y = g.AddValue("y");
  g.values[x].dtype_known = true;
  g.values[x].shape = Shape{-1, 2, 3, 3};
  Tensor wt(DataType::kFloat32, {2, 2, 1, 1});
  const float wv[] = {1, -1, 0.5f, 2};
  std::copy(wv, wv + 4, wt.data<float>());
  Tensor bt(DataType::kFloat32, {2});
  bt.data<float>()[0] = 0.25f;
  bt.data<float>()[1] = -10.f;
  g.initializers[w] = wt;
  g.initializers[b] = bt;
  g.inputs = {x};
  g.outputs = {y};
  g.nodes.push_back(Node{"conv", "Conv", "", {x, w, b}, {c}, {}});
  g.nodes.push_back(Node{"relu", "Relu", "", {c}, {r}, {}});
  g.nodes.push_back(Node{"add", "Add", "", {r, x}, {y}, {}});
  return g;
}

std::vector<float> Expected(const Tensor& x) {
  std::vector<float> y(static_cast<size_t>(x.size()));
  const int64_t n = x.dim(0);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t i = 0; i < 9; ++i) {
      const float x0 = x.data<float>()[b * 18 + i], x1 = x.data<float>()[b * 18 + 9 + i];
      y[static_cast<size_t>(b * 18 + i)] = std::max(0.f, x0 - x1 + 0.25f) + x0;
      y[static_cast<size_t>(b * 18 + 9 + i)] = std::max(0.f, 0.5f * x0 + 2 * x1 - 10.f) + x1;
    }
  }
  return y;
}

Tensor Input(int64_t n, float seed) {
  Tensor t(DataType::kFloat32, {n, 2, 3, 3});
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = std::sin(seed + static_cast<float>(i)) * 8.f;
  return t;
}

TEST(ExecutorTest, RunsAndBatchMayChange) {
  ModelOptions o;
  o.backends = {Backend::kReference};
  auto model = CompileGraph(ConvReluAdd(), o);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->inputs()[0].shape, (Shape{-1, 2, 3, 3}));
  for (int64_t n : {1, 3, 2}) {
    Tensor x = Input(n, static_cast<float>(n));
    auto out = (*model)->Run({{"x", x}});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ((*out)[0].tensor.shape(), (Shape{n, 2, 3, 3}));
    const std::vector<float> want = Expected(x);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ((*out)[0].tensor.data<float>()[i], want[i]) << i;
  }
}

TEST(ExecutorTest, ConcurrentRunsAgree) {
  auto model = CompileGraph(ConvReluAdd(), {});
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        Tensor x = Input(1 + (i + t) % 3, static_cast<float>(t * 100 + i));
        auto out = (*model)->Run({{"x", x}});
        if (!out.ok()) {
          ++bad;
          continue;
        }
        const std::vector<float> want = Expected(x);
        for (size_t k = 0; k < want.size(); ++k) {
          if (std::fabs((*out)[0].tensor.data<float>()[k] - want[k]) > 1e-4f) ++bad;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ExecutorTest, InputErrorsNameTheInput) {
  auto model = CompileGraph(ConvReluAdd(), {});
  ASSERT_TRUE(model.ok());
  auto wrong_name = (*model)->Run({{"input", Input(1, 0)}});
  EXPECT_EQ(wrong_name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong_name.status().message().find("unknown input 'input'"), absl::string_view::npos);
  auto missing = (*model)->Run({});
  EXPECT_NE(missing.status().message().find("missing input 'x'"), absl::string_view::npos);
  auto wrong_type = (*model)->Run({{"x", Tensor(DataType::kInt64, {1, 2, 3, 3})}});
  EXPECT_NE(wrong_type.status().message().find("expected dtype FP32, got INT64"), absl::string_view::npos);
  auto wrong_shape = (*model)->Run({{"x", Tensor(DataType::kFloat32, {1, 3, 3, 3})}});
  EXPECT_NE(wrong_shape.status().message().find("input 'x': shape 1x3x3x3"), absl::string_view::npos);
}

TEST(ExecutorTest, KernelErrorsNameTheNode) {
  Graph g = ConvReluAdd();
  g.values[0].shape = Shape{-1, -1, -1, -1};
  auto model = CompileGraph(std::move(g), {});
  ASSERT_TRUE(model.ok());
  auto out = (*model)->Run({{"x", Tensor(DataType::kFloat32, {1, 3, 3, 3})}});
  EXPECT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'conv' ("), absl::string_view::npos) << out.status();
}

TEST(ExecutorTest, UnknownOpIsAnErrorNamingTheNode) {
  Graph g = ConvReluAdd();
  g.nodes[1].op_type = "FancyActivation";
  auto model = CompileGraph(std::move(g), {});
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("node 'relu': unsupported op 'FancyActivation'"), absl::string_view::npos)
      << model.status();
}

TEST(ExecutorTest, ConstantChainsAreFolded) {
  Graph g;
  const ValueId x = g.AddValue("x"), s = g.AddValue("s"), s2 = g.AddValue("s2"), y = g.AddValue("y");
  g.values[x].shape = Shape{2, 3};
  g.values[x].dtype_known = true;
  g.initializers[s] = MakeInt64Tensor({3, 2});
  g.inputs = {x};
  g.outputs = {y};
  Node cast{"cast", "Cast", "", {s}, {s2}, {}};
  cast.attrs.Set("to", int64_t{7});
  g.nodes.push_back(cast);
  g.nodes.push_back(Node{"reshape", "Reshape", "", {x, s2}, {y}, {}});
  auto model = CompileGraph(std::move(g), {});
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->graph().nodes.size(), 1u);
  auto out = (*model)->Run({{"x", Tensor(DataType::kFloat32, {2, 3})}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0].tensor.shape(), (Shape{3, 2}));
}

TEST(OnnxImporterTest, TruncatedModelIsAClearError) {
  onnx::ModelProto m;
  auto* g = m.mutable_graph();
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->add_input("x");
  n->add_output("y");
  auto* in = g->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  g->add_output()->set_name("y");
  std::string bytes = m.SerializeAsString();
  ASSERT_TRUE(ImportOnnx(bytes).ok());
  auto bad = ImportOnnx(bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("truncated"), absl::string_view::npos);
}

TEST(OnnxImporterTest, Fp16InitializersAreWidened) {
  onnx::ModelProto m;
  auto* g = m.mutable_graph();
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT16);
  w->add_dims(2);
  w->add_int32_data(0x3c00);  // 1.0
  w->add_int32_data(0xc000);  // -2.0
  auto* n = g->add_node();
  n->set_op_type("Identity");
  n->add_input("w");
  n->add_output("y");
  g->add_output()->set_name("y");
  auto graph = ImportOnnx(m.SerializeAsString());
  ASSERT_TRUE(graph.ok()) << graph.status();
  const Tensor& t = graph->initializers.at(graph->FindValue("w"));
  ASSERT_EQ(t.dtype(), DataType::kFloat32);
  EXPECT_EQ(t.data<float>()[0], 1.f);
  EXPECT_EQ(t.data<float>()[1], -2.f);
}

}  // namespace
}  // namespace imagen::engine
