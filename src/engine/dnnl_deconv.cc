// oneDNN deconvolution for ONNX ConvTranspose (2-D, constant weights, no
// output_shape / auto_pad): used by the Real-CUGAN and waifu2x models. Other
// cases decline (kUnimplemented) so the reference kernel runs them.
// Thread-safe: primitives cached per input shape and layout under a mutex.
#include "engine/dnnl_deconv.h"

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/dnnl_common.h"

namespace imagen::engine {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

struct Compiled {
  memory::dims src_dims;
  memory::desc src_in;
  dnnl::deconvolution_forward::primitive_desc pd;
  dnnl::deconvolution_forward prim;
  memory weights;
  Shape out_shape;
};

class DnnlDeconvKernel : public Kernel {
 public:
  DnnlDeconvKernel(Tensor w, Tensor b, std::vector<int64_t> strides, std::vector<int64_t> dil,
                   std::vector<int64_t> pads, std::vector<int64_t> out_pad)
      : w_(std::move(w)),
        b_(std::move(b)),
        strides_(std::move(strides)),
        dil_(std::move(dil)),
        pads_(std::move(pads)),
        out_pad_(std::move(out_pad)) {}
  bool AcceptsOpaqueLayout() const override { return true; }

  absl::Status Forward(std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) const override {
    return dnnl_util::Guard("ConvTranspose", [&]() -> absl::Status {
      if (in.empty() || in[0].rank() != 4 || in[0].dim(1) != w_.dim(0)) {
        return absl::InvalidArgumentError("ConvTranspose: input must be 4-D with the weights' input channels");
      }
      ASSIGN_OR_RETURN(memory::desc src_desc, dnnl_util::DescOf(in[0]));
      ASSIGN_OR_RETURN(std::shared_ptr<const Compiled> c, Get(in[0], src_desc));
      dnnl::stream s(dnnl_util::Engine());
      Tensor keep;
      ASSIGN_OR_RETURN(memory src, dnnl_util::AsLayout(in[0], c->pd.src_desc(), s, &keep, ctx));
      Tensor y = dnnl_util::NewTensor(c->pd.dst_desc(), c->out_shape, ctx);
      memory dst(c->pd.dst_desc(), dnnl_util::Engine(), y.raw());
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, c->weights}, {DNNL_ARG_DST, dst}};
      if (!b_.empty()) {
        args[DNNL_ARG_BIAS] = memory({{w_.dim(1)}, dt::f32, tag::a}, dnnl_util::Engine(), const_cast<void*>(b_.raw()));
      }
      std::shared_ptr<void> scratch = ctx.Scratch(c->pd.scratchpad_desc().get_size());
      args[DNNL_ARG_SCRATCHPAD] = memory(c->pd.scratchpad_desc(), dnnl_util::Engine(), scratch.get());
      c->prim.execute(s, args);
      s.wait();
      out[0] = std::move(y);
      return absl::OkStatus();
    });
  }

 private:
  absl::StatusOr<std::shared_ptr<const Compiled>> Get(const Tensor& x, const memory::desc& src_desc) const {
    const memory::dims dims = dnnl_util::ToDims(x.shape());
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& c : cache_)
        if (c->src_dims == dims && c->src_in == src_desc) return c;
    }
    auto c = std::make_shared<Compiled>();
    c->src_dims = dims;
    c->src_in = src_desc;
    const int64_t oc = w_.dim(1), kh = w_.dim(2), kw = w_.dim(3);
    int64_t o[2];
    memory::dims pr(2);
    for (int i = 0; i < 2; ++i) {
      const int64_t k = i == 0 ? kh : kw;
      o[i] = (x.dim(2 + i) - 1) * strides_[i] + (k - 1) * dil_[i] + 1 - pads_[i] - pads_[i + 2] + out_pad_[i];
      pr[i] = pads_[i + 2] - out_pad_[i];
      if (o[i] <= 0 || pr[i] < 0) return absl::InvalidArgumentError("ConvTranspose: bad output size");
    }
    c->out_shape = {x.dim(0), oc, o[0], o[1]};
    const memory::dims wdims{oc, w_.dim(0), kh, kw};  // oneDNN: [oc][ic][kh][kw]
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                        memory::desc(dims, dt::f32, tag::any), memory::desc(wdims, dt::f32, tag::any),
                                        b_.empty() ? memory::desc() : memory::desc({oc}, dt::f32, tag::a),
                                        memory::desc(dnnl_util::ToDims(c->out_shape), dt::f32, tag::any),
                                        {strides_[0], strides_[1]}, {dil_[0] - 1, dil_[1] - 1}, {pads_[0], pads_[1]},
                                        pr);
    c->pd = dnnl::deconvolution_forward::primitive_desc(d, attr, dnnl_util::Engine());
    c->prim = dnnl::deconvolution_forward(c->pd);
    // ONNX weights are [ic][oc][kh][kw]: describe them as such (strides) and
    // let the reorder transpose into the primitive's layout.
    memory::desc onnx_w(wdims, dt::f32, memory::dims{kh * kw, oc * kh * kw, kw, 1});
    memory src_w(onnx_w, dnnl_util::Engine(), const_cast<void*>(w_.raw()));
    c->weights = memory(c->pd.weights_desc(), dnnl_util::Engine());
    dnnl::stream s(dnnl_util::Engine());
    dnnl::reorder(src_w, c->weights).execute(s, src_w, c->weights);
    s.wait();
    std::lock_guard<std::mutex> lock(mu_);
    cache_.push_back(c);
    return std::shared_ptr<const Compiled>(c);
  }

  Tensor w_, b_;
  std::vector<int64_t> strides_, dil_, pads_, out_pad_;
  mutable std::mutex mu_;
  mutable std::vector<std::shared_ptr<Compiled>> cache_;
};

absl::StatusOr<std::unique_ptr<Kernel>> MakeDeconv(const KernelInit& init) {
  const Attributes& a = init.node.attrs;
  ASSIGN_OR_RETURN(int64_t group, a.GetInt("group", 1));
  ASSIGN_OR_RETURN(std::string auto_pad, a.GetString("auto_pad", std::string("NOTSET")));
  ASSIGN_OR_RETURN(std::vector<int64_t> strides, a.GetInts("strides", std::vector<int64_t>{1, 1}));
  ASSIGN_OR_RETURN(std::vector<int64_t> dil, a.GetInts("dilations", std::vector<int64_t>{1, 1}));
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, a.GetInts("pads", std::vector<int64_t>{0, 0, 0, 0}));
  ASSIGN_OR_RETURN(std::vector<int64_t> out_pad, a.GetInts("output_padding", std::vector<int64_t>{0, 0}));
  const Tensor* w = init.constant(1);
  if (group != 1 || auto_pad != "NOTSET" || a.Has("output_shape") || strides.size() != 2 || dil.size() != 2 ||
      pads.size() != 4 || out_pad.size() != 2 || w == nullptr || w->rank() != 4 || w->dtype() != DataType::kFloat32) {
    return absl::UnimplementedError("oneDNN ConvTranspose: 2-D, group 1, constant weights, explicit pads only");
  }
  Tensor bias;
  if (init.node.inputs.size() > 2 && init.node.inputs[2] != kNoValue) {
    const Tensor* b = init.constant(2);
    if (b == nullptr || b->size() != w->dim(1)) return absl::UnimplementedError("oneDNN ConvTranspose: constant bias");
    bias = *b;
  }
  return std::unique_ptr<Kernel>(new DnnlDeconvKernel(*w, bias, strides, dil, pads, out_pad));
}

}  // namespace

void RegisterDnnlDeconvKernels(KernelRegistry& registry) {
  registry.Register("ConvTranspose", Backend::kDnnl, MakeDeconv);
}

}  // namespace imagen::engine
