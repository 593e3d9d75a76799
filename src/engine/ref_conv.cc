// Reference convolutions and matrix products: Conv (1-D/2-D, groups,
// dilations, auto_pad) via im2col + GEMM, ConvTranspose (N-D, direct),
// Gemm and MatMul (batched, broadcasting).
#include <cstring>

#include "common/status_macros.h"
#include "engine/ref_gemm.h"
#include "engine/ref_util.h"

namespace imagen::engine::ref {
namespace {

struct ConvAttrs {
  std::string auto_pad;
  std::vector<int64_t> dilations, kernel_shape, pads, strides, output_padding, output_shape;
  int64_t group = 1;
};

absl::StatusOr<ConvAttrs> ReadConvAttrs(const Attributes& a) {
  ConvAttrs c;
  ASSIGN_OR_RETURN(c.auto_pad, a.GetString("auto_pad", "NOTSET"));
  ASSIGN_OR_RETURN(c.dilations, a.GetInts("dilations", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(c.kernel_shape, a.GetInts("kernel_shape", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(c.pads, a.GetInts("pads", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(c.strides, a.GetInts("strides", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(c.output_padding, a.GetInts("output_padding", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(c.output_shape, a.GetInts("output_shape", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(c.group, a.GetInt("group", 1));
  if (c.group <= 0) return absl::InvalidArgumentError("group must be positive");
  return c;
}

// Resolved geometry of a 2-D convolution (1-D is mapped to H = 1).
struct Geometry {
  int64_t n, c, h, w, m, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl;
};

absl::StatusOr<Geometry> ConvGeometry(const ConvAttrs& at, const Shape& x, const Shape& wshape) {
  const size_t sp = x.size() - 2;
  if (x.size() < 3 || x.size() > 4 || wshape.size() != x.size()) {
    return absl::UnimplementedError("only 1-D and 2-D convolutions (input " + ShapeToString(x) + ", weight " +
                                    ShapeToString(wshape) + ")");
  }
  auto get = [&](const std::vector<int64_t>& v, size_t i, int64_t def) { return v.empty() ? def : v[i]; };
  std::vector<int64_t> in(sp), k(sp), s(sp), d(sp), pb(sp), pe(sp), out(sp);
  for (size_t i = 0; i < sp; ++i) {
    in[i] = x[2 + i];
    k[i] = wshape[2 + i];
    if (!at.kernel_shape.empty() && at.kernel_shape.size() == sp && at.kernel_shape[i] != k[i]) {
      return absl::InvalidArgumentError("kernel_shape does not match the weights");
    }
    s[i] = get(at.strides, i, 1);
    d[i] = get(at.dilations, i, 1);
    if (!at.pads.empty() && at.pads.size() != 2 * sp) return absl::InvalidArgumentError("pads has the wrong length");
    pb[i] = get(at.pads, i, 0);
    pe[i] = at.pads.empty() ? 0 : at.pads[i + sp];
    const int64_t ek = (k[i] - 1) * d[i] + 1;
    if (at.auto_pad == "SAME_UPPER" || at.auto_pad == "SAME_LOWER") {
      out[i] = (in[i] + s[i] - 1) / s[i];
      const int64_t total = std::max<int64_t>(0, (out[i] - 1) * s[i] + ek - in[i]);
      pb[i] = at.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pe[i] = total - pb[i];
    } else if (at.auto_pad == "VALID") {
      pb[i] = pe[i] = 0;
    } else if (at.auto_pad != "NOTSET") {
      return absl::InvalidArgumentError("bad auto_pad '" + at.auto_pad + "'");
    }
    out[i] = (in[i] + pb[i] + pe[i] - ek) / s[i] + 1;
    if (out[i] <= 0) return absl::InvalidArgumentError("kernel larger than the padded input " + ShapeToString(x));
  }
  Geometry g{};
  g.n = x[0];
  g.c = x[1];
  g.m = wshape[0];
  if (wshape[1] * at.group != g.c || g.m % at.group) {
    return absl::InvalidArgumentError("input " + ShapeToString(x) + " does not match weight " + ShapeToString(wshape) +
                                      " with group " + std::to_string(at.group));
  }
  const bool two = sp == 2;
  g.h = two ? in[0] : 1;
  g.w = in[sp - 1];
  g.kh = two ? k[0] : 1;
  g.kw = k[sp - 1];
  g.oh = two ? out[0] : 1;
  g.ow = out[sp - 1];
  g.sh = two ? s[0] : 1;
  g.sw = s[sp - 1];
  g.dh = two ? d[0] : 1;
  g.dw = d[sp - 1];
  g.pt = two ? pb[0] : 0;
  g.pl = pb[sp - 1];
  return g;
}

// col[(c * kh + i) * kw + j][y * ow + x] for the channels [c0, c0 + cg) of one image.
template <typename T>
void Im2Col(const T* img, const Geometry& g, int64_t cg, T pad_value, T* col) {
  const int64_t cols = g.oh * g.ow;
#pragma omp parallel for collapse(2) if (cg * g.kh * g.kw * cols > (1 << 16))
  for (int64_t c = 0; c < cg; ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        T* dst = col + ((c * g.kh + i) * g.kw + j) * cols;
        const T* src = img + c * g.h * g.w;
        for (int64_t y = 0; y < g.oh; ++y) {
          const int64_t iy = y * g.sh - g.pt + i * g.dh;
          T* row = dst + y * g.ow;
          if (iy < 0 || iy >= g.h) {
            std::fill(row, row + g.ow, pad_value);
            continue;
          }
          for (int64_t x = 0; x < g.ow; ++x) {
            const int64_t ix = x * g.sw - g.pl + j * g.dw;
            row[x] = ix < 0 || ix >= g.w ? pad_value : src[iy * g.w + ix];
          }
        }
      }
    }
  }
}

Shape OutShape(const Shape& x, const Geometry& g) {
  if (x.size() == 3) return {g.n, g.m, g.ow};
  return {g.n, g.m, g.oh, g.ow};
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeConv(const KernelInit& init) {
  ASSIGN_OR_RETURN(ConvAttrs at, ReadConvAttrs(init.node.attrs));
  return Make([at](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 2));
    RETURN_IF_ERROR(NeedFloat(in[0], "X"));
    RETURN_IF_ERROR(NeedFloat(in[1], "W"));
    ASSIGN_OR_RETURN(Geometry g, ConvGeometry(at, in[0].shape(), in[1].shape()));
    const bool has_bias = in.size() > 2 && !in[2].empty();
    if (has_bias && in[2].size() != g.m) return absl::InvalidArgumentError("bias size != output channels");
    out[0] = ctx.Allocate(DataType::kFloat32, OutShape(in[0].shape(), g));
    const int64_t cg = g.c / at.group, mg = g.m / at.group, kdim = cg * g.kh * g.kw, cols = g.oh * g.ow;
    const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0;
    std::shared_ptr<void> scratch = pointwise ? nullptr : ctx.Scratch(static_cast<size_t>(kdim * cols) * 4);
    float* col = static_cast<float*>(scratch.get());
    const float* w = in[1].data<float>();
    for (int64_t b = 0; b < g.n; ++b) {
      for (int64_t grp = 0; grp < at.group; ++grp) {
        const float* img = in[0].data<float>() + (b * g.c + grp * cg) * g.h * g.w;
        float* dst = out[0].data<float>() + (b * g.m + grp * mg) * cols;
        const float* src = img;
        if (!pointwise) {
          Im2Col<float>(img, g, cg, 0.f, col);
          src = col;
        }
        Sgemm(false, false, mg, cols, kdim, 1.f, w + grp * mg * kdim, kdim, src, cols, 0.f, dst, cols);
        if (has_bias) {
          for (int64_t m = 0; m < mg; ++m) {
            const float bv = in[2].data<float>()[grp * mg + m];
            for (int64_t i = 0; i < cols; ++i) dst[m * cols + i] += bv;
          }
        }
      }
    }
    return absl::OkStatus();
  });
}

// Zero point of ConvInteger's x or w: scalar (or per-channel for w).
int32_t ZeroAt(std::span<const Tensor> in, size_t idx, int64_t channel) {
  if (in.size() <= idx || in[idx].empty()) return 0;
  const Tensor& z = in[idx];
  return static_cast<int32_t>(IntAt(z, z.size() == 1 ? 0 : channel));
}

int32_t ReadQ(const Tensor& t, int64_t i) {
  return t.dtype() == DataType::kUInt8 ? t.data<uint8_t>()[i] : t.data<int8_t>()[i];
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeConvInteger(const KernelInit& init) {
  ASSIGN_OR_RETURN(ConvAttrs at, ReadConvAttrs(init.node.attrs));
  return Make([at](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 2));
    for (int i = 0; i < 2; ++i) {
      if (in[i].dtype() != DataType::kUInt8 && in[i].dtype() != DataType::kInt8) {
        return absl::InvalidArgumentError("ConvInteger inputs must be INT8 or UINT8");
      }
    }
    ASSIGN_OR_RETURN(Geometry g, ConvGeometry(at, in[0].shape(), in[1].shape()));
    out[0] = ctx.Allocate(DataType::kInt32, OutShape(in[0].shape(), g));
    const int64_t cg = g.c / at.group, mg = g.m / at.group, kdim = cg * g.kh * g.kw, cols = g.oh * g.ow;
    const int32_t xz = ZeroAt(in, 2, 0);
    // Widen x - x_zero (padding contributes zero after the shift) and w - w_zero to float:
    // exact, since |products| and sums stay far below 2^24 for realistic kernels
    // is NOT guaranteed, so accumulate in int32 directly instead.
    std::vector<int32_t> xs(static_cast<size_t>(in[0].size()));
    for (int64_t i = 0; i < in[0].size(); ++i) xs[static_cast<size_t>(i)] = ReadQ(in[0], i) - xz;
    std::vector<int32_t> col(static_cast<size_t>(kdim * cols));
    std::vector<int32_t> ws(static_cast<size_t>(in[1].size()));
    for (int64_t m = 0; m < g.m; ++m) {
      const int32_t wz = ZeroAt(in, 3, m);
      for (int64_t i = 0; i < kdim; ++i) ws[static_cast<size_t>(m * kdim + i)] = ReadQ(in[1], m * kdim + i) - wz;
    }
    for (int64_t b = 0; b < g.n; ++b) {
      for (int64_t grp = 0; grp < at.group; ++grp) {
        Im2Col<int32_t>(xs.data() + (b * g.c + grp * cg) * g.h * g.w, g, cg, 0, col.data());
        int32_t* dst = out[0].data<int32_t>() + (b * g.m + grp * mg) * cols;
#pragma omp parallel for if (mg * cols * kdim > (1 << 18))
        for (int64_t m = 0; m < mg; ++m) {
          int32_t* row = dst + m * cols;
          std::fill(row, row + cols, 0);
          const int32_t* wrow = ws.data() + (grp * mg + m) * kdim;
          for (int64_t p = 0; p < kdim; ++p) {
            const int32_t wv = wrow[p];
            if (wv == 0) continue;
            const int32_t* crow = col.data() + p * cols;
            for (int64_t i = 0; i < cols; ++i) row[i] += wv * crow[i];
          }
        }
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeConvTranspose(const KernelInit& init) {
  ASSIGN_OR_RETURN(ConvAttrs at, ReadConvAttrs(init.node.attrs));
  return Make([at](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 2));
    RETURN_IF_ERROR(NeedFloat(in[0], "X"));
    RETURN_IF_ERROR(NeedFloat(in[1], "W"));
    const Shape& x = in[0].shape();
    const Shape& ws = in[1].shape();
    if (x.size() < 3 || ws.size() != x.size()) return absl::InvalidArgumentError("bad ConvTranspose ranks");
    const size_t sp = x.size() - 2;
    const int64_t n = x[0], c = x[1], group = at.group;
    if (ws[0] != c || c % group) return absl::InvalidArgumentError("weight does not match input channels");
    const int64_t mg = ws[1], m = mg * group, cg = c / group;
    auto get = [](const std::vector<int64_t>& v, size_t i, int64_t def) { return v.size() > i ? v[i] : def; };
    std::vector<int64_t> in_sz(sp), k(sp), s(sp), d(sp), pb(sp), out_sz(sp);
    for (size_t i = 0; i < sp; ++i) {
      in_sz[i] = x[2 + i];
      k[i] = ws[2 + i];
      s[i] = get(at.strides, i, 1);
      d[i] = get(at.dilations, i, 1);
      const int64_t op = get(at.output_padding, i, 0);
      const int64_t full = s[i] * (in_sz[i] - 1) + op + (k[i] - 1) * d[i] + 1;
      if (!at.output_shape.empty()) {
        out_sz[i] = at.output_shape[at.output_shape.size() - sp + i];
        // As the ONNX spec writes it, with floor division (total may be negative).
        const int64_t total = full - out_sz[i];
        const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
        pb[i] = at.auto_pad == "SAME_UPPER" ? half : total - half;
      } else if (at.auto_pad == "SAME_UPPER" || at.auto_pad == "SAME_LOWER") {
        out_sz[i] = in_sz[i] * s[i];
        const int64_t total = std::max<int64_t>(0, full - out_sz[i]);
        pb[i] = at.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      } else {
        pb[i] = get(at.pads, i, 0);
        const int64_t pe = get(at.pads, i + sp, 0);
        out_sz[i] = full - pb[i] - pe;
      }
      if (out_sz[i] <= 0) return absl::InvalidArgumentError("non-positive output size");
    }
    Shape o = {n, m};
    o.insert(o.end(), out_sz.begin(), out_sz.end());
    out[0] = ctx.AllocateZeroed(DataType::kFloat32, o);
    const int64_t in_sp = Prod(x, 2, static_cast<int64_t>(x.size()));
    const int64_t out_sp = Prod(o, 2, static_cast<int64_t>(o.size()));
    const int64_t k_sp = Prod(ws, 2, static_cast<int64_t>(ws.size()));
    const float* xp = in[0].data<float>();
    const float* wp = in[1].data<float>();
    float* yp = out[0].data<float>();
    std::vector<int64_t> ipos(sp), kpos(sp);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ci = 0; ci < c; ++ci) {
        const int64_t grp = ci / cg;
        for (int64_t p = 0; p < in_sp; ++p) {
          int64_t rem = p;
          for (size_t dd = sp; dd-- > 0;) {
            ipos[dd] = rem % in_sz[dd];
            rem /= in_sz[dd];
          }
          const float xv = xp[(b * c + ci) * in_sp + p];
          for (int64_t q = 0; q < k_sp; ++q) {
            int64_t r2 = q, off = 0;
            bool inside = true;
            for (size_t dd = sp; dd-- > 0;) {
              kpos[dd] = r2 % k[dd];
              r2 /= k[dd];
            }
            int64_t mul = 1;
            for (size_t dd = sp; dd-- > 0;) {
              const int64_t op = ipos[dd] * s[dd] + kpos[dd] * d[dd] - pb[dd];
              if (op < 0 || op >= out_sz[dd]) {
                inside = false;
                break;
              }
              off += op * mul;
              mul *= out_sz[dd];
            }
            if (!inside) continue;
            for (int64_t mo = 0; mo < mg; ++mo) {
              yp[(b * m + grp * mg + mo) * out_sp + off] += xv * wp[(ci * mg + mo) * k_sp + q];
            }
          }
        }
      }
    }
    if (in.size() > 2 && !in[2].empty()) {
      for (int64_t b = 0; b < n; ++b) {
        for (int64_t mo = 0; mo < m; ++mo) {
          for (int64_t i = 0; i < out_sp; ++i) yp[(b * m + mo) * out_sp + i] += in[2].data<float>()[mo];
        }
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeGemm(const KernelInit& init) {
  ASSIGN_OR_RETURN(float alpha, init.node.attrs.GetFloat("alpha", 1.f));
  ASSIGN_OR_RETURN(float beta, init.node.attrs.GetFloat("beta", 1.f));
  ASSIGN_OR_RETURN(int64_t ta, init.node.attrs.GetInt("transA", 0));
  ASSIGN_OR_RETURN(int64_t tb, init.node.attrs.GetInt("transB", 0));
  return Make([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 2));
    RETURN_IF_ERROR(NeedFloat(in[0], "A"));
    RETURN_IF_ERROR(NeedFloat(in[1], "B"));
    if (in[0].rank() != 2 || in[1].rank() != 2) return absl::InvalidArgumentError("Gemm inputs must be 2-D");
    const int64_t m = ta ? in[0].dim(1) : in[0].dim(0), k = ta ? in[0].dim(0) : in[0].dim(1);
    const int64_t kb = tb ? in[1].dim(1) : in[1].dim(0), n = tb ? in[1].dim(0) : in[1].dim(1);
    if (k != kb) return absl::InvalidArgumentError("Gemm: inner dimensions differ");
    out[0] = ctx.AllocateZeroed(DataType::kFloat32, {m, n});
    float b2 = 0.f;
    if (in.size() > 2 && !in[2].empty()) {
      ASSIGN_OR_RETURN(Shape bs, BroadcastShapes(in[2].shape(), {m, n}));
      if (bs != Shape{m, n}) return absl::InvalidArgumentError("Gemm: C does not broadcast to the output");
      const std::vector<int64_t> st = BroadcastStrides(in[2].shape(), {m, n});
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) out[0].data<float>()[i * n + j] = in[2].data<float>()[i * st[0] + j * st[1]];
      }
      b2 = beta;
    }
    Sgemm(ta != 0, tb != 0, m, n, k, alpha, in[0].data<float>(), in[0].dim(1), in[1].data<float>(), in[1].dim(1), b2,
          out[0].data<float>(), n);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<Kernel>> MakeMatMul(const KernelInit&) {
  return Make([](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 2));
    RETURN_IF_ERROR(NeedFloat(in[0], "A"));
    RETURN_IF_ERROR(NeedFloat(in[1], "B"));
    Shape a = in[0].shape(), b = in[1].shape();
    if (a.empty() || b.empty()) return absl::InvalidArgumentError("MatMul of a scalar");
    const bool a1 = a.size() == 1, b1 = b.size() == 1;
    if (a1) a.insert(a.begin(), 1);
    if (b1) b.push_back(1);
    const int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
    if (b[b.size() - 2] != k) {
      return absl::InvalidArgumentError("MatMul: " + ShapeToString(in[0].shape()) + " x " +
                                        ShapeToString(in[1].shape()));
    }
    Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    ASSIGN_OR_RETURN(Shape batch, BroadcastShapes(ab, bb));
    Shape o = batch;
    if (!a1) o.push_back(m);
    if (!b1) o.push_back(n);
    out[0] = ctx.Allocate(DataType::kFloat32, o);
    const int64_t nb = NumElements(batch);
    const std::vector<int64_t> sa = BroadcastStrides(ab, batch), sb = BroadcastStrides(bb, batch);
    for (int64_t i = 0; i < nb; ++i) {
      int64_t rem = i, ia = 0, ib = 0;
      for (size_t d = batch.size(); d-- > 0;) {
        const int64_t idx = rem % batch[d];
        rem /= batch[d];
        ia += idx * sa[d];
        ib += idx * sb[d];
      }
      Sgemm(false, false, m, n, k, 1.f, in[0].data<float>() + ia * m * k, k, in[1].data<float>() + ib * k * n, n, 0.f,
            out[0].data<float>() + i * m * n, n);
    }
    return absl::OkStatus();
  });
}

}  // namespace

void RegisterConv(KernelRegistry& r) {
  r.Register("Conv", Backend::kReference, MakeConv);
  r.Register("ConvInteger", Backend::kReference, MakeConvInteger);
  r.Register("ConvTranspose", Backend::kReference, MakeConvTranspose);
  r.Register("Gemm", Backend::kReference, MakeGemm);
  r.Register("MatMul", Backend::kReference, MakeMatMul);
}

}  // namespace imagen::engine::ref
