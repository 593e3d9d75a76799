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
  const float scale = (mx - mn) / 255.f;
  const float zp = scale == 0.f ? 0.f : std::clamp(RoundHalfEven(-mn / scale), 0.f, 255.f);
  out[0] = ctx.Allocate(DataType::kUInt8, in[0].shape());
  uint8_t* y = out[0].data<uint8_t>();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float q = scale == 0.f ? zp : RoundHalfEven(x[i] / scale) + zp;
    y[i] = static_cast<uint8_t>(std::clamp(q, 0.f, 255.f));
  }
  if (out.size() > 1) {
    out[1] = ctx.Allocate(DataType::kFloat32, {});
    out[1].data<float>()[0] = scale;
  }
  if (out.size() > 2) {
    out[2] = ctx.Allocate(DataType::kUInt8, {});
    out[2].data<uint8_t>()[0] = static_cast<uint8_t>(zp);
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

// DynamicFakeQuantize (domain imagen, written by passes_dequant): x rounded
// to DynamicQuantizeLinear's uint8 grid and mapped back to float,
// (q - zp) * scale. Elementwise with a global min/max, so it runs on any
// layout (a blocked layout's zero padding is a value the grid always holds).
// Min and max of x[0..n) together with 0, and the grid mapping of a range
// [lo, hi): AVX2 versions of the loops in DynamicFakeQuantizeKernel (same
// division and round-half-even, so the same values), a portable fallback.
__attribute__((target("avx2"))) void MinMaxAvx2(const float* x, int64_t n, float* mn, float* mx) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    lo = _mm256_min_ps(lo, v);
    hi = _mm256_max_ps(hi, v);
  }
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, lo);
  _mm256_store_ps(h, hi);
  for (int k = 0; k < 8; ++k) *mn = std::min(*mn, l[k]), *mx = std::max(*mx, h[k]);
  for (; i < n; ++i) *mn = std::min(*mn, x[i]), *mx = std::max(*mx, x[i]);
}

__attribute__((target("avx2"))) void QuantizeAvx2(const float* x, int64_t n, float scale, float zp, bool to_float,
                                                  float* y) {
  const __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps(zp), top = _mm256_set1_ps(255.f);
  const __m256 out_scale = _mm256_set1_ps(to_float ? 1.f : scale), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 q = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(q, z), zero), top);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_sub_ps(q, z), out_scale));
  }
  for (; i < n; ++i) {
    const float q = std::clamp(RoundHalfEven(x[i] / scale) + zp, 0.f, 255.f) - zp;
    y[i] = to_float ? q : q * scale;
  }
}

class DynamicFakeQuantizeKernel : public Kernel {
 public:
  // to_float: DynamicQuantizeToFloat instead — outputs (q - zp) as float and
  // the scale, onnxruntime's integers for an fp32 convolution.
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
    float mn = 0.f, mx = 0.f;
    if (avx2) {
      std::vector<float> lo(static_cast<size_t>(parts), 0.f), hi(static_cast<size_t>(parts), 0.f);
#pragma omp parallel for num_threads(parts)
      for (int64_t k = 0; k < parts; ++k) {
        const int64_t b = std::min(n, k * per), e = std::min(n, b + per);
        MinMaxAvx2(x + b, e - b, &lo[static_cast<size_t>(k)], &hi[static_cast<size_t>(k)]);
      }
      for (int64_t k = 0; k < parts; ++k)
        mn = std::min(mn, lo[static_cast<size_t>(k)]), mx = std::max(mx, hi[static_cast<size_t>(k)]);
    } else {
      for (int64_t i = 0; i < n; ++i) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
    }
    const float scale = (mx - mn) / 255.f;
    const float zp = scale == 0.f ? 0.f : std::clamp(RoundHalfEven(-mn / scale), 0.f, 255.f);
    Tensor y = xt.is_plain() ? ctx.Allocate(DataType::kFloat32, xt.shape())
                             : Tensor::WithLayout(DataType::kFloat32, xt.shape(), xt.bytes(), ctx.Scratch(xt.bytes()),
                                                  xt.layout());
    float* yp = y.data<float>();
    if (scale == 0.f) {
      std::fill(yp, yp + n, 0.f);
    } else if (avx2) {
#pragma omp parallel for num_threads(parts)
      for (int64_t k = 0; k < parts; ++k) {
        const int64_t b = std::min(n, k * per), e = std::min(n, b + per);
        QuantizeAvx2(x + b, e - b, scale, zp, to_float_, yp + b);
      }
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const float q = std::clamp(RoundHalfEven(x[i] / scale) + zp, 0.f, 255.f) - zp;
        yp[i] = to_float_ ? q : q * scale;
      }
    }
    out[0] = std::move(y);
    if (to_float_ && out.size() > 1) {
      out[1] = ctx.Allocate(DataType::kFloat32, {});
      out[1].data<float>()[0] = scale;
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
