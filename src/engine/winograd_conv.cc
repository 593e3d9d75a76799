#include "engine/winograd_conv.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#define IMAGEN_AVX2 __attribute__((target("avx2,fma")))

namespace imagen::engine {
namespace {

// F(4×4, 3×3) with interpolation points 0, ±1, ±2 (Lavin & Gray):
// Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A on 6×6 input tiles.
constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                             {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                             {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                             {1.0 / 24, 1.0 / 12, 1.0 / 6},
                             {1.0 / 24, -1.0 / 12, 1.0 / 6},
                             {0, 0, 1}};
constexpr int64_t kGroup = 6;  // tiles per GEMM register block
constexpr int64_t kSkew = 16;  // floats between the per-position planes of the scratch

// r = Bᵀ d for six 8-channel vectors.
IMAGEN_AVX2 inline void InputRows(const __m256 d[6], __m256 r[6]) {
  const __m256 four = _mm256_set1_ps(4.f), five = _mm256_set1_ps(5.f), two = _mm256_set1_ps(2.f);
  r[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
  const __m256 t1 = _mm256_fnmadd_ps(four, d[2], d[4]);
  const __m256 t2 = _mm256_fnmadd_ps(four, d[1], d[3]);
  r[1] = _mm256_add_ps(t1, t2);
  r[2] = _mm256_sub_ps(t1, t2);
  const __m256 t3 = _mm256_sub_ps(d[4], d[2]);
  const __m256 t4 = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
  r[3] = _mm256_add_ps(t3, t4);
  r[4] = _mm256_sub_ps(t3, t4);
  r[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

// o = Aᵀ m for six 8-channel vectors (four results).
IMAGEN_AVX2 inline void OutputRows(const __m256 m[6], __m256 o[4]) {
  const __m256 a = _mm256_add_ps(m[1], m[2]), b = _mm256_sub_ps(m[1], m[2]);
  const __m256 c = _mm256_add_ps(m[3], m[4]), d = _mm256_sub_ps(m[3], m[4]);
  o[0] = _mm256_add_ps(_mm256_add_ps(m[0], a), c);
  o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), d, b);
  o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.f), c, a);
  o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), d, b), m[5]);
}

// Transforms the 6×6 input patch at (r0, c0) of one 8-channel plane (zeros
// outside it) and stores position p's vector at v + p * pstride.
IMAGEN_AVX2 void TransformInput(const float* plane, int64_t ih, int64_t iw, int64_t r0, int64_t c0, float* v,
                                int64_t pstride) {
  __m256 d[6][6];
  const __m256 zero = _mm256_setzero_ps();
  const bool interior = r0 >= 0 && c0 >= 0 && r0 + 6 <= ih && c0 + 6 <= iw;
  for (int i = 0; i < 6; ++i) {
    const int64_t r = r0 + i;
    for (int j = 0; j < 6; ++j) {
      const int64_t c = c0 + j;
      d[i][j] = interior || (r >= 0 && r < ih && c >= 0 && c < iw) ? _mm256_loadu_ps(plane + (r * iw + c) * 8) : zero;
    }
  }
  __m256 t[6][6];
  for (int j = 0; j < 6; ++j) {
    __m256 col[6], out[6];
    for (int i = 0; i < 6; ++i) col[i] = d[i][j];
    InputRows(col, out);
    for (int i = 0; i < 6; ++i) t[i][j] = out[i];
  }
  for (int i = 0; i < 6; ++i) {
    __m256 out[6];
    InputRows(t[i], out);
    for (int j = 0; j < 6; ++j) _mm256_storeu_ps(v + (i * 6 + j) * pstride, out[j]);
  }
}

// m[t][0..16) = Σ_k v[t][k] · u[k][0..16) for kGroup tiles t; v is laid
// out as [icb][kGroup tiles][8 channels], u as [ic][16].
IMAGEN_AVX2 void GemmTiles(const float* __restrict v, const float* __restrict u, float* __restrict m, int64_t icb,
                           int64_t ldm) {
  __m256 c[kGroup][2];
#pragma GCC unroll 8
  for (int t = 0; t < kGroup; ++t) c[t][0] = c[t][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < icb; ++b) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      const __m256 b0 = _mm256_loadu_ps(u), b1 = _mm256_loadu_ps(u + 8);
      u += 16;
#pragma GCC unroll 8
      for (int t = 0; t < kGroup; ++t) {
        const __m256 a = _mm256_broadcast_ss(v + t * 8 + i);
        c[t][0] = _mm256_fmadd_ps(a, b0, c[t][0]);
        c[t][1] = _mm256_fmadd_ps(a, b1, c[t][1]);
      }
    }
    v += kGroup * 8;
  }
#pragma GCC unroll 8
  for (int t = 0; t < kGroup; ++t) {
    _mm256_storeu_ps(m + t * ldm, c[t][0]);
    _mm256_storeu_ps(m + t * ldm + 8, c[t][1]);
  }
}

IMAGEN_AVX2 inline __m256 ApplyPostOps(__m256 x, const std::vector<WinogradPostOp>& ops, int64_t oc0, int64_t offset) {
  const __m256 zero = _mm256_setzero_ps();
  for (const WinogradPostOp& op : ops) {
    switch (op.kind) {
      case WinogradPostOp::kRelu:
        x = _mm256_max_ps(x, zero);
        break;
      case WinogradPostOp::kLeakyRelu: {
        const __m256 neg = _mm256_mul_ps(x, _mm256_set1_ps(op.alpha));
        x = _mm256_blendv_ps(neg, x, _mm256_cmp_ps(x, zero, _CMP_GT_OQ));
        break;
      }
      case WinogradPostOp::kLinear:
        x = _mm256_mul_ps(x, _mm256_set1_ps(op.alpha));
        break;
      case WinogradPostOp::kClip:
        x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(op.alpha)), _mm256_set1_ps(op.beta));
        break;
      case WinogradPostOp::kPRelu: {
        const __m256 neg = _mm256_mul_ps(x, _mm256_loadu_ps(op.slope + oc0));
        x = _mm256_blendv_ps(neg, x, _mm256_cmp_ps(x, zero, _CMP_GT_OQ));
        break;
      }
      case WinogradPostOp::kSum:
        x = _mm256_add_ps(x, _mm256_loadu_ps(op.addend + offset));
        break;
    }
  }
  return x;
}

// Inverse-transforms one tile of one 8-channel output block (position p's
// vector at m + p * pstride) and writes the in-bounds part of the 4×4 result.
IMAGEN_AVX2 void TransformOutput(const float* m, int64_t pstride, const float* bias, int64_t oc0, float* plane,
                                 int64_t plane_offset, int64_t oh, int64_t ow, int64_t r0, int64_t c0,
                                 const std::vector<WinogradPostOp>& ops) {
  __m256 o[4][6];
  for (int j = 0; j < 6; ++j) {
    __m256 col[6], out[4];
    for (int i = 0; i < 6; ++i) col[i] = _mm256_loadu_ps(m + (i * 6 + j) * pstride);
    OutputRows(col, out);
    for (int i = 0; i < 4; ++i) o[i][j] = out[i];
  }
  const __m256 b = _mm256_loadu_ps(bias + oc0);
  for (int i = 0; i < 4; ++i) {
    const int64_t r = r0 + i;
    if (r >= oh) break;
    __m256 y[4];
    OutputRows(o[i], y);
    for (int j = 0; j < 4; ++j) {
      const int64_t c = c0 + j;
      if (c >= ow) break;
      const int64_t at = (r * ow + c) * 8;
      _mm256_storeu_ps(plane + at, ApplyPostOps(_mm256_add_ps(y[j], b), ops, oc0, plane_offset + at));
    }
  }
}

}  // namespace

bool WinogradConv::CpuSupported() {
  static const bool cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return cpu;
}

bool WinogradConv::Supported(int64_t in_channels, int64_t out_channels) {
  return CpuSupported() && in_channels >= 16 && in_channels % 8 == 0 && out_channels >= 8 && out_channels % 8 == 0;
}

WinogradConv::WinogradConv(const float* weights, const float* bias, int64_t in_channels, int64_t out_channels)
    : ic_(in_channels), oc_(out_channels), oc16_((out_channels + 15) / 16 * 16) {
  u_.assign(static_cast<size_t>(36 * oc16_ * ic_), 0.f);
  for (int64_t o = 0; o < oc_; ++o) {
    for (int64_t c = 0; c < ic_; ++c) {
      const float* g = weights + (o * ic_ + c) * 9;
      double gg[6][3];  // G g
      for (int i = 0; i < 6; ++i)
        for (int k = 0; k < 3; ++k) gg[i][k] = kG[i][0] * g[k] + kG[i][1] * g[3 + k] + kG[i][2] * g[6 + k];
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) {
          const double u = gg[i][0] * kG[j][0] + gg[i][1] * kG[j][1] + gg[i][2] * kG[j][2];
          const int64_t p = i * 6 + j;
          u_[static_cast<size_t>(((p * (oc16_ / 16) + o / 16) * ic_ + c) * 16 + o % 16)] = static_cast<float>(u);
        }
      }
    }
  }
  bias_.assign(static_cast<size_t>(oc16_), 0.f);
  if (bias != nullptr) std::copy(bias, bias + oc_, bias_.begin());
}

int64_t WinogradConv::TilesPerChunk(int64_t total_tiles, int threads) const {
  // About 256 KB of transformed input per Winograd position and chunk (the
  // GEMM streams it once per 16 output channels), and at least two chunks per
  // thread so that a thread that is descheduled does not hold up the others.
  const int64_t cap = std::clamp<int64_t>((65536 / ic_) / kGroup * kGroup, 4 * kGroup, 40 * kGroup);
  const int64_t want_chunks = std::max<int64_t>((total_tiles + cap - 1) / cap, 2 * std::max(threads, 1));
  const int64_t per = (total_tiles + want_chunks - 1) / want_chunks;
  return std::max<int64_t>(kGroup, (per + kGroup - 1) / kGroup * kGroup);
}

size_t WinogradConv::ScratchBytes(int64_t n, int64_t oh, int64_t ow, int threads) const {
  const int64_t tiles = n * ((oh + 3) / 4) * ((ow + 3) / 4);
  return static_cast<size_t>(std::max(threads, 1) * 36 * (TilesPerChunk(tiles, threads) * (ic_ + oc16_) + 2 * kSkew)) *
         sizeof(float);
}

void WinogradConv::Run(const float* src, int64_t n, int64_t ih, int64_t iw, int64_t pad_top, int64_t pad_left,
                       float* dst, int64_t oh, int64_t ow, const std::vector<WinogradPostOp>& post_ops, int threads,
                       float* scratch) const {
  threads = std::max(threads, 1);
  const int64_t th = (oh + 3) / 4, tw = (ow + 3) / 4, tiles = n * th * tw;
  const int64_t chunk = TilesPerChunk(tiles, threads), groups_cap = chunk / kGroup;
  const int64_t chunks = (tiles + chunk - 1) / chunk;
  const int64_t icb = ic_ / 8, ocb = oc_ / 8, ocb16 = oc16_ / 16;
  // The 36 positions of a tile are kSkew floats off a multiple of the page
  // size apart, else they all fall in the same L1 set.
  const int64_t v_pstride = groups_cap * icb * kGroup * 8 + kSkew, m_pstride = chunk * oc16_ + kSkew;
  // Each thread transforms, multiplies and writes back whole chunks of tiles
  // in its own scratch: no barrier between the three steps.
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t ci = 0; ci < chunks; ++ci) {
    float* v = scratch + static_cast<int64_t>(omp_get_thread_num()) * 36 * (v_pstride + m_pstride);
    float* m = v + 36 * v_pstride;  // v: [36][groups_cap][icb][6][8]; m: [36][chunk][oc16_]
    const int64_t first = ci * chunk, count = std::min(chunk, tiles - first);
    const int64_t groups = (count + kGroup - 1) / kGroup;
    for (int64_t t = 0; t < groups * kGroup; ++t) {
      for (int64_t b = 0; b < icb; ++b) {
        float* vt = v + ((t / kGroup) * icb + b) * kGroup * 8 + (t % kGroup) * 8;
        if (t >= count) {
          for (int p = 0; p < 36; ++p) std::memset(vt + p * v_pstride, 0, 8 * sizeof(float));
          continue;
        }
        const int64_t g = first + t, img = g / (th * tw), rem = g % (th * tw);
        const float* plane = src + (img * icb + b) * ih * iw * 8;
        TransformInput(plane, ih, iw, (rem / tw) * 4 - pad_top, (rem % tw) * 4 - pad_left, vt, v_pstride);
      }
    }
    for (int64_t p = 0; p < 36; ++p) {
      for (int64_t ob = 0; ob < ocb16; ++ob) {
        const float* u = u_.data() + (p * ocb16 + ob) * ic_ * 16;
        for (int64_t gi = 0; gi < groups; ++gi) {
          GemmTiles(v + p * v_pstride + gi * icb * kGroup * 8, u, m + p * m_pstride + gi * kGroup * oc16_ + ob * 16,
                    icb, oc16_);
        }
      }
    }
    for (int64_t t = 0; t < count; ++t) {
      const int64_t g = first + t, img = g / (th * tw), rem = g % (th * tw);
      for (int64_t ob = 0; ob < ocb; ++ob) {
        const int64_t plane_offset = (img * ocb + ob) * oh * ow * 8;
        TransformOutput(m + t * oc16_ + ob * 8, m_pstride, bias_.data(), ob * 8, dst + plane_offset, plane_offset, oh,
                        ow, (rem / tw) * 4, (rem % tw) * 4, post_ops);
      }
    }
  }
}

}  // namespace imagen::engine
