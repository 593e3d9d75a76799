// The Winograd F(4×4, 3×3) kernel against a direct convolution written out
// here, on odd sizes (partial tiles, several chunks, batches), asymmetric
// pads, channel counts that are not multiples of 16, and every post-op.
#include "engine/winograd_conv.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// NCHW (c a multiple of 8) ↔ nChw8c.
std::vector<float> ToBlocked(const std::vector<float>& x, int64_t n, int64_t c, int64_t hw) {
  std::vector<float> out(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t s = 0; s < hw; ++s) out[((i * (c / 8) + k / 8) * hw + s) * 8 + k % 8] = x[(i * c + k) * hw + s];
  return out;
}

std::vector<float> FromBlocked(const std::vector<float>& x, int64_t n, int64_t c, int64_t hw) {
  std::vector<float> out(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t s = 0; s < hw; ++s) out[(i * c + k) * hw + s] = x[((i * (c / 8) + k / 8) * hw + s) * 8 + k % 8];
  return out;
}

struct Case {
  int64_t n, ic, oc, ih, iw, pt, pl, pb, pr;
};

void Check(const Case& k, const std::vector<WinogradPostOp::Kind>& kinds) {
  if (!WinogradConv::CpuSupported()) GTEST_SKIP() << "this CPU lacks AVX2+FMA, which the kernel needs";
  ASSERT_TRUE(WinogradConv::Supported(k.ic, k.oc)) << "ic=" << k.ic << " oc=" << k.oc;
  const int64_t oh = WinogradConv::OutSize(k.ih, k.pt, k.pb), ow = WinogradConv::OutSize(k.iw, k.pl, k.pr);
  const std::vector<float> x = Random(static_cast<size_t>(k.n * k.ic * k.ih * k.iw), 1);
  const std::vector<float> w = Random(static_cast<size_t>(k.oc * k.ic * 9), 2);
  const std::vector<float> bias = Random(static_cast<size_t>(k.oc), 3);
  const std::vector<float> slope = Random(static_cast<size_t>(k.oc), 4);
  const std::vector<float> addend = Random(static_cast<size_t>(k.n * k.oc * oh * ow), 5);
  const std::vector<float> addend_blocked = ToBlocked(addend, k.n, k.oc, oh * ow);

  std::vector<WinogradPostOp> ops;
  for (WinogradPostOp::Kind kind : kinds) {
    WinogradPostOp op;
    op.kind = kind;
    op.alpha = kind == WinogradPostOp::kClip ? -0.5f : 0.1f;
    op.beta = 0.75f;
    op.slope = slope.data();
    op.addend = addend_blocked.data();
    ops.push_back(op);
  }

  WinogradConv conv(w.data(), bias.data(), k.ic, k.oc);
  std::vector<float> scratch(conv.ScratchBytes(k.n, oh, ow, 2) / sizeof(float));
  std::vector<float> out(static_cast<size_t>(k.n * k.oc * oh * ow), NAN);
  const std::vector<float> xb = ToBlocked(x, k.n, k.ic, k.ih * k.iw);
  conv.Run(xb.data(), k.n, k.ih, k.iw, k.pt, k.pl, out.data(), oh, ow, ops, 2, scratch.data());
  const std::vector<float> got = FromBlocked(out, k.n, k.oc, oh * ow);

  double worst = 0;
  for (int64_t i = 0; i < k.n; ++i) {
    for (int64_t o = 0; o < k.oc; ++o) {
      for (int64_t r = 0; r < oh; ++r) {
        for (int64_t c = 0; c < ow; ++c) {
          double acc = bias[o];
          for (int64_t ci = 0; ci < k.ic; ++ci) {
            for (int64_t a = 0; a < 3; ++a) {
              for (int64_t b = 0; b < 3; ++b) {
                const int64_t y = r + a - k.pt, xx = c + b - k.pl;
                if (y < 0 || y >= k.ih || xx < 0 || xx >= k.iw) continue;
                acc += double(x[((i * k.ic + ci) * k.ih + y) * k.iw + xx]) * w[((o * k.ic + ci) * 3 + a) * 3 + b];
              }
            }
          }
          const int64_t at = ((i * k.oc + o) * oh + r) * ow + c;
          for (const WinogradPostOp& op : ops) {
            switch (op.kind) {
              case WinogradPostOp::kRelu:
                acc = std::max(acc, 0.0);
                break;
              case WinogradPostOp::kLeakyRelu:
                acc = acc > 0 ? acc : acc * op.alpha;
                break;
              case WinogradPostOp::kLinear:
                acc *= op.alpha;
                break;
              case WinogradPostOp::kClip:
                acc = std::min<double>(std::max<double>(acc, op.alpha), op.beta);
                break;
              case WinogradPostOp::kPRelu:
                acc = acc > 0 ? acc : acc * slope[o];
                break;
              case WinogradPostOp::kSum:
                acc += addend[at];
                break;
            }
          }
          const double diff = std::abs(acc - got[at]);
          worst = std::isfinite(diff) ? std::max(worst, diff) : INFINITY;  // an unwritten output stays NaN
        }
      }
    }
  }
  // F(4×4,3×3) in fp32 loses a few bits against direct summation; inputs and
  // weights are in [-1, 1] with up to 64×9 terms.
  EXPECT_LT(worst, 2e-4) << "n=" << k.n << " ic=" << k.ic << " oc=" << k.oc << " " << k.ih << "x" << k.iw;
}

TEST(WinogradConv, SmallOddSizes) { Check({1, 16, 8, 5, 7, 1, 1, 1, 1}, {}); }
TEST(WinogradConv, BatchAndChannelsNotMultipleOf16) { Check({2, 24, 40, 13, 9, 1, 1, 1, 1}, {}); }
TEST(WinogradConv, NoPadding) { Check({1, 64, 64, 14, 11, 0, 0, 0, 0}, {}); }
TEST(WinogradConv, AsymmetricPads) { Check({1, 16, 16, 9, 10, 2, 0, 1, 3}, {}); }
TEST(WinogradConv, SeveralChunks) { Check({1, 16, 24, 101, 67, 1, 1, 1, 1}, {}); }
TEST(WinogradConv, ReluThenSum) {
  Check({1, 32, 16, 12, 12, 1, 1, 1, 1}, {WinogradPostOp::kRelu, WinogradPostOp::kSum});
}
TEST(WinogradConv, SumThenLeakyRelu) {
  Check({2, 16, 8, 7, 6, 1, 1, 1, 1}, {WinogradPostOp::kSum, WinogradPostOp::kLeakyRelu});
}
TEST(WinogradConv, PReluLinearClip) {
  Check({1, 16, 32, 8, 13, 1, 1, 1, 1}, {WinogradPostOp::kPRelu, WinogradPostOp::kLinear, WinogradPostOp::kClip});
}

TEST(WinogradConv, Qualifies) {
  EXPECT_FALSE(WinogradConv::Supported(3, 64));   // image input layer
  EXPECT_FALSE(WinogradConv::Supported(64, 1));   // mask output layer
  EXPECT_FALSE(WinogradConv::Supported(13, 16));  // not a multiple of 8
  EXPECT_FALSE(WinogradConv::Supported(8, 16));   // too few input channels to pay off
  // Any AVX2+FMA CPU runs it, AVX-512 ones included (issue 14).
  EXPECT_EQ(WinogradConv::Supported(64, 64), WinogradConv::CpuSupported());
}

}  // namespace
}  // namespace imagen::engine
