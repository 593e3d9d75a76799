// Tiled execution: a tiled run equals the untiled run (PSNR >= 45 dB, no
// seams) on a real upscaler from the installed model repository
// (test_models.h) and on an engine graph built here; bad options and
// non-image models are errors.
#include "engine/tiling.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "engine/engine.h"
#include "engine/test_models.h"
#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

Tensor Image(int64_t h, int64_t w) {
  Tensor t(DataType::kFloat32, {1, 3, h, w});
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        t.data<float>()[(c * h + y) * w + x] = 0.5f + 0.45f * std::sin(0.37f * x + 0.23f * y * (c + 1));
  return t;
}

double Psnr(const Tensor& a, const Tensor& b) {
  double mse = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const double d = std::clamp(a.data<float>()[i], 0.f, 1.f) - std::clamp(b.data<float>()[i], 0.f, 1.f);
    mse += d * d;
  }
  mse /= static_cast<double>(a.size());
  return mse == 0 ? 200.0 : 10 * std::log10(1.0 / mse);
}

// conv3x3(3→8) → Relu → conv3x3(8→12) → DepthToSpace(2): a ×2 upscaler with
// a receptive field of 2 pixels.
std::shared_ptr<const Model> TinyUpscaler() {
  Graph g;
  ValueId x = g.AddValue("x"), w1 = g.AddValue("w1"), c1 = g.AddValue("c1"), r1 = g.AddValue("r1"),
          w2 = g.AddValue("w2"), c2 = g.AddValue("c2"), y = g.AddValue("y");
  g.values[x].shape = Shape{-1, 3, -1, -1};
  g.values[x].dtype_known = true;
  auto weights = [](Shape s, float k) {
    Tensor t(DataType::kFloat32, std::move(s));
    for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = std::sin(k * static_cast<float>(i)) * 0.2f;
    return t;
  };
  g.initializers[w1] = weights({8, 3, 3, 3}, 0.7f);
  g.initializers[w2] = weights({12, 8, 3, 3}, 1.3f);
  auto node = [&](const std::string& op, std::vector<ValueId> in, ValueId out, Attributes a = {}) {
    Node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {out};
    n.attrs = std::move(a);
    g.nodes.push_back(std::move(n));
  };
  Attributes conv;
  conv.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  conv.Set("kernel_shape", std::vector<int64_t>{3, 3});
  node("Conv", {x, w1}, c1, conv);
  node("Relu", {c1}, r1);
  node("Conv", {r1, w2}, c2, conv);
  Attributes d2s;
  d2s.Set("blocksize", int64_t{2});
  d2s.Set("mode", std::string("CRD"));
  node("DepthToSpace", {c2}, y, d2s);
  g.inputs = {x};
  g.outputs = {y};
  ModelOptions o;
  o.threads = 2;
  auto m = CompileGraph(std::move(g), o);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

TEST(Tiling, TiledEqualsUntiledOnAnEngineGraph) {
  auto model = TinyUpscaler();
  Tensor x = Image(37, 29);
  auto full = model->Run({{"x", x}});
  ASSERT_TRUE(full.ok()) << full.status();
  for (TileOptions o : {TileOptions{8, 2}, TileOptions{16, 4}, TileOptions{100, 0}}) {
    auto tiled = RunTiled(*model, x, o);
    ASSERT_TRUE(tiled.ok()) << tiled.status();
    ASSERT_EQ(tiled->shape(), (*full)[0].tensor.shape());
    EXPECT_GE(Psnr(*tiled, (*full)[0].tensor), 100.0) << "tile " << o.tile << " overlap " << o.overlap;
  }
  // Too little context shows at the seams.
  auto seamy = RunTiled(*model, x, TileOptions{8, 0});
  ASSERT_TRUE(seamy.ok());
  EXPECT_LT(Psnr(*seamy, (*full)[0].tensor), 100.0);
}

TEST(Tiling, BadOptionsAndInputs) {
  auto model = TinyUpscaler();
  EXPECT_FALSE(RunTiled(*model, Image(8, 8), TileOptions{0, 2}).ok());
  EXPECT_FALSE(RunTiled(*model, Image(8, 8), TileOptions{4, -1}).ok());
  EXPECT_FALSE(RunTiled(*model, Tensor(DataType::kFloat32, {3, 8, 8}), TileOptions{4, 1}).ok());
}

TEST(Tiling, RealEsrganTiledHasNoSeams) {
  const std::string path = test_models::NcnnParam("realesr-animevideov3-x4");
  IMAGEN_REQUIRE_TEST_DATA(path, "model realesr-animevideov3-x4");
  ModelOptions o;
  o.threads = 2;
  auto model = LoadModel(path, o);
  ASSERT_TRUE(model.ok()) << model.status();
  Tensor x = Image(48, 40);
  auto full = (*model)->Run({{(*model)->inputs()[0].name, x}});
  ASSERT_TRUE(full.ok()) << full.status();
  auto tiled = RunTiled(**model, x, TileOptions{20, 12});
  ASSERT_TRUE(tiled.ok()) << tiled.status();
  const double psnr = Psnr(*tiled, (*full)[0].tensor);
  EXPECT_GE(psnr, 45.0);
  RecordProperty("psnr_db", std::to_string(psnr));
}

}  // namespace
}  // namespace imagen::engine
