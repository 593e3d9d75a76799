// Reference quantisation ops: DynamicQuantizeLinear (uint8, round half to
// even, as ONNX specifies), QuantizeLinear / DequantizeLinear (per-tensor and
// per-axis).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/status_macros.h"
#include "engine/ref_util.h"

namespace imagen::engine::ref {
namespace {

float RoundHalfEven(float v) { return std::nearbyint(v); }  // default FE_TONEAREST

// DynamicQuantizeLinear's uint8 grid for values in [mn, mx] (mn <= 0 <= mx).
struct Grid {
  float scale;
  float zp;
};

Grid GridOf(float mn, float mx) {
  const float scale = (mx - mn) / 255.f;
  return Grid{scale, scale == 0.f ? 0.f : std::clamp(RoundHalfEven(-mn / scale), 0.f, 255.f)};
}

// The grid point of v, in [0, 255].
float OnGrid(float v, const Grid& g) {
  return std::clamp(g.scale == 0.f ? g.zp : RoundHalfEven(v / g.scale) + g.zp, 0.f, 255.f);
}

absl::Status DynamicQuantize(std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  RETURN_IF_ERROR(NeedInputs(in, 1));
  RETURN_IF_ERROR(NeedFloat(in[0], "x"));
  const float* x = in[0].data<float>();
  const int64_t n = in[0].size();
  float mn = 0.f, mx = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  const Grid g = GridOf(mn, mx);
  out[0] = ctx.Allocate(DataType::kUInt8, in[0].shape());
  uint8_t* y = out[0].data<uint8_t>();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<uint8_t>(OnGrid(x[i], g));
  if (out.size() > 1) {
    out[1] = ctx.Allocate(DataType::kFloat32, {});
    out[1].data<float>()[0] = g.scale;
  }
  if (out.size() > 2) {
    out[2] = ctx.Allocate(DataType::kUInt8, {});
    out[2].data<uint8_t>()[0] = static_cast<uint8_t>(g.zp);
  }
  return absl::OkStatus();
}

// Index of the per-axis parameter for element i.
int64_t ParamIndex(const Tensor& x, const Tensor& p, int64_t axis, int64_t i) {
  if (p.size() == 1) return 0;
  const int64_t inner = Prod(x.shape(), axis + 1, x.rank());
  return (i / inner) % x.dim(axis);
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeQuantize(const KernelInit& init, bool quantize) {
  ASSIGN_OR_RETURN(int64_t axis_attr, init.node.attrs.GetInt("axis", 1));
  return Make([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 2));
    RETURN_IF_ERROR(NeedFloat(in[1], "scale"));
    const Tensor& x = in[0];
    const Tensor& s = in[1];
    const bool has_zp = in.size() > 2 && !in[2].empty();
    const int64_t axis = x.rank() == 0 ? 0 : (axis_attr < 0 ? axis_attr + x.rank() : axis_attr);
    if (s.size() != 1 && (axis < 0 || axis >= x.rank() || s.size() != x.dim(axis))) {
      return absl::InvalidArgumentError("per-axis scale does not match the axis length");
    }
    const int64_t n = x.size();
    if (quantize) {
      RETURN_IF_ERROR(NeedFloat(x, "x"));
      const DataType t = has_zp ? in[2].dtype() : DataType::kUInt8;
      if (t != DataType::kUInt8 && t != DataType::kInt8) return absl::UnimplementedError("zero point must be 8-bit");
      out[0] = ctx.Allocate(t, x.shape());
      const float lo = t == DataType::kUInt8 ? 0.f : -128.f, hi = t == DataType::kUInt8 ? 255.f : 127.f;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t p = ParamIndex(x, s, axis, i);
        const float zp = has_zp ? static_cast<float>(IntAt(in[2], p)) : 0.f;
        const float q = std::clamp(RoundHalfEven(x.data<float>()[i] / s.data<float>()[p]) + zp, lo, hi);
        if (t == DataType::kUInt8) {
          out[0].data<uint8_t>()[i] = static_cast<uint8_t>(q);
        } else {
          out[0].data<int8_t>()[i] = static_cast<int8_t>(q);
        }
      }
    } else {
      if (x.dtype() != DataType::kUInt8 && x.dtype() != DataType::kInt8 && x.dtype() != DataType::kInt32) {
        return absl::UnimplementedError("DequantizeLinear input must be INT8, UINT8 or INT32");
      }
      out[0] = ctx.Allocate(DataType::kFloat32, x.shape());
      for (int64_t i = 0; i < n; ++i) {
        const int64_t p = ParamIndex(x, s, axis, i);
        const int64_t zp = has_zp ? IntAt(in[2], p) : 0;
        out[0].data<float>()[i] = static_cast<float>(IntAt(x, i) - zp) * s.data<float>()[p];
      }
    }
    return absl::OkStatus();
  });
}

// Min and max of x[0..n) folded into *mn and *mx.
void MinMaxScalar(const float* x, int64_t n, float* mn, float* mx) {
  for (int64_t i = 0; i < n; ++i) *mn = std::min(*mn, x[i]), *mx = std::max(*mx, x[i]);
}

// y = (grid point of x - zp), times the scale unless to_float.
void ToGridScalar(const float* x, int64_t n, const Grid& g, bool to_float, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float q = OnGrid(x[i], g) - g.zp;
    y[i] = to_float ? q : q * g.scale;
  }
}

// AVX2 versions of the two (same division, round-half-even and clamp, so the
// same values); the tails go through the scalar ones.
__attribute__((target("avx2"))) void MinMaxAvx2(const float* x, int64_t n, float* mn, float* mx) {
  __m256 lo = _mm256_set1_ps(*mn), hi = _mm256_set1_ps(*mx);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    lo = _mm256_min_ps(lo, v);
    hi = _mm256_max_ps(hi, v);
  }
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, lo);
  _mm256_store_ps(h, hi);
  MinMaxScalar(l, 8, mn, mx);
  MinMaxScalar(h, 8, mn, mx);
  MinMaxScalar(x + i, n - i, mn, mx);
}

__attribute__((target("avx2"))) void ToGridAvx2(const float* x, int64_t n, const Grid& g, bool to_float, float* y) {
  if (g.scale == 0.f) return ToGridScalar(x, n, g, to_float, y);  // all zeros: no division by 0
  const __m256 s = _mm256_set1_ps(g.scale), z = _mm256_set1_ps(g.zp), top = _mm256_set1_ps(255.f);
  const __m256 out_scale = _mm256_set1_ps(to_float ? 1.f : g.scale), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 q = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(q, z), zero), top);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_sub_ps(q, z), out_scale));
  }
  ToGridScalar(x + i, n - i, g, to_float, y + i);
}

// DynamicFakeQuantize (domain imagen, written by passes_dequant): x rounded
// to DynamicQuantizeLinear's uint8 grid and mapped back to float,
// (q - zp) * scale. Elementwise with a global min/max, so it runs on any
// layout (a blocked layout's zero padding is a value the grid always holds).
// With to_float it is DynamicQuantizeToFloat: outputs (q - zp) as float and
// the scale, onnxruntime's integers for an fp32 convolution.
class DynamicFakeQuantizeKernel : public Kernel {
 public:
  explicit DynamicFakeQuantizeKernel(bool to_float) : to_float_(to_float) {}
  bool AcceptsOpaqueLayout() const override { return true; }
  absl::Status Forward(std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) const override {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    if (in[0].dtype() != DataType::kFloat32) return absl::InvalidArgumentError("x must be FP32");
    const Tensor& xt = in[0];
    const float* x = xt.data<float>();
    const int64_t n = static_cast<int64_t>(xt.bytes() / sizeof(float));
    static const bool avx2 = __builtin_cpu_supports("avx2");
    const int64_t parts = n > 65536 ? std::max(ctx.threads(), 1) : 1, per = (n + parts - 1) / parts;
    std::vector<float> lo(static_cast<size_t>(parts), 0.f), hi(static_cast<size_t>(parts), 0.f);
#pragma omp parallel for num_threads(parts)
    for (int64_t k = 0; k < parts; ++k) {
      const int64_t b = std::min(n, k * per), e = std::min(n, b + per);
      (avx2 ? MinMaxAvx2 : MinMaxScalar)(x + b, e - b, &lo[static_cast<size_t>(k)], &hi[static_cast<size_t>(k)]);
    }
    float mn = 0.f, mx = 0.f;
    MinMaxScalar(lo.data(), parts, &mn, &mx);
    MinMaxScalar(hi.data(), parts, &mn, &mx);
    const Grid g = GridOf(mn, mx);
    Tensor y = xt.is_plain() ? ctx.Allocate(DataType::kFloat32, xt.shape())
                             : Tensor::WithLayout(DataType::kFloat32, xt.shape(), xt.bytes(), ctx.Scratch(xt.bytes()),
                                                  xt.layout());
    float* yp = y.data<float>();
#pragma omp parallel for num_threads(parts)
    for (int64_t k = 0; k < parts; ++k) {
      const int64_t b = std::min(n, k * per), e = std::min(n, b + per);
      (avx2 ? ToGridAvx2 : ToGridScalar)(x + b, e - b, g, to_float_, yp + b);
    }
    out[0] = std::move(y);
    if (to_float_ && out.size() > 1) {
      out[1] = ctx.Allocate(DataType::kFloat32, {});
      out[1].data<float>()[0] = g.scale;
    }
    return absl::OkStatus();
  }

 private:
  bool to_float_;
};

}  // namespace

void RegisterQuant(KernelRegistry& r) {
  r.Register("DynamicFakeQuantize", Backend::kReference,
             [](const KernelInit&) -> absl::StatusOr<std::unique_ptr<Kernel>> {
               return std::unique_ptr<Kernel>(new DynamicFakeQuantizeKernel(false));
             });
  r.Register("DynamicQuantizeToFloat", Backend::kReference,
             [](const KernelInit&) -> absl::StatusOr<std::unique_ptr<Kernel>> {
               return std::unique_ptr<Kernel>(new DynamicFakeQuantizeKernel(true));
             });
  r.Register("DynamicQuantizeLinear", Backend::kReference,
             [](const KernelInit&) -> absl::StatusOr<std::unique_ptr<Kernel>> { return Make(DynamicQuantize); });
  r.Register("QuantizeLinear", Backend::kReference, [](const KernelInit& i) { return MakeQuantize(i, true); });
  r.Register("DequantizeLinear", Backend::kReference, [](const KernelInit& i) { return MakeQuantize(i, false); });
}

}  // namespace imagen::engine::ref
