// Reference pooling: MaxPool (optional Indices output), AveragePool,
// GlobalAveragePool and GlobalMaxPool, N-D, with pads, strides, dilations,
// ceil_mode and auto_pad.
#include <cmath>
#include <limits>

#include "common/status_macros.h"
#include "engine/ref_util.h"

namespace imagen::engine::ref {
namespace {

struct PoolAttrs {
  bool is_max = true;
  std::string auto_pad;
  std::vector<int64_t> kernel, pads, strides, dilations;
  int64_t ceil_mode = 0, count_include_pad = 0, storage_order = 0;
};

absl::StatusOr<PoolAttrs> ReadPool(const Attributes& a, bool is_max) {
  PoolAttrs p;
  p.is_max = is_max;
  ASSIGN_OR_RETURN(p.auto_pad, a.GetString("auto_pad", "NOTSET"));
  ASSIGN_OR_RETURN(p.kernel, a.GetInts("kernel_shape"));
  ASSIGN_OR_RETURN(p.pads, a.GetInts("pads", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(p.strides, a.GetInts("strides", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(p.dilations, a.GetInts("dilations", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(p.ceil_mode, a.GetInt("ceil_mode", 0));
  ASSIGN_OR_RETURN(p.count_include_pad, a.GetInt("count_include_pad", 0));
  ASSIGN_OR_RETURN(p.storage_order, a.GetInt("storage_order", 0));
  return p;
}

absl::Status Pool(const PoolAttrs& at, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  RETURN_IF_ERROR(NeedInputs(in, 1));
  const Shape& x = in[0].shape();
  if (x.size() < 3) return absl::InvalidArgumentError("pooling input must be at least 3-D");
  const size_t sp = x.size() - 2;
  if (at.kernel.size() != sp) return absl::InvalidArgumentError("kernel_shape rank does not match the input");
  if (!at.pads.empty() && at.pads.size() != 2 * sp) return absl::InvalidArgumentError("pads has the wrong length");
  std::vector<int64_t> s(sp), d(sp), pb(sp), pe(sp), o(sp), in_sz(sp);
  for (size_t i = 0; i < sp; ++i) {
    in_sz[i] = x[2 + i];
    s[i] = at.strides.empty() ? 1 : at.strides[i];
    d[i] = at.dilations.empty() ? 1 : at.dilations[i];
    pb[i] = at.pads.empty() ? 0 : at.pads[i];
    pe[i] = at.pads.empty() ? 0 : at.pads[i + sp];
    const int64_t ek = (at.kernel[i] - 1) * d[i] + 1;
    if (at.auto_pad == "SAME_UPPER" || at.auto_pad == "SAME_LOWER") {
      o[i] = (in_sz[i] + s[i] - 1) / s[i];
      const int64_t total = std::max<int64_t>(0, (o[i] - 1) * s[i] + ek - in_sz[i]);
      pb[i] = at.auto_pad == "SAME_LOWER" ? total - total / 2 : total / 2;
      pe[i] = total - pb[i];
    } else if (at.auto_pad == "VALID") {
      pb[i] = pe[i] = 0;
      o[i] = (in_sz[i] - ek) / s[i] + 1;
    } else {
      const int64_t span = in_sz[i] + pb[i] + pe[i] - ek;
      o[i] = (at.ceil_mode ? (span + s[i] - 1) / s[i] : span / s[i]) + 1;
      // A window must start inside the input or the left padding.
      if (at.ceil_mode && (o[i] - 1) * s[i] >= in_sz[i] + pb[i]) --o[i];
    }
    if (o[i] <= 0) return absl::InvalidArgumentError("pooling window larger than the input");
  }
  Shape os = {x[0], x[1]};
  os.insert(os.end(), o.begin(), o.end());
  if (in[0].dtype() == DataType::kUInt8 || in[0].dtype() == DataType::kInt8) {
    if (!at.is_max) return absl::UnimplementedError("AveragePool of 8-bit integers");
    // 8-bit max pooling through float (exact), then back.
    Tensor f = ctx.Allocate(DataType::kFloat32, x);
    for (int64_t i = 0; i < f.size(); ++i) f.data<float>()[i] = static_cast<float>(IntAt(in[0], i));
    std::vector<Tensor> fin = {f};
    RETURN_IF_ERROR(Pool(at, fin, out, ctx));
    Tensor q = ctx.Allocate(in[0].dtype(), out[0].shape());
    for (int64_t i = 0; i < q.size(); ++i) {
      const auto v = static_cast<int32_t>(out[0].data<float>()[i]);
      if (q.dtype() == DataType::kUInt8) {
        q.data<uint8_t>()[i] = static_cast<uint8_t>(v);
      } else {
        q.data<int8_t>()[i] = static_cast<int8_t>(v);
      }
    }
    out[0] = q;
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(NeedFloat(in[0], "X"));
  out[0] = ctx.Allocate(DataType::kFloat32, os);
  const bool want_idx = out.size() > 1;
  if (want_idx) out[1] = ctx.Allocate(DataType::kInt64, os);
  const int64_t planes = x[0] * x[1];
  const int64_t in_sp = Prod(x, 2, static_cast<int64_t>(x.size()));
  const int64_t out_sp = Prod(os, 2, static_cast<int64_t>(os.size()));
  const int64_t k_sp = Prod(at.kernel, 0, static_cast<int64_t>(sp));
  const float* xp = in[0].data<float>();
  float* yp = out[0].data<float>();
  int64_t* ip = want_idx ? out[1].data<int64_t>() : nullptr;
#pragma omp parallel for if (planes * out_sp * k_sp > (1 << 16))
  for (int64_t pl = 0; pl < planes; ++pl) {
    std::vector<int64_t> opos(sp), ipos(sp);
    for (int64_t q = 0; q < out_sp; ++q) {
      int64_t rem = q;
      for (size_t dd = sp; dd-- > 0;) {
        opos[dd] = rem % o[dd];
        rem /= o[dd];
      }
      float best = -std::numeric_limits<float>::infinity();
      int64_t best_idx = -1;
      double sum = 0;
      int64_t count = 0, padded_count = 0;
      for (int64_t kq = 0; kq < k_sp; ++kq) {
        int64_t r2 = kq, off = 0, mul = 1;
        bool inside = true, in_padded = true;
        for (size_t dd = sp; dd-- > 0;) {
          const int64_t kk = r2 % at.kernel[dd];
          r2 /= at.kernel[dd];
          const int64_t p = opos[dd] * s[dd] - pb[dd] + kk * d[dd];
          if (p < -pb[dd] || p >= in_sz[dd] + pe[dd]) in_padded = false;
          if (p < 0 || p >= in_sz[dd]) inside = false;
          ipos[dd] = p;
        }
        if (in_padded) ++padded_count;
        if (!inside) continue;
        for (size_t dd = sp; dd-- > 0;) {
          off += ipos[dd] * mul;
          mul *= in_sz[dd];
        }
        const float v = xp[pl * in_sp + off];
        if (best_idx < 0 || v > best) {
          best = v;
          best_idx = (at.storage_order == 1 && sp == 2) ? ipos[1] * in_sz[0] + ipos[0] : off;
        }
        sum += v;
        ++count;
      }
      if (at.is_max) {
        yp[pl * out_sp + q] = best;
        if (ip) ip[pl * out_sp + q] = pl * in_sp + best_idx;
      } else {
        const int64_t div = at.count_include_pad ? padded_count : count;
        yp[pl * out_sp + q] = div ? static_cast<float>(sum / static_cast<double>(div)) : 0.f;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status GlobalPool(bool is_max, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  RETURN_IF_ERROR(NeedInputs(in, 1));
  RETURN_IF_ERROR(NeedFloat(in[0], "X"));
  const Shape& x = in[0].shape();
  if (x.size() < 3) return absl::InvalidArgumentError("input must be at least 3-D");
  Shape os(x.size(), 1);
  os[0] = x[0];
  os[1] = x[1];
  out[0] = ctx.Allocate(DataType::kFloat32, os);
  const int64_t planes = x[0] * x[1], sp = Prod(x, 2, static_cast<int64_t>(x.size()));
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = in[0].data<float>() + p * sp;
    double acc = is_max ? -INFINITY : 0;
    for (int64_t i = 0; i < sp; ++i) acc = is_max ? std::max<double>(acc, src[i]) : acc + src[i];
    out[0].data<float>()[p] = static_cast<float>(is_max ? acc : acc / static_cast<double>(sp));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterPool(KernelRegistry& r) {
  for (bool is_max : {true, false}) {
    r.Register(is_max ? "MaxPool" : "AveragePool", Backend::kReference,
               [is_max](const KernelInit& init) -> absl::StatusOr<std::unique_ptr<Kernel>> {
                 ASSIGN_OR_RETURN(PoolAttrs at, ReadPool(init.node.attrs, is_max));
                 return Make([at](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
                   return Pool(at, in, out, ctx);
                 });
               });
    r.Register(is_max ? "GlobalMaxPool" : "GlobalAveragePool", Backend::kReference,
               [is_max](const KernelInit&) -> absl::StatusOr<std::unique_ptr<Kernel>> {
                 return Make([is_max](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
                   return GlobalPool(is_max, in, out, ctx);
                 });
               });
  }
}

}  // namespace imagen::engine::ref
