// Reference kernel of FusedConv (see passes_fusion.h): the reference Conv,
// then each post-op in order with ONNX semantics. It is the specification the
// oneDNN FusedConv is tested against, and the fallback when oneDNN declines.
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/dnnl_conv.h"
#include "engine/passes_fusion.h"
#include "engine/ref_util.h"

namespace imagen::engine {
namespace {

struct RefPostOp {
  std::string kind;
  float alpha = 0.f, beta = 0.f;
  int input = -1;
};

class RefFusedConv : public Kernel {
 public:
  RefFusedConv(std::unique_ptr<Node> node, std::unique_ptr<Kernel> conv, std::vector<RefPostOp> ops)
      : node_(std::move(node)), conv_(std::move(conv)), ops_(std::move(ops)) {}

  absl::Status Forward(std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) const override {
    std::vector<Tensor> conv_in(in.begin(), in.begin() + std::min<size_t>(3, in.size()));
    RETURN_IF_ERROR(conv_->Forward(conv_in, out, ctx));
    Tensor& y = out[0];
    const Shape shape = y.shape();
    const int64_t n = shape[0], c = shape.size() > 1 ? shape[1] : 1;
    const int64_t inner = n * c == 0 ? 0 : y.size() / (n * c);
    float* d = y.data<float>();
    for (const RefPostOp& op : ops_) {
      if (op.kind == "Sum") {
        const Tensor& a = in[op.input];
        RETURN_IF_ERROR(ref::NeedFloat(a, "FusedConv Add operand"));
        ASSIGN_OR_RETURN(Shape bs, ref::BroadcastShapes(shape, a.shape()));
        if (bs != shape)
          return absl::InvalidArgumentError("FusedConv: the Add operand does not broadcast to the output");
        const std::vector<int64_t> st = ref::BroadcastStrides(a.shape(), shape);
        const float* ad = a.data<float>();
        std::vector<int64_t> idx(shape.size(), 0);
        for (int64_t i = 0; i < y.size(); ++i) {
          int64_t off = 0;
          for (size_t k = 0; k < idx.size(); ++k) off += idx[k] * st[k];
          d[i] += ad[off];
          for (int64_t k = static_cast<int64_t>(idx.size()) - 1; k >= 0; --k) {
            if (++idx[k] < shape[k]) break;
            idx[k] = 0;
          }
        }
        continue;
      }
      const float* slope = op.kind == "PRelu" ? in[op.input].data<float>() : nullptr;
      const int64_t slope_n = op.kind == "PRelu" ? in[op.input].size() : 0;
      for (int64_t i = 0; i < y.size(); ++i) {
        float& v = d[i];
        if (op.kind == "Relu") {
          v = v > 0.f ? v : 0.f;
        } else if (op.kind == "LeakyRelu") {
          v = v >= 0.f ? v : v * op.alpha;
        } else if (op.kind == "Sigmoid") {
          v = 1.f / (1.f + std::exp(-v));
        } else if (op.kind == "PRelu") {
          const float s = slope_n == 1 ? slope[0] : slope[(i / inner) % c];
          v = v >= 0.f ? v : v * s;
        } else if (op.kind == "Clip") {
          v = std::min(std::max(v, op.alpha), op.beta);
        } else if (op.kind == "Linear") {
          v = v * op.alpha;
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<Node> node_;
  std::unique_ptr<Kernel> conv_;
  std::vector<RefPostOp> ops_;
};

absl::StatusOr<std::unique_ptr<Kernel>> MakeRefFusedConv(const KernelInit& init) {
  auto node = std::make_unique<Node>(init.node);
  node->op_type = "Conv";
  node->domain = "";
  node->inputs.resize(3, kNoValue);
  if (node->inputs[2] == kNoValue) node->inputs.resize(2);
  std::vector<const Tensor*> consts(
      init.constants.begin(), init.constants.begin() + std::min<size_t>(node->inputs.size(), init.constants.size()));
  KernelInit conv_init{*node, init.graph, consts, init.precision, init.threads};
  const Backend ref[] = {Backend::kReference};
  ASSIGN_OR_RETURN(std::unique_ptr<Kernel> conv, KernelRegistry::Global().Create(conv_init, ref));
  std::vector<RefPostOp> ops;
  std::vector<std::string> kinds;
  if (auto it = init.node.attrs.all().find("post_ops"); it != init.node.attrs.all().end()) {
    const auto* v = std::get_if<std::vector<std::string>>(&it->second);
    if (v == nullptr) return absl::InvalidArgumentError("FusedConv: post_ops must be strings");
    kinds = *v;
  }
  ASSIGN_OR_RETURN(std::vector<float> alphas, init.node.attrs.GetFloats("post_alphas", std::vector<float>{}));
  ASSIGN_OR_RETURN(std::vector<float> betas, init.node.attrs.GetFloats("post_betas", std::vector<float>{}));
  int next = 3;
  for (size_t i = 0; i < kinds.size(); ++i) {
    RefPostOp op{kinds[i], i < alphas.size() ? alphas[i] : 0.f, i < betas.size() ? betas[i] : 0.f, -1};
    if (op.kind == "PRelu" || op.kind == "Sum") {
      op.input = next++;
      if (static_cast<size_t>(op.input) >= init.node.inputs.size()) {
        return absl::InvalidArgumentError("FusedConv: missing post-op input");
      }
      if (op.kind == "PRelu" && init.constant(static_cast<size_t>(op.input)) == nullptr) {
        return absl::InvalidArgumentError("FusedConv: PRelu slope must be constant");
      }
    } else if (op.kind != "Relu" && op.kind != "LeakyRelu" && op.kind != "Sigmoid" && op.kind != "Clip" &&
               op.kind != "Linear") {
      return absl::InvalidArgumentError(absl::StrCat("FusedConv: unknown post-op '", op.kind, "'"));
    }
    ops.push_back(op);
  }
  return std::unique_ptr<Kernel>(new RefFusedConv(std::move(node), std::move(conv), std::move(ops)));
}

}  // namespace

void RegisterFusedConvReferenceKernel(KernelRegistry& registry) {
  registry.Register(kFusedConvOp, Backend::kReference, MakeRefFusedConv);
}

}  // namespace imagen::engine
