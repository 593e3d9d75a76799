#include "engine/dnnl_conv.h"

#include <cstdio>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "engine/conv_tuning.h"
#include "engine/dnnl_common.h"
#include "engine/winograd_conv.h"

namespace imagen::engine {
namespace {

using dnnl::memory;
using dnnl_util::Guard;
using dt = memory::data_type;
using tag = memory::format_tag;

struct PostOp {
  std::string kind;
  float alpha = 0.f;
  float beta = 0.f;
  int input = -1;  // input index of the PRelu slope / Sum addend
};

struct ConvParams {
  int64_t group = 1;
  std::vector<int64_t> strides{1, 1}, dilations{1, 1}, pads{0, 0, 0, 0}, kernel{0, 0};
  std::string auto_pad = "NOTSET";
  std::vector<PostOp> post_ops;
};

absl::StatusOr<ConvParams> ReadParams(const KernelInit& init) {
  const Attributes& a = init.node.attrs;
  ConvParams p;
  ASSIGN_OR_RETURN(p.group, a.GetInt("group", 1));
  ASSIGN_OR_RETURN(p.strides, a.GetInts("strides", std::vector<int64_t>{1, 1}));
  ASSIGN_OR_RETURN(p.dilations, a.GetInts("dilations", std::vector<int64_t>{1, 1}));
  ASSIGN_OR_RETURN(p.pads, a.GetInts("pads", std::vector<int64_t>{0, 0, 0, 0}));
  ASSIGN_OR_RETURN(p.auto_pad, a.GetString("auto_pad", std::string("NOTSET")));
  if (p.strides.size() != 2 || p.dilations.size() != 2 || p.pads.size() != 4) {
    return absl::UnimplementedError("oneDNN Conv handles 2-D convolutions only");
  }
  if (init.node.op_type == kFusedConvOp) {
    std::vector<std::string> kinds;
    if (auto it = a.all().find("post_ops"); it != a.all().end()) {
      const auto* v = std::get_if<std::vector<std::string>>(&it->second);
      if (v == nullptr) return absl::InvalidArgumentError("FusedConv: post_ops must be a list of strings");
      kinds = *v;
    }
    ASSIGN_OR_RETURN(std::vector<float> alphas, a.GetFloats("post_alphas", std::vector<float>{}));
    ASSIGN_OR_RETURN(std::vector<float> betas, a.GetFloats("post_betas", std::vector<float>{}));
    int next_input = 3;
    for (size_t i = 0; i < kinds.size(); ++i) {
      PostOp op{kinds[i], i < alphas.size() ? alphas[i] : 0.f, i < betas.size() ? betas[i] : 0.f, -1};
      if (op.kind == "PRelu" || op.kind == "Sum")
        op.input = next_input++;
      else if (op.kind != "Relu" && op.kind != "LeakyRelu" && op.kind != "Sigmoid" && op.kind != "Linear" &&
               op.kind != "Clip") {
        return absl::InvalidArgumentError(absl::StrCat("FusedConv: unknown post-op '", op.kind, "'"));
      }
      p.post_ops.push_back(op);
    }
  }
  return p;
}

// One compiled configuration: input layout and shape → primitive.
struct Compiled {
  memory::desc src_in;  // the layout the input arrived in
  memory::dims src_dims;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  memory weights;
  Shape out_shape;
  std::vector<memory::dims> sum_dims;  // the Add operands' dims, in order
  int inplace_sum = -1;                // post-op index done as an in-place sum
  size_t fused = 0;                    // post-ops [0, fused) run inside the primitive
};

class DnnlConvKernel : public Kernel {
 public:
  DnnlConvKernel(std::string name, ConvParams p, Tensor weights, Tensor bias, std::vector<Tensor> slopes, bool fast,
                 ConvTuner* tuner)
      : name_(std::move(name)),
        p_(std::move(p)),
        weights_(std::move(weights)),
        bias_(std::move(bias)),
        slopes_(std::move(slopes)),
        fast_(fast),
        wino_ok_(fast && UsesWinograd()),
        tuner_(tuner ? tuner : ConvTuner::Default()) {}

  bool AcceptsOpaqueLayout() const override { return true; }

  absl::Status Forward(std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) const override {
    return Guard("Conv", [&]() -> absl::Status {
      if (in.empty() || in[0].rank() != 4) return absl::InvalidArgumentError("Conv: input must be 4-D");
      if (in[0].dim(1) != weights_.dim(1) * p_.group) {
        return absl::InvalidArgumentError(
            absl::StrCat("Conv: input has ", in[0].dim(1), " channels, weights expect ", weights_.dim(1) * p_.group));
      }
      if (wino_ok_ &&
          WinogradConv::WorthIt(in[0].dim(0), in[0].dim(2) + p_.pads[0] + p_.pads[2] - 2,
                                in[0].dim(3) + p_.pads[1] + p_.pads[3] - 2) &&
          AddendsMatch(in)) {
        ASSIGN_OR_RETURN(ConvAlgo algo, Choose(in, ctx));
        if (algo == ConvAlgo::kWinograd) return ForwardWinograd(in, out, ctx);
      }
      return ForwardDnnl(in, out, ctx);
    });
  }

 private:
  // The oneDNN primitive (direct, or oneDNN's Winograd on AVX-512 in fast
  // mode), post-ops fused where a JIT kernel takes them.
  absl::Status ForwardDnnl(std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) const {
    {
      ASSIGN_OR_RETURN(memory::desc src_desc, dnnl_util::DescOf(in[0]));
      std::vector<memory::dims> sum_dims;
      for (const PostOp& op : p_.post_ops) {
        if (op.kind != "Sum") continue;
        if (static_cast<size_t>(op.input) >= in.size() || in[op.input].empty()) {
          return absl::InvalidArgumentError("FusedConv: missing Add operand");
        }
        sum_dims.push_back(dnnl_util::ToDims(in[op.input].shape()));
      }
      ASSIGN_OR_RETURN(std::shared_ptr<const Compiled> c, GetCompiled(in[0], src_desc, sum_dims));
      dnnl::stream s(dnnl_util::Engine());
      Tensor src_keep;
      ASSIGN_OR_RETURN(memory src, dnnl_util::AsLayout(in[0], c->pd.src_desc(), s, &src_keep, ctx));
      Tensor dst_t = dnnl_util::NewTensor(c->pd.dst_desc(), c->out_shape, ctx);
      memory dst(c->pd.dst_desc(), dnnl_util::Engine(), dst_t.raw());
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, c->weights}, {DNNL_ARG_DST, dst}};
      memory bias_m;
      if (!bias_.empty()) {
        bias_m = memory({{weights_.dim(0)}, dt::f32, tag::a}, dnnl_util::Engine(), const_cast<void*>(bias_.raw()));
        args[DNNL_ARG_BIAS] = bias_m;
      }
      std::vector<memory> extra;
      std::vector<Tensor> keep;
      extra.reserve(p_.post_ops.size());
      size_t slope_i = 0;
      for (size_t i = 0; i < c->fused; ++i) {
        const PostOp& op = p_.post_ops[i];
        if (op.kind == "Sum" && static_cast<int>(i) == c->inplace_sum) {
          ASSIGN_OR_RETURN(memory add, dnnl_util::MemoryOf(in[op.input]));
          dnnl::reorder(add, dst).execute(s, add, dst);
        } else if (op.kind == "Sum") {
          ASSIGN_OR_RETURN(Tensor plain, ToPlain(in[op.input]));
          extra.emplace_back(dnnl_util::PlainDesc(dnnl_util::ToDims(plain.shape()), dt::f32), dnnl_util::Engine(),
                             plain.raw());
          keep.push_back(std::move(plain));
          args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(static_cast<int>(i)) | DNNL_ARG_SRC_1] = extra.back();
        } else if (op.kind == "PRelu") {
          const Tensor& sl = slopes_[slope_i++];
          extra.emplace_back(memory::desc({1, sl.size(), 1, 1}, dt::f32, tag::abcd), dnnl_util::Engine(),
                             const_cast<void*>(sl.raw()));
          args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(static_cast<int>(i)) | DNNL_ARG_WEIGHTS] = extra.back();
        }
      }
      std::shared_ptr<void> scratch = ctx.Scratch(c->pd.scratchpad_desc().get_size());
      memory scratch_m(c->pd.scratchpad_desc(), dnnl_util::Engine(), scratch.get());
      args[DNNL_ARG_SCRATCHPAD] = scratch_m;
      c->prim.execute(s, args);
      for (size_t i = c->fused; i < p_.post_ops.size(); ++i) {
        const PostOp& op = p_.post_ops[i];
        const Tensor* slope = nullptr;
        if (op.kind == "PRelu") {
          size_t k = 0;
          for (size_t j = 0; j < i; ++j) k += p_.post_ops[j].kind == "PRelu";
          slope = &slopes_[k];
        }
        RETURN_IF_ERROR(ApplyUnfused(op, dst, op.input >= 0 ? &in[op.input] : nullptr, slope, s, ctx));
      }
      s.wait();
      ctx.Recycle(std::move(scratch), c->pd.scratchpad_desc().get_size());
      out[0] = std::move(dst_t);
      return absl::OkStatus();
    }
  }

  // "conv3x3 n1 ic64 oc64 in256x256 pads1,1,1,1 post=PRelu src=nChw16c": what
  // the tuning cache keys a decision by (with the CPU, threads, precision).
  std::string ShapeKey(const Tensor& x) const {
    std::string post;
    for (const PostOp& op : p_.post_ops) absl::StrAppend(&post, post.empty() ? "" : ",", op.kind);
    std::string layout = "plain";
    if (absl::StatusOr<memory::desc> d = dnnl_util::DescOf(x); d.ok()) {
      const auto& blk = d->data.format_desc.blocking;
      if (d->data.format_kind == dnnl_blocked && blk.inner_nblks == 1 && blk.inner_idxs[0] == 1) {
        layout = absl::StrCat("nChw", blk.inner_blks[0], "c");
      } else if (!x.is_plain()) {
        layout = "opaque";
      }
    }
    return absl::StrCat("conv3x3 n", x.dim(0), " ic", x.dim(1), " oc", weights_.dim(0), " in", x.dim(2), "x", x.dim(3),
                        " pads", p_.pads[0], ",", p_.pads[1], ",", p_.pads[2], ",", p_.pads[3],
                        " post=", post.empty() ? "none" : post, " src=", layout);
  }

  // The kernel for this input's shape: decided once per shape (conv_tuning.h),
  // measured on the real input in a scratch RunContext so the run's own
  // buffer requests (and so its memory plan) stay those of later runs.
  absl::StatusOr<ConvAlgo> Choose(std::span<const Tensor> in, RunContext& ctx) const {
    const std::string shape = ShapeKey(in[0]);
    absl::MutexLock lock(&tune_mu_);
    for (const auto& [s, a] : decisions_) {
      if (s == shape) return a;
    }
    // Today's static rule: oneDNN's own Winograd on AVX-512, this one on AVX2.
    static const bool avx512 = __builtin_cpu_supports("avx512f");
    const ConvAlgo static_choice = avx512 ? ConvAlgo::kDnnl : ConvAlgo::kWinograd;
    auto run = [&](ConvAlgo a) -> absl::Status {
      RunContext trial(ctx.threads());
      std::vector<Tensor> o(1);
      return a == ConvAlgo::kWinograd ? ForwardWinograd(in, o, trial) : ForwardDnnl(in, o, trial);
    };
    ASSIGN_OR_RETURN(ConvDecision d, tuner_->Choose(shape, ctx.threads(), Precision::kFast, static_choice, run));
    if (tuner_->log()) {
      std::fprintf(stderr, "engine tuning: %s '%s' %s: onednn %.2f ms, winograd %.2f ms -> %s (%s)\n",
                   d.source == ConvDecision::Source::kMeasured ? "measured" : "chose", name_.c_str(), shape.c_str(),
                   d.dnnl_ms, d.winograd_ms, std::string(ConvAlgoName(d.algo)).c_str(),
                   std::string(SourceName(d.source)).c_str());
    }
    decisions_.emplace_back(shape, d.algo);
    bool any = false;
    for (const auto& [s, a] : decisions_) any = any || a == ConvAlgo::kWinograd;
    if (!any) {
      absl::MutexLock wl(&wino_mu_);
      wino_.reset();  // its weights (4× the originals) are not kept for a kernel that lost
    }
    return d.algo;
  }

  // True unless an Add operand broadcasts, which only the oneDNN path handles.
  bool AddendsMatch(std::span<const Tensor> in) const {
    const int64_t oh = WinogradConv::OutSize(in[0].dim(2), p_.pads[0], p_.pads[2]);
    const int64_t ow = WinogradConv::OutSize(in[0].dim(3), p_.pads[1], p_.pads[3]);
    const Shape out_shape{in[0].dim(0), weights_.dim(0), oh, ow};
    for (const PostOp& op : p_.post_ops) {
      if (op.kind != "Sum") continue;
      if (static_cast<size_t>(op.input) >= in.size() || in[op.input].shape() != out_shape) return false;
    }
    return true;
  }

  // The transformed weights, built on first use, so layers that only ever
  // see small inputs (or where oneDNN wins) never hold them.
  std::shared_ptr<const WinogradConv> WinogradWeights() const {
    absl::MutexLock lock(&wino_mu_);
    if (!wino_) {
      wino_ = std::make_shared<const WinogradConv>(
          weights_.data<float>(), bias_.empty() ? nullptr : bias_.data<float>(), weights_.dim(1), weights_.dim(0));
    }
    return wino_;
  }

  // 3×3, stride 1, undilated, ungrouped, explicit pads, channel counts the
  // Winograd kernel takes, and post-ops it can apply.
  bool UsesWinograd() const {
    if (weights_.dim(2) != 3 || weights_.dim(3) != 3 || p_.group != 1 || p_.auto_pad != "NOTSET") return false;
    if (p_.strides != std::vector<int64_t>{1, 1} || p_.dilations != std::vector<int64_t>{1, 1}) return false;
    for (const PostOp& op : p_.post_ops) {
      if (op.kind == "Sigmoid") return false;
    }
    return WinogradConv::Supported(weights_.dim(1), weights_.dim(0));
  }

  // The Winograd path, in nChw8c (the Add operands match: AddendsMatch).
  absl::Status ForwardWinograd(std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) const {
    const int64_t n = in[0].dim(0), ih = in[0].dim(2), iw = in[0].dim(3), oc = weights_.dim(0);
    const int64_t oh = WinogradConv::OutSize(ih, p_.pads[0], p_.pads[2]);
    const int64_t ow = WinogradConv::OutSize(iw, p_.pads[1], p_.pads[3]);
    if (oh <= 0 || ow <= 0) return absl::InvalidArgumentError("Conv: output would be empty");
    const Shape out_shape{n, oc, oh, ow};
    for (const PostOp& op : p_.post_ops) {
      if (op.kind != "Sum") continue;
      if (static_cast<size_t>(op.input) >= in.size() || in[op.input].empty()) {
        return absl::InvalidArgumentError("FusedConv: missing Add operand");
      }
      if (in[op.input].shape() != out_shape) return absl::InternalError("FusedConv: Winograd on a broadcast Add");
    }
    const std::shared_ptr<const WinogradConv> wino = WinogradWeights();
    dnnl::stream s(dnnl_util::Engine());
    const memory::desc src_desc({n, in[0].dim(1), ih, iw}, dt::f32, tag::nChw8c);
    const memory::desc dst_desc(dnnl_util::ToDims(out_shape), dt::f32, tag::nChw8c);
    Tensor src_keep;
    ASSIGN_OR_RETURN(memory src, dnnl_util::AsLayout(in[0], src_desc, s, &src_keep, ctx));
    std::vector<Tensor> keep(p_.post_ops.size());
    std::vector<WinogradPostOp> ops;
    size_t slope_i = 0;
    for (size_t i = 0; i < p_.post_ops.size(); ++i) {
      const PostOp& op = p_.post_ops[i];
      WinogradPostOp w;
      w.alpha = op.alpha;
      w.beta = op.beta;
      if (op.kind == "Relu") w.kind = WinogradPostOp::kRelu;
      if (op.kind == "LeakyRelu") w.kind = WinogradPostOp::kLeakyRelu;
      if (op.kind == "Linear") w.kind = WinogradPostOp::kLinear;
      if (op.kind == "Clip") w.kind = WinogradPostOp::kClip;
      if (op.kind == "PRelu") {
        w.kind = WinogradPostOp::kPRelu;
        w.slope = slopes_[slope_i++].data<float>();
      }
      if (op.kind == "Sum") {
        w.kind = WinogradPostOp::kSum;
        ASSIGN_OR_RETURN(memory add, dnnl_util::AsLayout(in[op.input], dst_desc, s, &keep[i], ctx));
        w.addend = static_cast<const float*>(add.get_data_handle());
      }
      ops.push_back(w);
    }
    s.wait();
    Tensor dst_t = dnnl_util::NewTensor(dst_desc, out_shape, ctx);
    const size_t scratch_bytes = wino->ScratchBytes(n, oh, ow, ctx.threads());
    std::shared_ptr<void> scratch = ctx.Scratch(scratch_bytes);
    wino->Run(static_cast<const float*>(src.get_data_handle()), n, ih, iw, p_.pads[0], p_.pads[1],
              static_cast<float*>(dst_t.raw()), oh, ow, ops, ctx.threads(), static_cast<float*>(scratch.get()));
    ctx.Recycle(std::move(scratch), scratch_bytes);
    ctx.Release(std::move(src_keep));
    for (Tensor& t : keep) ctx.Release(std::move(t));
    out[0] = std::move(dst_t);
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<const Compiled>> GetCompiled(const Tensor& x, const memory::desc& src_desc,
                                                              const std::vector<memory::dims>& sum_dims) const {
    const memory::dims dims = dnnl_util::ToDims(x.shape());
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& c : cache_) {
        if (c->src_dims == dims && c->src_in == src_desc && c->sum_dims == sum_dims) return c;
      }
    }
    auto c = std::make_shared<Compiled>();
    c->src_in = src_desc;
    c->src_dims = dims;
    c->sum_dims = sum_dims;
    const int64_t n = x.dim(0), ih = x.dim(2), iw = x.dim(3);
    const int64_t oc = weights_.dim(0), kh = weights_.dim(2), kw = weights_.dim(3);
    int64_t pad_t = p_.pads[0], pad_l = p_.pads[1], pad_b = p_.pads[2], pad_r = p_.pads[3];
    const int64_t ekh = (kh - 1) * p_.dilations[0] + 1, ekw = (kw - 1) * p_.dilations[1] + 1;
    if (p_.auto_pad == "SAME_UPPER" || p_.auto_pad == "SAME_LOWER") {
      auto same = [&](int64_t in, int64_t s, int64_t ek, int64_t* b, int64_t* e) {
        int64_t outd = (in + s - 1) / s;
        int64_t total = std::max<int64_t>(0, (outd - 1) * s + ek - in);
        *b = p_.auto_pad == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
        *e = total - *b;
      };
      same(ih, p_.strides[0], ekh, &pad_t, &pad_b);
      same(iw, p_.strides[1], ekw, &pad_l, &pad_r);
    } else if (p_.auto_pad == "VALID") {
      pad_t = pad_l = pad_b = pad_r = 0;
    }
    const int64_t oh = (ih + pad_t + pad_b - ekh) / p_.strides[0] + 1;
    const int64_t ow = (iw + pad_l + pad_r - ekw) / p_.strides[1] + 1;
    if (oh <= 0 || ow <= 0) return absl::InvalidArgumentError("Conv: output would be empty");
    c->out_shape = {n, oc, oh, ow};

    memory::dims wdims = p_.group == 1 ? memory::dims{oc, weights_.dim(1), kh, kw}
                                       : memory::dims{p_.group, oc / p_.group, weights_.dim(1), kh, kw};
    memory::desc src_any(dims, dt::f32, tag::any), dst_any({n, oc, oh, ow}, dt::f32, tag::any);
    memory::desc w_any(wdims, dt::f32, tag::any);
    memory::desc b_md = bias_.empty() ? memory::desc() : memory::desc({oc}, dt::f32, tag::a);
    const memory::dims strides{p_.strides[0], p_.strides[1]};
    const memory::dims dil{p_.dilations[0] - 1, p_.dilations[1] - 1};
    const memory::dims pl{pad_t, pad_l}, pr{pad_b, pad_r};
    const memory::dims out_dims{n, oc, oh, ow};
    for (const memory::dims& ad : sum_dims) {
      bool ok = ad.size() == 4;
      for (size_t d = 0; ok && d < 4; ++d) ok = ad[d] == out_dims[d] || ad[d] == 1;
      if (!ok) return absl::InvalidArgumentError("FusedConv: the Add operand does not broadcast to the output");
    }
    // Fuse the longest prefix of post-ops that a JIT implementation supports
    // (e.g. AVX2 kernels take a sum only as the first post-op and no PReLU);
    // the rest run as separate in-place primitives.
    for (size_t fused = p_.post_ops.size();; --fused) {
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      dnnl::post_ops ops;
      size_t sum_k = 0;
      c->inplace_sum = -1;
      for (size_t i = 0; i < fused; ++i) {
        const PostOp& op = p_.post_ops[i];
        if (op.kind == "Relu") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        if (op.kind == "LeakyRelu") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, op.alpha, 0.f);
        if (op.kind == "Sigmoid") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
        if (op.kind == "Linear") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, op.alpha, 0.f);
        if (op.kind == "Clip") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, op.alpha, op.beta);
        if (op.kind == "Sum") {
          const memory::dims& ad = sum_dims[sum_k++];
          if (ad == out_dims && c->inplace_sum < 0) {
            c->inplace_sum = static_cast<int>(i);
            ops.append_sum(1.f);
          } else {
            ops.append_binary(dnnl::algorithm::binary_add, dnnl_util::PlainDesc(ad, dt::f32));
          }
        }
        if (op.kind == "PRelu") ops.append_prelu(1 << 1);
      }
      attr.set_post_ops(ops);
      bool made = false;
      if (fast_ && kh == 3 && kw == 3 && p_.group == 1 && strides == memory::dims{1, 1} && dil == memory::dims{0, 0}) {
        try {
          dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_winograd,
                                            src_any, w_any, b_md, dst_any, strides, dil, pl, pr);
          c->pd = dnnl::convolution_forward::primitive_desc(d, attr, dnnl_util::Engine());
          made = true;
        } catch (const dnnl::error&) {
          made = false;  // no Winograd implementation for this shape: direct below
        }
      }
      if (!made) {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                          src_any, w_any, b_md, dst_any, strides, dil, pl, pr);
        c->pd = dnnl::convolution_forward::primitive_desc(d, attr, dnnl_util::Engine());
      }
      c->fused = fused;
      if (fused == 0 || std::string(c->pd.impl_info_str()).rfind("ref", 0) != 0) break;
    }
    c->prim = dnnl::convolution_forward(c->pd);
    c->weights = WeightsFor(c->pd.weights_desc(), wdims);
    std::lock_guard<std::mutex> lock(mu_);
    cache_.push_back(c);
    return std::shared_ptr<const Compiled>(c);
  }

  // Runs one post-op in place on `dst` as its own primitive.
  static absl::Status ApplyUnfused(const PostOp& op, memory& dst, const Tensor* operand, const Tensor* slope,
                                   dnnl::stream& s, RunContext& ctx) {
    const memory::desc d = dst.get_desc();
    if (op.kind == "Sum") {
      Tensor keep;
      memory b;
      const memory::dims dd = d.dims();
      if (operand->shape() == Shape(dd.begin(), dd.end())) {
        ASSIGN_OR_RETURN(b, dnnl_util::AsLayout(*operand, d, s, &keep, ctx));
      } else {
        ASSIGN_OR_RETURN(keep, ToPlain(*operand));
        b = memory(dnnl_util::PlainDesc(dnnl_util::ToDims(keep.shape()), dt::f32), dnnl_util::Engine(), keep.raw());
      }
      dnnl::binary::primitive_desc pd(dnnl::binary::desc(dnnl::algorithm::binary_add, d, b.get_desc(), d),
                                      dnnl_util::Engine());
      dnnl::binary(pd).execute(s, {{DNNL_ARG_SRC_0, dst}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, dst}});
      s.wait();  // `keep` dies here
      return absl::OkStatus();
    }
    if (op.kind == "PRelu") {
      memory::desc wd = dnnl_util::PlainDesc({1, slope->size(), 1, 1}, dt::f32);
      memory w(wd, dnnl_util::Engine(), const_cast<void*>(slope->raw()));
      dnnl::prelu_forward::primitive_desc pd(dnnl::prelu_forward::desc(dnnl::prop_kind::forward_inference, d, wd),
                                             dnnl_util::Engine());
      dnnl::prelu_forward(pd).execute(s, {{DNNL_ARG_SRC, dst}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}});
      return absl::OkStatus();
    }
    dnnl::algorithm alg = dnnl::algorithm::eltwise_relu;
    float alpha = 0.f, beta = 0.f;
    if (op.kind == "LeakyRelu") alpha = op.alpha;
    if (op.kind == "Sigmoid") alg = dnnl::algorithm::eltwise_logistic;
    if (op.kind == "Linear") {
      alg = dnnl::algorithm::eltwise_linear;
      alpha = op.alpha;
    }
    if (op.kind == "Clip") {
      alg = dnnl::algorithm::eltwise_clip;
      alpha = op.alpha;
      beta = op.beta;
    }
    dnnl::eltwise_forward::primitive_desc pd(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, d, alpha, beta), dnnl_util::Engine());
    dnnl::eltwise_forward(pd).execute(s, {{DNNL_ARG_SRC, dst}, {DNNL_ARG_DST, dst}});
    return absl::OkStatus();
  }

  // Weights reordered into `want`, shared between configurations.
  memory WeightsFor(const memory::desc& want, const memory::dims& wdims) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [d, m] : weights_cache_) {
        if (d == want) return m;
      }
    }
    memory src(dnnl_util::PlainDesc(wdims, dt::f32), dnnl_util::Engine(), const_cast<void*>(weights_.raw()));
    memory dst(want, dnnl_util::Engine());
    dnnl::stream s(dnnl_util::Engine());
    dnnl::reorder(src, dst).execute(s, src, dst);
    s.wait();
    std::lock_guard<std::mutex> lock(mu_);
    weights_cache_.emplace_back(want, dst);
    return dst;
  }

  std::string name_;  // the node's, for the tuning log
  ConvParams p_;
  Tensor weights_, bias_;
  std::vector<Tensor> slopes_;  // one per PRelu post-op
  bool fast_;
  bool wino_ok_;  // kFast 3×3 layer the Winograd kernel takes (winograd_conv.h)
  ConvTuner* tuner_;
  mutable absl::Mutex tune_mu_;  // held while a shape's kernel is being chosen
  mutable std::vector<std::pair<std::string, ConvAlgo>> decisions_ ABSL_GUARDED_BY(tune_mu_);  // per ShapeKey
  mutable absl::Mutex wino_mu_;
  mutable std::shared_ptr<const WinogradConv> wino_ ABSL_GUARDED_BY(wino_mu_);
  mutable std::mutex mu_;
  mutable std::vector<std::shared_ptr<Compiled>> cache_;
  mutable std::vector<std::pair<memory::desc, memory>> weights_cache_;
};

absl::StatusOr<std::unique_ptr<Kernel>> MakeConv(const KernelInit& init) {
  ASSIGN_OR_RETURN(ConvParams p, ReadParams(init));
  const Tensor* w = init.constant(1);
  if (w == nullptr) return absl::UnimplementedError("oneDNN Conv needs constant weights");
  if (w->dtype() != DataType::kFloat32 || w->rank() != 4)
    return absl::UnimplementedError("oneDNN Conv: 4-D fp32 weights");
  if (p.group < 1 || w->dim(0) % p.group != 0) return absl::InvalidArgumentError("Conv: bad group");
  Tensor bias;
  if (init.node.inputs.size() > 2 && init.node.inputs[2] != kNoValue) {
    const Tensor* b = init.constant(2);
    if (b == nullptr) return absl::UnimplementedError("oneDNN Conv needs a constant bias");
    if (b->size() != w->dim(0)) return absl::InvalidArgumentError("Conv: bias size does not match the weights");
    bias = *b;
  }
  std::vector<Tensor> slopes;
  for (const PostOp& op : p.post_ops) {
    if (op.kind != "PRelu") continue;
    const Tensor* s = init.constant(static_cast<size_t>(op.input));
    if (s == nullptr || s->dtype() != DataType::kFloat32)
      return absl::UnimplementedError("PRelu slope must be constant");
    if (s->size() == w->dim(0)) {
      slopes.push_back(*s);
    } else if (s->size() == 1) {  // broadcast a shared slope per channel
      Tensor full(DataType::kFloat32, {w->dim(0)});
      for (int64_t k = 0; k < w->dim(0); ++k) full.data<float>()[k] = s->data<float>()[0];
      slopes.push_back(full);
    } else {
      return absl::UnimplementedError("PRelu slope must have 1 or C elements");
    }
  }
  return std::unique_ptr<Kernel>(new DnnlConvKernel(init.node.name, std::move(p), *w, bias, std::move(slopes),
                                                    init.precision == Precision::kFast, init.conv_tuner));
}

}  // namespace

void RegisterDnnlConvKernels(KernelRegistry& registry) {
  registry.Register("Conv", Backend::kDnnl, MakeConv);
  registry.Register(kFusedConvOp, Backend::kDnnl, MakeConv);
}

}  // namespace imagen::engine
