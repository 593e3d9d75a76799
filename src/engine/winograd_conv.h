// Winograd F(4×4, 3×3) convolution for 3×3, stride-1, undilated, ungrouped
// layers on AVX2+FMA, reading and writing oneDNN's nChw8c layout so it sits
// between oneDNN primitives without reorders. oneDNN 2.6 has Winograd only
// for AVX-512; this is the fast-precision path for the 3×3 layers on AVX2
// machines (36 multiplications per 16 outputs instead of 144). The weights
// are transformed once at construction; Run is const and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace imagen::engine {

// One step of the epilogue applied to each output value, in order.
struct WinogradPostOp {
  enum Kind { kRelu, kLeakyRelu, kLinear, kClip, kPRelu, kSum };
  Kind kind = kRelu;
  float alpha = 0.f;              // LeakyRelu slope, Linear scale, Clip lower bound
  float beta = 0.f;               // Clip upper bound
  const float* slope = nullptr;   // kPRelu: one value per output channel
  const float* addend = nullptr;  // kSum: same shape and nChw8c layout as the output
};

class WinogradConv {
 public:
  // True when this CPU has AVX2 and FMA, which the kernel needs (AVX-512
  // CPUs included).
  static bool CpuSupported();
  // True when this CPU can run the kernel and the layer qualifies: channel
  // counts multiples of 8 and at least 16 input channels (fewer do not pay
  // for the transforms).
  static bool Supported(int64_t in_channels, int64_t out_channels);

  // `weights` is OIHW (oc × ic × 3 × 3); `bias` has oc values or is null.
  WinogradConv(const float* weights, const float* bias, int64_t in_channels, int64_t out_channels);

  // Whether an output of n × oh × ow is large enough for the transforms and
  // the transformed weights (4× the originals) to pay off: small maps (the
  // deep layers of a U-Net) stay on direct convolution.
  static bool WorthIt(int64_t n, int64_t oh, int64_t ow) { return n * ((oh + 3) / 4) * ((ow + 3) / 4) >= 256; }

  // Output spatial size for an input of ih × iw and the given pads.
  static int64_t OutSize(int64_t in, int64_t pad_begin, int64_t pad_end) { return in + pad_begin + pad_end - 2; }

  // Bytes of scratch Run needs for this batch/size and thread count.
  size_t ScratchBytes(int64_t n, int64_t oh, int64_t ow, int threads) const;

  // src: n × ic × ih × iw in nChw8c; dst: n × oc × oh × ow in nChw8c.
  // `scratch` holds at least ScratchBytes bytes, 64-byte aligned.
  void Run(const float* src, int64_t n, int64_t ih, int64_t iw, int64_t pad_top, int64_t pad_left, float* dst,
           int64_t oh, int64_t ow, const std::vector<WinogradPostOp>& post_ops, int threads, float* scratch) const;

 private:
  int64_t TilesPerChunk(int64_t total_tiles, int threads) const;

  int64_t ic_, oc_, oc16_;  // oc16_: oc rounded up to 16 (the GEMM's width)
  std::vector<float> u_;    // transformed weights: [36][oc16_/16][ic_][16]
  std::vector<float> bias_;
};

}  // namespace imagen::engine
