// Reference normalisations and reductions: BatchNormalization (inference and
// training mode), InstanceNormalization, Softmax / LogSoftmax (opset < 13
// flatten semantics and opset >= 13 single-axis semantics) and ReduceMean /
// ReduceSum / ReduceMax / ReduceMin (axes as attribute or input).
#include <cmath>
#include <limits>

#include "common/status_macros.h"
#include "engine/ref_util.h"

namespace imagen::engine::ref {
namespace {

absl::StatusOr<std::unique_ptr<Kernel>> MakeBatchNorm(const KernelInit& init) {
  ASSIGN_OR_RETURN(float eps, init.node.attrs.GetFloat("epsilon", 1e-5f));
  ASSIGN_OR_RETURN(float momentum, init.node.attrs.GetFloat("momentum", 0.9f));
  ASSIGN_OR_RETURN(int64_t training, init.node.attrs.GetInt("training_mode", 0));
  return Make([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 5));
    for (size_t i = 0; i < 5; ++i) RETURN_IF_ERROR(NeedFloat(in[i], "BatchNormalization input"));
    const Shape& x = in[0].shape();
    if (x.size() < 2) return absl::InvalidArgumentError("input must be at least 2-D");
    const int64_t n = x[0], c = x[1], sp = Prod(x, 2, static_cast<int64_t>(x.size()));
    for (size_t i = 1; i < 5; ++i) {
      if (in[i].size() != c) return absl::InvalidArgumentError("scale/bias/mean/var must have C elements");
    }
    out[0] = ctx.Allocate(DataType::kFloat32, x);
    const float* xp = in[0].data<float>();
    std::vector<float> mean(in[3].data<float>(), in[3].data<float>() + c);
    std::vector<float> var(in[4].data<float>(), in[4].data<float>() + c);
    if (training) {
      for (int64_t ch = 0; ch < c; ++ch) {
        double s = 0, s2 = 0;
        for (int64_t b = 0; b < n; ++b) {
          for (int64_t i = 0; i < sp; ++i) {
            const double v = xp[(b * c + ch) * sp + i];
            s += v;
            s2 += v * v;
          }
        }
        const double cnt = static_cast<double>(n * sp);
        const double m = s / cnt;
        mean[static_cast<size_t>(ch)] = static_cast<float>(m);
        var[static_cast<size_t>(ch)] = static_cast<float>(s2 / cnt - m * m);
      }
      if (out.size() > 1) {
        out[1] = ctx.Allocate(DataType::kFloat32, {c});
        for (int64_t ch = 0; ch < c; ++ch) {
          out[1].data<float>()[ch] =
              in[3].data<float>()[ch] * momentum + mean[static_cast<size_t>(ch)] * (1 - momentum);
        }
      }
      if (out.size() > 2) {
        out[2] = ctx.Allocate(DataType::kFloat32, {c});
        for (int64_t ch = 0; ch < c; ++ch) {
          out[2].data<float>()[ch] = in[4].data<float>()[ch] * momentum + var[static_cast<size_t>(ch)] * (1 - momentum);
        }
      }
    }
    float* yp = out[0].data<float>();
#pragma omp parallel for collapse(2) if (n * c * sp > 65536)
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const float a = in[1].data<float>()[ch] / std::sqrt(var[static_cast<size_t>(ch)] + eps);
        const float bb = in[2].data<float>()[ch] - mean[static_cast<size_t>(ch)] * a;
        const float* s = xp + (b * c + ch) * sp;
        float* d = yp + (b * c + ch) * sp;
        for (int64_t i = 0; i < sp; ++i) d[i] = s[i] * a + bb;
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeInstanceNorm(const KernelInit& init) {
  ASSIGN_OR_RETURN(float eps, init.node.attrs.GetFloat("epsilon", 1e-5f));
  return Make([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 3));
    for (size_t i = 0; i < 3; ++i) RETURN_IF_ERROR(NeedFloat(in[i], "InstanceNormalization input"));
    const Shape& x = in[0].shape();
    if (x.size() < 3) return absl::InvalidArgumentError("input must be at least 3-D");
    const int64_t n = x[0], c = x[1], sp = Prod(x, 2, static_cast<int64_t>(x.size()));
    if (in[1].size() != c || in[2].size() != c) return absl::InvalidArgumentError("scale/B must have C elements");
    out[0] = ctx.Allocate(DataType::kFloat32, x);
#pragma omp parallel for collapse(2) if (n * c * sp > 65536)
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const float* s = in[0].data<float>() + (b * c + ch) * sp;
        float* d = out[0].data<float>() + (b * c + ch) * sp;
        double sum = 0;
        for (int64_t i = 0; i < sp; ++i) sum += s[i];
        const double m = sum / static_cast<double>(sp);
        double v = 0;
        for (int64_t i = 0; i < sp; ++i) v += (s[i] - m) * (s[i] - m);
        v /= static_cast<double>(sp);
        const double a = in[1].data<float>()[ch] / std::sqrt(v + eps);
        for (int64_t i = 0; i < sp; ++i) d[i] = static_cast<float>((s[i] - m) * a + in[2].data<float>()[ch]);
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeSoftmax(const KernelInit& init, bool log) {
  const bool legacy = init.graph.opset > 0 && init.graph.opset < 13;
  ASSIGN_OR_RETURN(int64_t axis_attr, init.node.attrs.GetInt("axis", legacy ? 1 : -1));
  return Make([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    RETURN_IF_ERROR(NeedFloat(in[0], "input"));
    const Shape& x = in[0].shape();
    const int64_t r = in[0].rank();
    ASSIGN_OR_RETURN(int64_t axis, NormAxis(axis_attr, r));
    out[0] = ctx.Allocate(DataType::kFloat32, x);
    // legacy: rows are [axis, r) flattened; else one axis with stride `inner`.
    const int64_t outer = Prod(x, 0, axis);
    const int64_t len = legacy ? Prod(x, axis, r) : x[static_cast<size_t>(axis)];
    const int64_t inner = legacy ? 1 : Prod(x, axis + 1, r);
    const float* xp = in[0].data<float>();
    float* yp = out[0].data<float>();
#pragma omp parallel for collapse(2) if (outer * inner * len > 65536)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const float* s = xp + o * len * inner + i;
        float* d = yp + o * len * inner + i;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t k = 0; k < len; ++k) mx = std::max(mx, s[k * inner]);
        double sum = 0;
        for (int64_t k = 0; k < len; ++k) sum += std::exp(static_cast<double>(s[k * inner] - mx));
        for (int64_t k = 0; k < len; ++k) {
          const double e = static_cast<double>(s[k * inner] - mx);
          d[k * inner] = static_cast<float>(log ? e - std::log(sum) : std::exp(e) / sum);
        }
      }
    }
    return absl::OkStatus();
  });
}

enum class Reduce { kMean, kSum, kMax, kMin };

absl::StatusOr<std::unique_ptr<Kernel>> MakeReduce(const KernelInit& init, Reduce kind) {
  ASSIGN_OR_RETURN(std::vector<int64_t> axes_attr, init.node.attrs.GetInts("axes", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(int64_t keepdims, init.node.attrs.GetInt("keepdims", 1));
  ASSIGN_OR_RETURN(int64_t noop, init.node.attrs.GetInt("noop_with_empty_axes", 0));
  return Make([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    RETURN_IF_ERROR(NeedFloat(in[0], "data"));
    const Shape& x = in[0].shape();
    const int64_t r = in[0].rank();
    std::vector<int64_t> axes = axes_attr;
    if (in.size() > 1 && !in[1].empty()) axes = ToInt64Vector(in[1]);
    if (axes.empty() && noop) {
      out[0] = in[0];
      return absl::OkStatus();
    }
    std::vector<char> red(static_cast<size_t>(r), axes.empty() ? 1 : 0);
    for (int64_t a : axes) {
      ASSIGN_OR_RETURN(int64_t ax, NormAxis(a, r));
      red[static_cast<size_t>(ax)] = 1;
    }
    Shape kept, os;
    for (int64_t d = 0; d < r; ++d) {
      const int64_t v = red[static_cast<size_t>(d)] ? 1 : x[static_cast<size_t>(d)];
      kept.push_back(v);
      if (!red[static_cast<size_t>(d)] || keepdims) os.push_back(v);
    }
    const int64_t on = NumElements(kept);
    std::vector<double> acc(static_cast<size_t>(on), kind == Reduce::kMax   ? -INFINITY
                                                     : kind == Reduce::kMin ? INFINITY
                                                                            : 0.0);
    const std::vector<int64_t> ks = BroadcastStrides(kept, x);
    const int64_t n = in[0].size();
    const float* xp = in[0].data<float>();
    for (int64_t i = 0; i < n; ++i) {
      int64_t rem = i, off = 0;
      for (size_t d = x.size(); d-- > 0;) {
        off += (rem % x[d]) * ks[d];
        rem /= x[d];
      }
      double& a = acc[static_cast<size_t>(off)];
      const double v = xp[i];
      a = kind == Reduce::kMax ? std::max(a, v) : kind == Reduce::kMin ? std::min(a, v) : a + v;
    }
    const double count = on ? static_cast<double>(n) / static_cast<double>(on) : 0;
    out[0] = ctx.Allocate(DataType::kFloat32, os);
    for (int64_t i = 0; i < on; ++i) {
      const double a = acc[static_cast<size_t>(i)];
      out[0].data<float>()[i] = static_cast<float>(kind == Reduce::kMean ? a / count : a);
    }
    return absl::OkStatus();
  });
}

}  // namespace

void RegisterNorm(KernelRegistry& r) {
  r.Register("BatchNormalization", Backend::kReference, MakeBatchNorm);
  r.Register("InstanceNormalization", Backend::kReference, MakeInstanceNorm);
  r.Register("Softmax", Backend::kReference, [](const KernelInit& i) { return MakeSoftmax(i, false); });
  r.Register("LogSoftmax", Backend::kReference, [](const KernelInit& i) { return MakeSoftmax(i, true); });
  r.Register("ReduceMean", Backend::kReference, [](const KernelInit& i) { return MakeReduce(i, Reduce::kMean); });
  r.Register("ReduceSum", Backend::kReference, [](const KernelInit& i) { return MakeReduce(i, Reduce::kSum); });
  r.Register("ReduceMax", Backend::kReference, [](const KernelInit& i) { return MakeReduce(i, Reduce::kMax); });
  r.Register("ReduceMin", Backend::kReference, [](const KernelInit& i) { return MakeReduce(i, Reduce::kMin); });
}

}  // namespace imagen::engine::ref
