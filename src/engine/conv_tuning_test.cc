// Kernel choice by measurement (conv_tuning.h) with a scripted timer: the
// chosen kernel follows the figures, decisions round-trip through the cache
// file, `off` keeps the static rule and never measures, `retune` ignores the
// file; and on a real FusedConv layer the output is the reference's within
// the existing tolerance whichever kernel wins.
#include "engine/conv_tuning.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/env.h"
#include "engine/dnnl_conv.h"
#include "engine/winograd_conv.h"
#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

// Says each run of a candidate took the scripted time; counts the runs.
class FakeTimer : public ConvTimer {
 public:
  FakeTimer(double dnnl_ms, double winograd_ms) : dnnl_ms_(dnnl_ms), winograd_ms_(winograd_ms) {}
  absl::StatusOr<double> TimeMs(ConvAlgo algo, const std::function<absl::Status()>& run) override {
    absl::Status st = run();
    if (!st.ok()) return st;
    ++timed_;
    return algo == ConvAlgo::kDnnl ? dnnl_ms_ : winograd_ms_;
  }
  int timed_ = 0;

 private:
  double dnnl_ms_, winograd_ms_;
};

class ConvTuningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("imagen_conv_tuning_" + std::to_string(getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ConvTuningOptions Options(TuningMode mode, ConvTimer* timer) {
    ConvTuningOptions o;
    o.mode = mode;
    o.cache_dir = (dir_ / "engine-tuning").string();
    o.timer = timer;
    o.cpu = "Test CPU (family 1 model 2 stepping 3, avx2)";
    return o;
  }
  // Counts the candidate runs (warm-ups included).
  std::function<absl::Status(ConvAlgo)> Runs(int* n) {
    return [n](ConvAlgo) {
      ++*n;
      return absl::OkStatus();
    };
  }

  std::filesystem::path dir_;
};

TEST(FasterAlgo, BestTimeWinsTieKeepsOneDnn) {
  const double d[] = {5, 4, 6}, w[] = {3.9, 9, 9}, w_tie[] = {4, 4};
  EXPECT_EQ(FasterAlgo(d, w), ConvAlgo::kWinograd);
  EXPECT_EQ(FasterAlgo(w, d), ConvAlgo::kDnnl);
  EXPECT_EQ(FasterAlgo(d, w_tie), ConvAlgo::kDnnl);
  EXPECT_EQ(FasterAlgo(d, {}), ConvAlgo::kDnnl);
}

TEST(ParseTuningMode, NamesAndErrors) {
  EXPECT_EQ(*ParseTuningMode("off"), TuningMode::kOff);
  EXPECT_EQ(*ParseTuningMode("cached"), TuningMode::kCached);
  EXPECT_EQ(*ParseTuningMode("retune"), TuningMode::kRetune);
  absl::StatusOr<TuningMode> bad = ParseTuningMode("fast");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("off, cached or retune"), std::string::npos);
}

TEST_F(ConvTuningTest, ChoiceFollowsTheTimer) {
  for (bool wino_faster : {true, false}) {
    FakeTimer timer(10, wino_faster ? 4 : 25);
    ConvTuner tuner(Options(TuningMode::kCached, &timer));
    int runs = 0;
    absl::StatusOr<ConvDecision> d = tuner.Choose("conv3x3 a", 2, Precision::kFast, ConvAlgo::kDnnl, Runs(&runs));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->algo, wino_faster ? ConvAlgo::kWinograd : ConvAlgo::kDnnl);
    EXPECT_EQ(d->source, ConvDecision::Source::kMeasured);
    EXPECT_EQ(d->dnnl_ms, 10);
    EXPECT_EQ(timer.timed_, 6);  // 3 timed runs each
    EXPECT_EQ(runs, 8);          // plus one warm-up each
    std::filesystem::remove_all(dir_);
  }
}

TEST_F(ConvTuningTest, CacheFileRoundTrip) {
  FakeTimer timer(10, 4);
  {
    ConvTuner tuner(Options(TuningMode::kCached, &timer));
    int runs = 0;
    ASSERT_TRUE(tuner.Choose("conv3x3 a", 2, Precision::kFast, ConvAlgo::kDnnl, Runs(&runs)).ok());
    // The same shape again in this process: no new measurement.
    absl::StatusOr<ConvDecision> again = tuner.Choose("conv3x3 a", 2, Precision::kFast, ConvAlgo::kDnnl, Runs(&runs));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->algo, ConvAlgo::kWinograd);
    EXPECT_EQ(runs, 8);
  }
  std::ifstream f(dir_ / "engine-tuning" / "conv-v1.tsv");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text,
            "Test CPU (family 1 model 2 stepping 3, avx2) | threads 2 | fast | conv3x3 a\twinograd\t10.000\t4.000\n");

  // A later load (a new tuner) decides from the file without running anything.
  FakeTimer never(1, 1);
  ConvTuner later(Options(TuningMode::kCached, &never));
  int runs = 0;
  absl::StatusOr<ConvDecision> d = later.Choose("conv3x3 a", 2, Precision::kFast, ConvAlgo::kDnnl, Runs(&runs));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->algo, ConvAlgo::kWinograd);
  EXPECT_EQ(d->source, ConvDecision::Source::kCached);
  EXPECT_EQ(d->winograd_ms, 4);
  EXPECT_EQ(runs, 0);
  // Another thread count or another CPU is another key: measured.
  ASSERT_TRUE(later.Choose("conv3x3 a", 1, Precision::kFast, ConvAlgo::kDnnl, Runs(&runs)).ok());
  EXPECT_EQ(runs, 8);
  ConvTuningOptions other = Options(TuningMode::kCached, &never);
  other.cpu = "Other CPU";
  ConvTuner elsewhere(other);
  ASSERT_TRUE(elsewhere.Choose("conv3x3 a", 2, Precision::kFast, ConvAlgo::kDnnl, Runs(&runs)).ok());
  EXPECT_EQ(runs, 16);
  // Both processes' decisions are kept in the file.
  EXPECT_EQ(ParseConvTuningFile(*Env::Default()->ReadFile((dir_ / "engine-tuning" / "conv-v1.tsv").string())).size(),
            3u);
}

TEST_F(ConvTuningTest, OffKeepsTheStaticRule) {
  FakeTimer timer(10, 4);
  ConvTuner tuner(Options(TuningMode::kOff, &timer));
  int runs = 0;
  for (ConvAlgo rule : {ConvAlgo::kDnnl, ConvAlgo::kWinograd}) {
    absl::StatusOr<ConvDecision> d = tuner.Choose("conv3x3 a", 2, Precision::kFast, rule, Runs(&runs));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->algo, rule);
    EXPECT_EQ(d->source, ConvDecision::Source::kStatic);
  }
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "engine-tuning"));
}

TEST_F(ConvTuningTest, RetuneIgnoresAndReplacesTheFile) {
  FakeTimer slow_wino(10, 40);
  {
    ConvTuner tuner(Options(TuningMode::kCached, &slow_wino));
    int runs = 0;
    ASSERT_EQ(tuner.Choose("conv3x3 a", 2, Precision::kFast, ConvAlgo::kDnnl, Runs(&runs))->algo, ConvAlgo::kDnnl);
  }
  FakeTimer fast_wino(10, 4);
  ConvTuner retune(Options(TuningMode::kRetune, &fast_wino));
  int runs = 0;
  absl::StatusOr<ConvDecision> d = retune.Choose("conv3x3 a", 2, Precision::kFast, ConvAlgo::kDnnl, Runs(&runs));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->algo, ConvAlgo::kWinograd);
  EXPECT_EQ(d->source, ConvDecision::Source::kMeasured);
  EXPECT_EQ(runs, 8);
  ConvTuner cached(Options(TuningMode::kCached, &slow_wino));
  EXPECT_EQ(cached.Choose("conv3x3 a", 2, Precision::kFast, ConvAlgo::kDnnl, Runs(&runs))->algo, ConvAlgo::kWinograd);
  EXPECT_EQ(runs, 8);
}

TEST_F(ConvTuningTest, FailingCandidateFailsTheChoiceAndMalformedLinesAreIgnored) {
  FakeTimer timer(10, 4);
  ConvTuner tuner(Options(TuningMode::kCached, &timer));
  absl::StatusOr<ConvDecision> d = tuner.Choose("conv3x3 a", 2, Precision::kFast, ConvAlgo::kDnnl, [](ConvAlgo a) {
    return a == ConvAlgo::kWinograd ? absl::InternalError("boom") : absl::OkStatus();
  });
  EXPECT_FALSE(d.ok());
  auto parsed =
      ParseConvTuningFile("k1\twinograd\t1\t2\nbad line\nk2\tmaybe\t1\t2\nk3\tonednn\tx\t2\nk1\tonednn\t3\t4\n");
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed["k1"].algo, ConvAlgo::kDnnl);  // the later line wins
}

Tensor Random(Shape s, uint32_t seed, float scale) {
  Tensor t(DataType::kFloat32, std::move(s));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// A FusedConv(PRelu) 3×3 layer on a 64×64 map (256 tiles: the smallest the
// Winograd kernel takes) run by the dnnl backend with `tuner`, or by the
// reference backend when `tuner` is null.
absl::StatusOr<Tensor> RunLayer(ConvTuner* tuner, const Tensor& x, const Tensor& w, const Tensor& b,
                                const Tensor& slope) {
  Graph g;
  Node node;
  node.name = "layer";
  node.op_type = kFusedConvOp;
  node.domain = "imagen";
  node.attrs.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  node.attrs.Set("kernel_shape", std::vector<int64_t>{3, 3});
  node.attrs.Set("post_ops", std::vector<std::string>{"PRelu"});
  node.inputs.push_back(g.AddValue("x"));
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"w", &w}, {"b", &b}, {"slope", &slope}}) {
    ValueId id = g.AddValue(name);
    g.initializers[id] = *t;
    node.inputs.push_back(id);
  }
  node.outputs.push_back(g.AddValue("y"));
  std::vector<const Tensor*> consts{nullptr, &g.initializers[node.inputs[1]], &g.initializers[node.inputs[2]],
                                    &g.initializers[node.inputs[3]]};
  KernelInit init{node, g, consts, tuner ? Precision::kFast : Precision::kExact, 2, tuner};
  const Backend order[] = {tuner ? Backend::kDnnl : Backend::kReference};
  auto k = KernelRegistry::Global().Create(init, order);
  if (!k.ok()) return k.status();
  RunContext ctx(2);
  std::vector<Tensor> in{x, w, b, slope}, out(1);
  absl::Status st = (*k)->Forward(in, out, ctx);
  if (!st.ok()) return st;
  return ToPlain(out[0]);
}

TEST_F(ConvTuningTest, LayerOutputIsTheReferenceWhicheverKernelWins) {
  if (!WinogradConv::CpuSupported()) GTEST_SKIP() << "this CPU lacks AVX2+FMA, which the Winograd kernel needs";
  const Tensor x = Random({1, 16, 64, 64}, 1, 1.f), w = Random({24, 16, 3, 3}, 2, 0.3f), b = Random({24}, 3, 1.f),
               slope = Random({24, 1, 1}, 4, 0.5f);
  absl::StatusOr<Tensor> ref = RunLayer(nullptr, x, w, b, slope);
  ASSERT_TRUE(ref.ok()) << ref.status();
  std::vector<Tensor> got;
  for (bool wino_faster : {true, false}) {
    std::filesystem::remove_all(dir_);
    FakeTimer timer(10, wino_faster ? 4 : 25);
    ConvTuner tuner(Options(TuningMode::kCached, &timer));
    absl::StatusOr<Tensor> y = RunLayer(&tuner, x, w, b, slope);
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ(timer.timed_, 6);  // both candidates timed on the real input
    auto file = ParseConvTuningFile(*Env::Default()->ReadFile(tuner.CacheFile()));
    ASSERT_EQ(file.size(), 1u);
    EXPECT_NE(file.begin()->first.find("conv3x3 n1 ic16 oc24 in64x64 pads1,1,1,1 post=PRelu src=plain"),
              std::string::npos)
        << file.begin()->first;
    EXPECT_EQ(file.begin()->second.algo, wino_faster ? ConvAlgo::kWinograd : ConvAlgo::kDnnl);
    float worst = 0;
    for (int64_t i = 0; i < ref->size(); ++i)
      worst = std::max(worst, std::fabs(ref->data<float>()[i] - y->data<float>()[i]));
    EXPECT_LT(worst, 2e-4f) << (wino_faster ? "winograd" : "onednn");  // winograd_conv_test.cc's tolerance
    got.push_back(*std::move(y));
  }
  float between = 0;
  for (int64_t i = 0; i < got[0].size(); ++i)
    between = std::max(between, std::fabs(got[0].data<float>()[i] - got[1].data<float>()[i]));
  EXPECT_LT(between, 2e-4f);
}

}  // namespace
}  // namespace imagen::engine
