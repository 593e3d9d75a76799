// Reference Resize (opset 10-19) and Upsample: nearest / linear / cubic,
// every coordinate_transformation_mode (half_pixel, half_pixel_symmetric,
// pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize), every
// nearest_mode, exclude_outside, antialias, axes and keep_aspect_ratio_policy.
// N-D and separable: one 1-D pass per resized axis, following the ONNX
// reference implementation's neighbour and coefficient rules.
#include <cmath>

#include "common/status_macros.h"
#include "engine/ref_util.h"

namespace imagen::engine::ref {
namespace {

struct ResizeAttrs {
  std::string mode = "nearest", coord = "half_pixel", nearest = "round_prefer_floor", policy = "stretch";
  float cubic_a = -0.75f, extrapolation = 0.f;
  bool exclude_outside = false, antialias = false;
  std::vector<int64_t> axes;
  std::vector<float> scales_attr;  // Upsample-7
  bool upsample = false;
};

// One output position of a 1-D pass: taps into the input axis, or "outside".
struct Taps {
  std::vector<int64_t> idx;
  std::vector<float> w;
  bool outside = false;
};

// `out_len` is the unrounded in_len * scale, as the ONNX reference uses it.
double SourceCoord(const ResizeAttrs& a, double x, double scale, int64_t in_len, double out_len, double roi_start,
                   double roi_end) {
  const std::string& m = a.coord;
  if (m == "asymmetric") return x / scale;
  if (m == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  if (m == "align_corners") return out_len == 1 ? 0 : x * static_cast<double>(in_len - 1) / (out_len - 1);
  if (m == "pytorch_half_pixel") return out_len > 1 ? (x + 0.5) / scale - 0.5 : 0;
  if (m == "tf_crop_and_resize") {
    return out_len > 1 ? roi_start * (in_len - 1) + x * (roi_end - roi_start) * (in_len - 1) / (out_len - 1)
                       : 0.5 * (roi_start + roi_end) * (in_len - 1);
  }
  if (m == "half_pixel_symmetric") {
    const double adjustment = static_cast<double>(out_len) / (scale * static_cast<double>(in_len));
    const double center = static_cast<double>(in_len) / 2;
    const double offset = center * (1 - adjustment);
    return offset + (x + 0.5) / scale - 0.5;
  }
  return (x + 0.5) / scale - 0.5;  // half_pixel
}

absl::StatusOr<std::vector<Taps>> BuildTaps(const ResizeAttrs& a, int64_t in_len, int64_t out_len, double scale,
                                            double roi_start, double roi_end) {
  std::vector<Taps> taps(static_cast<size_t>(out_len));
  for (int64_t o = 0; o < out_len; ++o) {
    Taps& t = taps[static_cast<size_t>(o)];
    const double x =
        SourceCoord(a, static_cast<double>(o), scale, in_len, static_cast<double>(in_len) * scale, roi_start, roi_end);
    if (a.coord == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(in_len - 1))) {
      t.outside = true;
      continue;
    }
    if (a.mode == "nearest") {
      int64_t i;
      const double fl = std::floor(x);
      if (a.nearest == "floor") {
        i = static_cast<int64_t>(fl);
      } else if (a.nearest == "ceil") {
        i = static_cast<int64_t>(std::ceil(x));
      } else if (a.nearest == "round_prefer_ceil") {
        i = static_cast<int64_t>(x - fl == 0.5 ? fl + 1 : std::round(x));
      } else {
        i = static_cast<int64_t>(x - fl == 0.5 ? fl : std::round(x));
      }
      t.idx.push_back(std::clamp<int64_t>(i, 0, in_len - 1));
      t.w.push_back(1.f);
      continue;
    }
    const double base = std::ceil(x) - 1;  // the pixel left of x (x itself excluded)
    const double ratio = x - base;         // in (0, 1]
    const double s = a.antialias ? std::min(scale, 1.0) : 1.0;
    std::vector<double> coeffs;
    int64_t start;
    if (a.mode == "linear") {
      start = static_cast<int64_t>(std::floor(-1 / s) + 1);
      const int64_t n = 2 - 2 * start;
      for (int64_t k = 0; k < n; ++k) {
        coeffs.push_back(std::clamp(1 - std::fabs((static_cast<double>(start + k) - ratio) * s), 0.0, 1.0));
      }
    } else {
      start = static_cast<int64_t>(std::floor(-2 / s) + 1);
      const int64_t n = 2 - 2 * start;
      const double A = a.cubic_a;
      for (int64_t k = 0; k < n; ++k) {
        const double d = std::fabs(s * (ratio - static_cast<double>(start + k)));
        double c = 0;
        if (d <= 1) {
          c = ((A + 2) * d - (A + 3)) * d * d + 1;
        } else if (d < 2) {
          c = ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;
        }
        coeffs.push_back(c);
      }
    }
    double sum = 0;
    for (double c : coeffs) sum += c;
    for (double& c : coeffs) c /= sum;
    sum = 0;
    for (size_t k = 0; k < coeffs.size(); ++k) {
      const int64_t i = static_cast<int64_t>(base) + start + static_cast<int64_t>(k);
      if (a.exclude_outside && (i < 0 || i >= in_len)) coeffs[k] = 0;
      sum += coeffs[k];
    }
    for (size_t k = 0; k < coeffs.size(); ++k) {
      const int64_t i = static_cast<int64_t>(base) + start + static_cast<int64_t>(k);
      const double c = a.exclude_outside ? (sum != 0 ? coeffs[k] / sum : 0) : coeffs[k];
      if (c == 0) continue;
      t.idx.push_back(std::clamp<int64_t>(i, 0, in_len - 1));
      t.w.push_back(static_cast<float>(c));
    }
  }
  return taps;
}

// Resizes `in` along `axis` to `out_len` using `taps`.
Tensor Pass(const Tensor& in, int64_t axis, const std::vector<Taps>& taps, float extrapolation, RunContext& ctx) {
  Shape os = in.shape();
  const int64_t in_len = os[static_cast<size_t>(axis)];
  const int64_t out_len = static_cast<int64_t>(taps.size());
  os[static_cast<size_t>(axis)] = out_len;
  Tensor out = ctx.Allocate(DataType::kFloat32, os);
  const int64_t outer = Prod(os, 0, axis), inner = Prod(os, axis + 1, static_cast<int64_t>(os.size()));
  const float* src = in.data<float>();
  float* dst = out.data<float>();
#pragma omp parallel for collapse(2) if (outer * out_len * inner > (1 << 15))
  for (int64_t b = 0; b < outer; ++b) {
    for (int64_t o = 0; o < out_len; ++o) {
      const Taps& t = taps[static_cast<size_t>(o)];
      float* d = dst + (b * out_len + o) * inner;
      if (t.outside) {
        std::fill(d, d + inner, extrapolation);
        continue;
      }
      std::fill(d, d + inner, 0.f);
      for (size_t k = 0; k < t.idx.size(); ++k) {
        const float w = t.w[k];
        const float* s = src + (b * in_len + t.idx[k]) * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] += w * s[i];
      }
    }
  }
  return out;
}

absl::Status RunResize(const ResizeAttrs& a, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  RETURN_IF_ERROR(NeedInputs(in, 1));
  RETURN_IF_ERROR(NeedFloat(in[0], "X"));
  const Shape& x = in[0].shape();
  const int64_t r = in[0].rank();
  const Tensor* roi_t = nullptr;
  const Tensor* scales_t = nullptr;
  const Tensor* sizes_t = nullptr;
  if (a.upsample || in.size() == 2) {  // Upsample or Resize-10: (X, scales)
    if (in.size() > 1 && !in[1].empty()) scales_t = &in[1];
  } else {
    if (in.size() > 1 && !in[1].empty()) roi_t = &in[1];
    if (in.size() > 2 && !in[2].empty() && in[2].size() > 0) scales_t = &in[2];
    if (in.size() > 3 && !in[3].empty() && in[3].size() > 0) sizes_t = &in[3];
  }
  std::vector<int64_t> axes = a.axes;
  if (axes.empty()) {
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  }
  for (int64_t& ax : axes) {
    ASSIGN_OR_RETURN(ax, NormAxis(ax, r));
  }
  std::vector<double> scale(static_cast<size_t>(r), 1.0);
  Shape os = x;
  std::vector<double> roi_s(static_cast<size_t>(r), 0.0), roi_e(static_cast<size_t>(r), 1.0);
  if (roi_t && roi_t->size() == 2 * static_cast<int64_t>(axes.size()) && roi_t->dtype() == DataType::kFloat32) {
    for (size_t i = 0; i < axes.size(); ++i) {
      roi_s[static_cast<size_t>(axes[i])] = roi_t->data<float>()[i];
      roi_e[static_cast<size_t>(axes[i])] = roi_t->data<float>()[i + axes.size()];
    }
  }
  if (sizes_t) {
    if (sizes_t->size() != static_cast<int64_t>(axes.size())) {
      return absl::InvalidArgumentError("sizes has " + std::to_string(sizes_t->size()) + " values for " +
                                        std::to_string(axes.size()) + " axes");
    }
    std::vector<int64_t> sizes = ToInt64Vector(*sizes_t);
    if (a.policy == "stretch") {
      for (size_t i = 0; i < axes.size(); ++i) {
        const size_t ax = static_cast<size_t>(axes[i]);
        os[ax] = sizes[i];
        scale[ax] = static_cast<double>(sizes[i]) / static_cast<double>(x[ax]);
      }
    } else {
      double s = a.policy == "not_larger" ? INFINITY : 0;
      for (size_t i = 0; i < axes.size(); ++i) {
        const double si = static_cast<double>(sizes[i]) / static_cast<double>(x[static_cast<size_t>(axes[i])]);
        s = a.policy == "not_larger" ? std::min(s, si) : std::max(s, si);
      }
      for (int64_t ax : axes) {
        scale[static_cast<size_t>(ax)] = s;
        os[static_cast<size_t>(ax)] =
            static_cast<int64_t>(std::floor(s * static_cast<double>(x[static_cast<size_t>(ax)]) + 0.5));
      }
    }
  } else {
    std::vector<float> sc = a.scales_attr;
    if (scales_t) {
      if (scales_t->dtype() != DataType::kFloat32) return absl::InvalidArgumentError("scales must be FP32");
      sc.assign(scales_t->data<float>(), scales_t->data<float>() + scales_t->size());
    }
    if (sc.size() != axes.size()) return absl::InvalidArgumentError("Resize needs scales or sizes for every axis");
    for (size_t i = 0; i < axes.size(); ++i) {
      const size_t ax = static_cast<size_t>(axes[i]);
      if (sc[i] <= 0) return absl::InvalidArgumentError("scales must be positive");
      scale[ax] = sc[i];
      os[ax] = static_cast<int64_t>(std::floor(static_cast<double>(x[ax]) * sc[i]));
    }
  }
  Tensor cur = in[0];
  for (int64_t ax = 0; ax < r; ++ax) {
    const size_t a2 = static_cast<size_t>(ax);
    const bool identity = os[a2] == x[a2] && scale[a2] == 1.0 && a.coord != "tf_crop_and_resize";
    if (identity) continue;
    if (x[a2] == 0) return absl::InvalidArgumentError("cannot resize an empty axis");
    ASSIGN_OR_RETURN(std::vector<Taps> taps, BuildTaps(a, x[a2], os[a2], scale[a2], roi_s[a2], roi_e[a2]));
    cur = Pass(cur, ax, taps, a.extrapolation, ctx);
  }
  out[0] = cur.raw() == in[0].raw() ? in[0].Clone() : cur;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeResize(const KernelInit& init, bool upsample) {
  const Attributes& at = init.node.attrs;
  ResizeAttrs a;
  a.upsample = upsample;
  ASSIGN_OR_RETURN(a.mode, at.GetString("mode", "nearest"));
  const bool old = upsample || init.node.inputs.size() == 2;  // Upsample, Resize-10
  ASSIGN_OR_RETURN(a.coord, at.GetString("coordinate_transformation_mode", old ? "asymmetric" : "half_pixel"));
  ASSIGN_OR_RETURN(a.nearest, at.GetString("nearest_mode", old ? "floor" : "round_prefer_floor"));
  ASSIGN_OR_RETURN(a.policy, at.GetString("keep_aspect_ratio_policy", "stretch"));
  ASSIGN_OR_RETURN(a.cubic_a, at.GetFloat("cubic_coeff_a", -0.75f));
  ASSIGN_OR_RETURN(a.extrapolation, at.GetFloat("extrapolation_value", 0.f));
  ASSIGN_OR_RETURN(int64_t excl, at.GetInt("exclude_outside", 0));
  ASSIGN_OR_RETURN(int64_t aa, at.GetInt("antialias", 0));
  ASSIGN_OR_RETURN(a.axes, at.GetInts("axes", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(a.scales_attr, at.GetFloats("scales", std::vector<float>{}));
  a.exclude_outside = excl != 0;
  a.antialias = aa != 0;
  if (a.mode == "bilinear" || a.mode == "trilinear") a.mode = "linear";
  if (a.mode != "nearest" && a.mode != "linear" && a.mode != "cubic") {
    return absl::InvalidArgumentError("unknown Resize mode '" + a.mode + "'");
  }
  for (const char* m : {"half_pixel", "half_pixel_symmetric", "tf_half_pixel_for_nn", "pytorch_half_pixel",
                        "align_corners", "asymmetric", "tf_crop_and_resize"}) {
    if (a.coord == m) {
      return Make([a](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
        return RunResize(a, in, out, ctx);
      });
    }
  }
  return absl::InvalidArgumentError("unknown coordinate_transformation_mode '" + a.coord + "'");
}

}  // namespace

void RegisterResize(KernelRegistry& r) {
  r.Register("Resize", Backend::kReference, [](const KernelInit& init) { return MakeResize(init, false); });
  r.Register("Upsample", Backend::kReference, [](const KernelInit& init) { return MakeResize(init, true); });
}

}  // namespace imagen::engine::ref
