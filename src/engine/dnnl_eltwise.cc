#include "engine/dnnl_eltwise.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/dnnl_common.h"

namespace imagen::engine {
namespace {

using dnnl::memory;
using dt = memory::data_type;

// Returns nullopt when the fast path does not apply (the reference runs).
using FastFn = std::function<absl::StatusOr<std::optional<Tensor>>(std::span<const Tensor>, RunContext&)>;

class FastOrReference : public Kernel {
 public:
  FastOrReference(std::string what, FastFn fast, std::unique_ptr<Kernel> ref)
      : what_(std::move(what)), fast_(std::move(fast)), ref_(std::move(ref)) {}
  bool AcceptsOpaqueLayout() const override { return true; }
  absl::Status Forward(std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) const override {
    if (out.size() == 1) {
      absl::StatusOr<std::optional<Tensor>> r;
      absl::Status s = dnnl_util::Guard(what_, [&]() -> absl::Status {
        r = fast_(in, ctx);
        return r.status();
      });
      if (!s.ok()) return s;
      if (r->has_value()) {
        out[0] = std::move(**r);
        return absl::OkStatus();
      }
    }
    std::vector<Tensor> plain;
    plain.reserve(in.size());
    for (const Tensor& t : in) {
      if (t.empty() || t.is_plain()) {
        plain.push_back(t);
      } else {
        ASSIGN_OR_RETURN(Tensor p, ToPlain(t));
        plain.push_back(std::move(p));
      }
    }
    return ref_->Forward(plain, out, ctx);
  }

 private:
  std::string what_;
  FastFn fast_;
  std::unique_ptr<Kernel> ref_;
};

using FastFactory = std::function<absl::StatusOr<FastFn>(const KernelInit&)>;

KernelFactory Wrap(FastFactory make) {
  return [make](const KernelInit& init) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    const Backend ref[] = {Backend::kReference};
    ASSIGN_OR_RETURN(std::unique_ptr<Kernel> r, KernelRegistry::Global().Create(init, ref));
    ASSIGN_OR_RETURN(FastFn fast, make(init));
    return std::unique_ptr<Kernel>(new FastOrReference(init.node.op_type, std::move(fast), std::move(r)));
  };
}

bool IsF32(const Tensor& t) { return !t.empty() && t.dtype() == DataType::kFloat32; }

// oneDNN's reference implementations (chosen for layouts without a JIT
// kernel, e.g. a 1-channel tensor in nChw8c) are slower than ours.
bool IsRef(const dnnl::primitive_desc_base& pd) { return std::string(pd.impl_info_str()).rfind("ref", 0) == 0; }

// The blocked channel tag (8 or 16) of a descriptor, or 0 for other layouts.
int ChannelBlock(const memory::desc& d) {
  const auto& b = d.data.format_desc.blocking;
  if (d.data.format_kind != dnnl_blocked || b.inner_nblks != 1 || b.inner_idxs[0] != 1) return 0;
  return static_cast<int>(b.inner_blks[0]);
}

// `t` as memory, converted to the plain layout when it is channel-blocked
// but its channels do not fill the blocks (a 1-channel mask in nChw8c is
// 7/8 padding: every op on it would do 8× the work).
absl::StatusOr<memory> DenseMemoryOf(const Tensor& t, dnnl::stream& s, Tensor* keep, RunContext& ctx) {
  ASSIGN_OR_RETURN(memory m, dnnl_util::MemoryOf(t));
  const int block = ChannelBlock(m.get_desc());
  if (block == 0 || t.rank() < 2 || t.dim(1) % block == 0) return m;
  return dnnl_util::AsLayout(t, dnnl_util::PlainDesc(dnnl_util::ToDims(t.shape()), dt::f32), s, keep, ctx);
}

// Unary eltwise with fixed alpha/beta.
FastFactory Unary(dnnl::algorithm alg, float def_alpha) {
  return [alg, def_alpha](const KernelInit& init) -> absl::StatusOr<FastFn> {
    float alpha = def_alpha, beta = 0.f;
    if (init.node.op_type == "LeakyRelu") {
      ASSIGN_OR_RETURN(alpha, init.node.attrs.GetFloat("alpha", 0.01f));
    }
    bool fast_ok = true;
    if (init.node.op_type == "Clip") {
      alpha = -INFINITY;
      beta = INFINITY;
      for (size_t i = 1; i < 3 && i < init.node.inputs.size(); ++i) {
        if (init.node.inputs[i] == kNoValue) continue;
        const Tensor* c = init.constant(i);
        if (c == nullptr || c->dtype() != DataType::kFloat32 || c->size() != 1) {
          fast_ok = false;
        } else {
          (i == 1 ? alpha : beta) = c->data<float>()[0];
        }
      }
      if (init.node.attrs.Has("min") || init.node.attrs.Has("max")) fast_ok = false;  // opset < 11 form
    }
    return FastFn([=](std::span<const Tensor> in, RunContext& ctx) -> absl::StatusOr<std::optional<Tensor>> {
      if (!fast_ok || in.empty() || !IsF32(in[0]) || in[0].size() == 0) return std::optional<Tensor>();
      dnnl::stream s(dnnl_util::Engine());
      Tensor keep;
      ASSIGN_OR_RETURN(memory src, DenseMemoryOf(in[0], s, &keep, ctx));
      dnnl::eltwise_forward::primitive_desc pd(
          dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, src.get_desc(), alpha, beta),
          dnnl_util::Engine());
      if (IsRef(pd)) return std::optional<Tensor>();
      Tensor y = dnnl_util::NewTensor(src.get_desc(), in[0].shape(), ctx);
      memory dst(src.get_desc(), dnnl_util::Engine(), y.raw());
      dnnl::eltwise_forward(pd).execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
      s.wait();
      return std::optional<Tensor>(std::move(y));
    });
  };
}

absl::StatusOr<FastFn> MakePRelu(const KernelInit& init) {
  const Tensor* slope = init.constant(1);
  std::optional<Tensor> per_c;  // [C] slope, when it is per channel or scalar
  if (slope != nullptr && slope->dtype() == DataType::kFloat32) {
    const Shape& s = slope->shape();
    const bool chw = s.size() == 3 && s[1] == 1 && s[2] == 1;
    const bool nchw = s.size() == 4 && s[0] == 1 && s[2] == 1 && s[3] == 1;
    if (slope->size() == 1 || chw || nchw) per_c = *slope;
  }
  return FastFn([per_c](std::span<const Tensor> in, RunContext& ctx) -> absl::StatusOr<std::optional<Tensor>> {
    if (!per_c || in.empty() || !IsF32(in[0]) || in[0].rank() != 4) return std::optional<Tensor>();
    const int64_t c = in[0].dim(1);
    if (per_c->size() != 1 && per_c->size() != c) return std::optional<Tensor>();
    ASSIGN_OR_RETURN(memory src, dnnl_util::MemoryOf(in[0]));
    Tensor full = *per_c;
    if (per_c->size() == 1 && c != 1) {
      full = Tensor(DataType::kFloat32, {c});
      for (int64_t i = 0; i < c; ++i) full.data<float>()[i] = per_c->data<float>()[0];
    }
    memory::desc wd = dnnl_util::PlainDesc({1, c, 1, 1}, dt::f32);
    memory w(wd, dnnl_util::Engine(), full.raw());
    dnnl::prelu_forward::primitive_desc pd(
        dnnl::prelu_forward::desc(dnnl::prop_kind::forward_inference, src.get_desc(), wd), dnnl_util::Engine());
    if (IsRef(pd)) return std::optional<Tensor>();
    Tensor y = dnnl_util::NewTensor(src.get_desc(), in[0].shape(), ctx);
    memory dst(src.get_desc(), dnnl_util::Engine(), y.raw());
    dnnl::stream s(dnnl_util::Engine());
    dnnl::prelu_forward(pd).execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}});
    s.wait();
    return std::optional<Tensor>(std::move(y));
  });
}

FastFactory Binary(dnnl::algorithm alg) {
  return [alg](const KernelInit&) -> absl::StatusOr<FastFn> {
    return FastFn([alg](std::span<const Tensor> in, RunContext& ctx) -> absl::StatusOr<std::optional<Tensor>> {
      if (in.size() != 2 || !IsF32(in[0]) || !IsF32(in[1]) || in[0].rank() != 4 || in[0].size() == 0) {
        return std::optional<Tensor>();
      }
      const Shape& a = in[0].shape();
      Shape b = in[1].shape();
      if (b.size() > 4) return std::optional<Tensor>();
      b.insert(b.begin(), 4 - b.size(), 1);  // NumPy aligns shapes on the right
      bool same = a == b, bcast = !same;
      for (size_t i = 0; bcast && i < 4; ++i) bcast = b[i] == a[i] || b[i] == 1;
      if (!same && !bcast) return std::optional<Tensor>();
      dnnl::stream s(dnnl_util::Engine());
      ASSIGN_OR_RETURN(memory src0, dnnl_util::MemoryOf(in[0]));
      Tensor keep;
      memory src1;
      if (same) {
        ASSIGN_OR_RETURN(src1, dnnl_util::AsLayout(in[1], src0.get_desc(), s, &keep, ctx));
      } else {
        ASSIGN_OR_RETURN(keep, ToPlain(in[1]));
        src1 = memory(dnnl_util::PlainDesc(dnnl_util::ToDims(b), dt::f32), dnnl_util::Engine(), keep.raw());
      }
      dnnl::binary::primitive_desc pd(dnnl::binary::desc(alg, src0.get_desc(), src1.get_desc(), src0.get_desc()),
                                      dnnl_util::Engine());
      if (IsRef(pd)) return std::optional<Tensor>();
      Tensor y = dnnl_util::NewTensor(src0.get_desc(), a, ctx);
      memory dst(src0.get_desc(), dnnl_util::Engine(), y.raw());
      dnnl::binary(pd).execute(s, {{DNNL_ARG_SRC_0, src0}, {DNNL_ARG_SRC_1, src1}, {DNNL_ARG_DST, dst}});
      s.wait();
      return std::optional<Tensor>(std::move(y));
    });
  };
}

absl::StatusOr<FastFn> MakeConcat(const KernelInit& init) {
  ASSIGN_OR_RETURN(int64_t axis, init.node.attrs.GetInt("axis"));
  return FastFn([axis](std::span<const Tensor> in, RunContext& ctx) -> absl::StatusOr<std::optional<Tensor>> {
    if (in.size() < 2 || (axis != 1 && axis != -3)) return std::optional<Tensor>();
    int64_t channels = 0;
    int block = 0;  // the first blocked input's channel block
    bool all_fit = true;
    for (const Tensor& t : in) {
      if (!IsF32(t) || t.rank() != 4 || t.dim(0) != in[0].dim(0) || t.dim(2) != in[0].dim(2) ||
          t.dim(3) != in[0].dim(3) || t.size() == 0) {
        return std::optional<Tensor>();
      }
      ASSIGN_OR_RETURN(memory::desc d, dnnl_util::DescOf(t));
      if (block == 0) block = ChannelBlock(d);
      channels += t.dim(1);
    }
    for (const Tensor& t : in) all_fit = all_fit && block > 0 && t.dim(1) % block == 0;
    // One layout for every input and the output: oneDNN's concat has only a
    // reference implementation for mixed layouts.
    const memory::format_tag tag = !all_fit      ? memory::format_tag::abcd
                                   : block == 16 ? memory::format_tag::aBcd16b
                                                 : memory::format_tag::aBcd8b;
    dnnl::stream s(dnnl_util::Engine());
    std::vector<memory::desc> descs;
    std::vector<memory> mems;
    std::vector<Tensor> keep(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      memory::desc want(dnnl_util::ToDims(in[i].shape()), dt::f32, tag);
      ASSIGN_OR_RETURN(memory m, dnnl_util::AsLayout(in[i], want, s, &keep[i], ctx));
      descs.push_back(want);
      mems.push_back(m);
    }
    const Shape os{in[0].dim(0), channels, in[0].dim(2), in[0].dim(3)};
    memory::desc dst_d(dnnl_util::ToDims(os), dt::f32, tag);
    if (tag == memory::format_tag::abcd || all_fit) {
      // In NCHW and in nChw8c/16c with whole channel blocks, each input is one
      // contiguous run per image: the concat is a few memcpys.
      Tensor y = dnnl_util::NewTensor(dst_d, os, ctx);
      char* d = static_cast<char*>(y.raw());
      const int64_t n = os[0];
      for (int64_t b = 0; b < n; ++b) {
        for (size_t i = 0; i < mems.size(); ++i) {
          const size_t bytes = static_cast<size_t>(in[i].size() / n) * sizeof(float);
          std::memcpy(d, static_cast<const char*>(mems[i].get_data_handle()) + bytes * b, bytes);
          d += bytes;
        }
      }
      return std::optional<Tensor>(std::move(y));
    }
    dnnl::concat::primitive_desc pd(dst_d, 1, descs, dnnl_util::Engine());
    if (IsRef(pd)) return std::optional<Tensor>();
    Tensor y = dnnl_util::NewTensor(dst_d, os, ctx);
    memory dst(dst_d, dnnl_util::Engine(), y.raw());
    std::unordered_map<int, memory> args{{DNNL_ARG_DST, dst}};
    for (size_t i = 0; i < mems.size(); ++i) args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i)] = mems[i];
    dnnl::concat(pd).execute(s, args);
    s.wait();
    return std::optional<Tensor>(std::move(y));
  });
}

// Resize, linear mode with half-pixel coordinates (PyTorch's
// align_corners=False), on H and W: oneDNN's resampling_linear.
absl::StatusOr<FastFn> MakeResize(const KernelInit& init) {
  const Attributes& a = init.node.attrs;
  ASSIGN_OR_RETURN(std::string mode, a.GetString("mode", std::string("nearest")));
  ASSIGN_OR_RETURN(std::string coord, a.GetString("coordinate_transformation_mode", std::string("half_pixel")));
  ASSIGN_OR_RETURN(int64_t antialias, a.GetInt("antialias", 0));
  ASSIGN_OR_RETURN(int64_t exclude_outside, a.GetInt("exclude_outside", 0));
  const bool ok = mode == "linear" && (coord == "half_pixel" || coord == "pytorch_half_pixel") && antialias == 0 &&
                  exclude_outside == 0 && !a.Has("axes") && init.graph.opset >= 11;
  return FastFn([ok](std::span<const Tensor> in, RunContext& ctx) -> absl::StatusOr<std::optional<Tensor>> {
    if (!ok || in.empty() || !IsF32(in[0]) || in[0].rank() != 4 || in[0].size() == 0) return std::optional<Tensor>();
    const Shape& x = in[0].shape();
    float fh = 0, fw = 0;
    int64_t oh = 0, ow = 0;
    if (in.size() > 3 && !in[3].empty() && in[3].size() > 0) {  // sizes
      if (in[3].size() != 4 || !in[3].is_plain()) return std::optional<Tensor>();
      std::vector<int64_t> s = ToInt64Vector(in[3]);
      if (s[0] != x[0] || s[1] != x[1] || s[2] <= 1 || s[3] <= 1) return std::optional<Tensor>();
      oh = s[2];
      ow = s[3];
      fh = static_cast<float>(oh) / static_cast<float>(x[2]);
      fw = static_cast<float>(ow) / static_cast<float>(x[3]);
    } else if (in.size() > 2 && IsF32(in[2]) && in[2].size() == 4 && in[2].is_plain()) {  // scales
      const float* s = in[2].data<float>();
      if (s[0] != 1.f || s[1] != 1.f || s[2] <= 0.f || s[3] <= 0.f) return std::optional<Tensor>();
      fh = s[2];
      fw = s[3];
      oh = static_cast<int64_t>(std::floor(static_cast<double>(x[2]) * fh));
      ow = static_cast<int64_t>(std::floor(static_cast<double>(x[3]) * fw));
      if (oh <= 1 || ow <= 1) return std::optional<Tensor>();
    } else {
      return std::optional<Tensor>();
    }
    dnnl::stream s(dnnl_util::Engine());
    Tensor keep;
    ASSIGN_OR_RETURN(memory src, DenseMemoryOf(in[0], s, &keep, ctx));
    const memory::dims od{x[0], x[1], oh, ow};
    dnnl::resampling_forward::primitive_desc pd(
        dnnl::resampling_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::resampling_linear,
                                       std::vector<float>{fh, fw}, src.get_desc(),
                                       memory::desc(od, dt::f32, memory::format_tag::any)),
        dnnl_util::Engine());
    if (IsRef(pd)) return std::optional<Tensor>();
    Tensor y = dnnl_util::NewTensor(pd.dst_desc(), Shape(od.begin(), od.end()), ctx);
    memory dst(pd.dst_desc(), dnnl_util::Engine(), y.raw());
    dnnl::resampling_forward(pd).execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    s.wait();
    return std::optional<Tensor>(std::move(y));
  });
}

absl::StatusOr<FastFn> MakePool(const KernelInit& init) {
  const Attributes& a = init.node.attrs;
  const bool is_max = init.node.op_type == "MaxPool";
  ASSIGN_OR_RETURN(std::vector<int64_t> k, a.GetInts("kernel_shape"));
  ASSIGN_OR_RETURN(std::vector<int64_t> strides, a.GetInts("strides", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, a.GetInts("pads", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(std::vector<int64_t> dil, a.GetInts("dilations", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(std::string auto_pad, a.GetString("auto_pad", std::string("NOTSET")));
  ASSIGN_OR_RETURN(int64_t ceil_mode, a.GetInt("ceil_mode", 0));
  ASSIGN_OR_RETURN(int64_t include_pad, a.GetInt("count_include_pad", 0));
  ASSIGN_OR_RETURN(int64_t storage_order, a.GetInt("storage_order", 0));
  bool ok = k.size() == 2 && auto_pad == "NOTSET" && storage_order == 0 && init.node.outputs.size() == 1;
  for (int64_t d : dil) ok = ok && d == 1;
  if (!is_max && ceil_mode) ok = false;  // ONNX and oneDNN count the ceil-mode edge windows differently
  if (strides.empty()) strides = {1, 1};
  if (pads.empty()) pads = {0, 0, 0, 0};
  ok = ok && strides.size() == 2 && pads.size() == 4;
  const dnnl::algorithm alg = is_max        ? dnnl::algorithm::pooling_max
                              : include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                            : dnnl::algorithm::pooling_avg_exclude_padding;
  return FastFn([=](std::span<const Tensor> in, RunContext& ctx) -> absl::StatusOr<std::optional<Tensor>> {
    if (!ok || in.empty() || !IsF32(in[0]) || in[0].rank() != 4 || in[0].size() == 0) return std::optional<Tensor>();
    int64_t o[2], pr[2];
    for (int i = 0; i < 2; ++i) {
      const int64_t size = in[0].dim(2 + i), pb = pads[i], pe = pads[i + 2], s = strides[i];
      const int64_t span = size + pb + pe - k[i];
      if (span < 0) return std::optional<Tensor>();
      o[i] = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
      if (ceil_mode && (o[i] - 1) * s >= size + pb) --o[i];
      pr[i] = (o[i] - 1) * s + k[i] - size - pb;  // right padding that makes o[i] windows
      if (pr[i] < 0) pr[i] = pe;
    }
    ASSIGN_OR_RETURN(memory src, dnnl_util::MemoryOf(in[0]));
    const memory::dims od{in[0].dim(0), in[0].dim(1), o[0], o[1]};
    dnnl::pooling_forward::primitive_desc pd(
        dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, alg, src.get_desc(),
                                    memory::desc(od, dt::f32, memory::format_tag::any), {strides[0], strides[1]},
                                    {k[0], k[1]}, {pads[0], pads[1]}, {pr[0], pr[1]}),
        dnnl_util::Engine());
    if (IsRef(pd)) return std::optional<Tensor>();
    Tensor y = dnnl_util::NewTensor(pd.dst_desc(), Shape(od.begin(), od.end()), ctx);
    memory dst(pd.dst_desc(), dnnl_util::Engine(), y.raw());
    dnnl::stream s(dnnl_util::Engine());
    dnnl::pooling_forward(pd).execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    s.wait();
    return std::optional<Tensor>(std::move(y));
  });
}

absl::StatusOr<FastFn> MakeCast(const KernelInit& init) {
  ASSIGN_OR_RETURN(int64_t to, init.node.attrs.GetInt("to"));
  return FastFn([to](std::span<const Tensor> in, RunContext&) -> absl::StatusOr<std::optional<Tensor>> {
    if (to != 1 || in.empty() || !IsF32(in[0])) return std::optional<Tensor>();
    return std::optional<Tensor>(in[0]);  // float → float: share the buffer, keep the layout
  });
}

// Shape reads only the logical shape: no conversion of a blocked input.
absl::StatusOr<FastFn> MakeShape(const KernelInit& init) {
  ASSIGN_OR_RETURN(int64_t start, init.node.attrs.GetInt("start", 0));
  const bool has_end = init.node.attrs.Has("end");
  ASSIGN_OR_RETURN(int64_t end, init.node.attrs.GetInt("end", 0));
  return FastFn([=](std::span<const Tensor> in, RunContext&) -> absl::StatusOr<std::optional<Tensor>> {
    if (in.empty() || in[0].empty()) return std::optional<Tensor>();
    const int64_t r = in[0].rank();
    auto clamp = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
    const int64_t s = clamp(start), e = has_end ? clamp(end) : r;
    std::vector<int64_t> dims;
    for (int64_t i = s; i < e; ++i) dims.push_back(in[0].dim(i));
    return std::optional<Tensor>(MakeInt64Tensor(dims));
  });
}

}  // namespace

void RegisterDnnlEltwiseKernels(KernelRegistry& r) {
  r.Register("Shape", Backend::kDnnl, Wrap(MakeShape));
  r.Register("Relu", Backend::kDnnl, Wrap(Unary(dnnl::algorithm::eltwise_relu, 0.f)));
  r.Register("LeakyRelu", Backend::kDnnl, Wrap(Unary(dnnl::algorithm::eltwise_relu, 0.01f)));
  r.Register("Sigmoid", Backend::kDnnl, Wrap(Unary(dnnl::algorithm::eltwise_logistic, 0.f)));
  r.Register("Tanh", Backend::kDnnl, Wrap(Unary(dnnl::algorithm::eltwise_tanh, 0.f)));
  r.Register("Clip", Backend::kDnnl, Wrap(Unary(dnnl::algorithm::eltwise_clip, 0.f)));
  r.Register("PRelu", Backend::kDnnl, Wrap(MakePRelu));
  r.Register("Add", Backend::kDnnl, Wrap(Binary(dnnl::algorithm::binary_add)));
  r.Register("Sub", Backend::kDnnl, Wrap(Binary(dnnl::algorithm::binary_sub)));
  r.Register("Mul", Backend::kDnnl, Wrap(Binary(dnnl::algorithm::binary_mul)));
  r.Register("Div", Backend::kDnnl, Wrap(Binary(dnnl::algorithm::binary_div)));
  r.Register("Max", Backend::kDnnl, Wrap(Binary(dnnl::algorithm::binary_max)));
  r.Register("Min", Backend::kDnnl, Wrap(Binary(dnnl::algorithm::binary_min)));
  r.Register("Concat", Backend::kDnnl, Wrap(MakeConcat));
  r.Register("MaxPool", Backend::kDnnl, Wrap(MakePool));
  r.Register("AveragePool", Backend::kDnnl, Wrap(MakePool));
  r.Register("Cast", Backend::kDnnl, Wrap(MakeCast));
  r.Register("Resize", Backend::kDnnl, Wrap(MakeResize));
}

}  // namespace imagen::engine
