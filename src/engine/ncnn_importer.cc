#include "engine/ncnn_importer.h"

#include <climits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace imagen::engine {
namespace {

class Builder {
 public:
  explicit Builder(Graph* g) : g_(g) {}

  ValueId NewValue(const std::string& hint) {
    std::string name = hint;
    while (g_->FindValue(name) != kNoValue) name = absl::StrCat(hint, "_", ++uniq_);
    ValueId id = g_->AddValue(name);
    g_->values[id].dtype = DataType::kFloat32;
    g_->values[id].dtype_known = true;
    return id;
  }
  ValueId Const(const std::string& hint, Tensor t) {
    ValueId id = NewValue(hint);
    g_->values[id].dtype = t.dtype();
    g_->values[id].shape = t.shape();
    g_->initializers[id] = std::move(t);
    return id;
  }
  ValueId FloatConst(const std::string& hint, const std::vector<float>& v, Shape shape) {
    Tensor t(DataType::kFloat32, std::move(shape));
    std::copy(v.begin(), v.end(), t.data<float>());
    return Const(hint, std::move(t));
  }
  ValueId IntConst(const std::string& hint, const std::vector<int64_t>& v) { return Const(hint, MakeInt64Tensor(v)); }
  // Adds a node; returns its (single) output value.
  ValueId Op(const std::string& op, const std::string& name, std::vector<ValueId> inputs, Attributes attrs = {},
             ValueId out = kNoValue) {
    if (out == kNoValue) out = NewValue(name);
    Node n;
    n.name = UniqueNodeName(name);
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = {out};
    n.attrs = std::move(attrs);
    g_->nodes.push_back(std::move(n));
    return out;
  }
  Graph& graph() { return *g_; }

 private:
  std::string UniqueNodeName(const std::string& base) {
    std::string name = base;
    while (!node_names_.insert(name).second) name = absl::StrCat(base, "_", ++uniq_);
    return name;
  }
  Graph* g_;
  std::set<std::string> node_names_;
  int uniq_ = 0;
};

std::vector<int64_t> I64(std::initializer_list<int64_t> v) { return std::vector<int64_t>(v); }

// Appends ncnn's fused activation (param 9 / 10) after `x`.
absl::StatusOr<ValueId> Activation(Builder& b, const NcnnLayer& l, int type, const std::vector<float>& params,
                                   ValueId x, ValueId out) {
  Attributes a;
  switch (type) {
    case 0:
      return b.Op("Identity", l.name + "_id", {x}, {}, out);
    case 1:
      return b.Op("Relu", l.name + "_relu", {x}, {}, out);
    case 2:
      a.Set("alpha", params.empty() ? 0.f : params[0]);
      return b.Op("LeakyRelu", l.name + "_lrelu", {x}, a, out);
    case 3:
      if (params.size() < 2) return absl::InvalidArgumentError("clip activation needs min and max");
      return b.Op("Clip", l.name + "_clip",
                  {x, b.FloatConst(l.name + "_min", {params[0]}, {}), b.FloatConst(l.name + "_max", {params[1]}, {})},
                  {}, out);
    case 4:
      return b.Op("Sigmoid", l.name + "_sigmoid", {x}, {}, out);
    default:
      return absl::UnimplementedError(absl::StrCat("activation_type ", type, " is not supported"));
  }
}

class Importer {
 public:
  Importer(const NcnnModel& m, Graph* g) : m_(m), b_(g) {}

  absl::Status Run() {
    std::map<std::string, int> consumers;
    for (const NcnnLayer& l : m_.graph.layers)
      for (const std::string& s : l.bottoms) consumers[s]++;
    for (size_t i = 0; i < m_.graph.layers.size(); ++i) {
      const NcnnLayer& l = m_.graph.layers[i];
      absl::Status s = Layer(l, m_.weights[i]);
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat("ncnn layer '", l.name, "' (", l.type, "): ", s.message()));
      }
    }
    for (const NcnnLayer& l : m_.graph.layers) {
      for (const std::string& t : l.tops) {
        if (consumers.count(t) == 0) b_.graph().outputs.push_back(blobs_.at(t));
      }
    }
    if (b_.graph().outputs.empty()) return absl::InvalidArgumentError("ncnn model has no output blob");
    for (ValueId out : b_.graph().outputs) b_.graph().values[out].shape = Shape{-1, -1, -1, -1};
    return b_.graph().TopoSort();
  }

 private:
  absl::StatusOr<ValueId> In(const NcnnLayer& l, size_t i) {
    if (i >= l.bottoms.size()) return absl::InvalidArgumentError(absl::StrCat("needs ", i + 1, " inputs"));
    auto it = blobs_.find(l.bottoms[i]);
    if (it == blobs_.end()) return absl::InvalidArgumentError(absl::StrCat("unknown blob '", l.bottoms[i], "'"));
    return it->second;
  }
  ValueId Top(const NcnnLayer& l, size_t i = 0) {
    ValueId id = b_.NewValue(l.tops[i]);
    blobs_[l.tops[i]] = id;
    return id;
  }
  absl::Status NeedTops(const NcnnLayer& l, size_t n) {
    if (l.tops.size() != n) return absl::InvalidArgumentError(absl::StrCat("expects ", n, " output(s)"));
    return absl::OkStatus();
  }
  // ncnn axis of a CHW blob → NCHW axis.
  static int64_t Axis(int ncnn_axis) { return (ncnn_axis < 0 ? ncnn_axis + 3 : ncnn_axis) + 1; }

  absl::Status Layer(const NcnnLayer& l, const NcnnLayerWeights& w) {
    const NcnnParamDict& p = l.params;
    const std::string& t = l.type;
    if (t == "Input") {
      RETURN_IF_ERROR(NeedTops(l, 1));
      ValueId id = Top(l);
      const int c = p.GetInt(2, 0);
      b_.graph().values[id].shape = Shape{-1, c > 0 ? c : -1, -1, -1};
      b_.graph().inputs.push_back(id);
      return absl::OkStatus();
    }
    if (t == "Split" || t == "Noop") {
      ASSIGN_OR_RETURN(ValueId x, In(l, 0));
      for (const std::string& top : l.tops) blobs_[top] = x;
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(NeedTops(l, 1));
    if (t == "Convolution" || t == "ConvolutionDepthWise" || t == "Deconvolution" || t == "DeconvolutionDepthWise") {
      return Conv(l, w);
    }
    if (t == "InnerProduct") return InnerProduct(l, w);
    ASSIGN_OR_RETURN(ValueId x, In(l, 0));
    if (t == "ReLU") {
      const float slope = p.GetFloat(0, 0.f);
      Attributes a;
      if (slope == 0.f) {
        b_.Op("Relu", l.name, {x}, {}, Top(l));
      } else {
        a.Set("alpha", slope);
        b_.Op("LeakyRelu", l.name, {x}, a, Top(l));
      }
      return absl::OkStatus();
    }
    if (t == "Sigmoid") {
      b_.Op("Sigmoid", l.name, {x}, {}, Top(l));
      return absl::OkStatus();
    }
    if (t == "PReLU") {
      const std::vector<float>& slope = w.arrays.at(0);
      Shape s = slope.size() == 1 ? Shape{1} : Shape{static_cast<int64_t>(slope.size()), 1, 1};
      b_.Op("PRelu", l.name, {x, b_.FloatConst(l.name + "_slope", slope, s)}, {}, Top(l));
      return absl::OkStatus();
    }
    if (t == "Scale") {
      if (p.GetInt(0, 0) == -233) {
        ASSIGN_OR_RETURN(ValueId s, In(l, 1));
        b_.Op("Mul", l.name, {x, s}, {}, Top(l));
        return absl::OkStatus();
      }
      const int64_t c = static_cast<int64_t>(w.arrays.at(0).size());
      ValueId y = b_.Op("Mul", l.name + "_scale", {x, b_.FloatConst(l.name + "_s", w.arrays[0], {c, 1, 1})});
      if (w.arrays.size() > 1) {
        b_.Op("Add", l.name, {y, b_.FloatConst(l.name + "_b", w.arrays[1], {c, 1, 1})}, {}, Top(l));
      } else {
        blobs_[l.tops[0]] = y;
      }
      return absl::OkStatus();
    }
    if (t == "BatchNorm") {  // y = slope * (x - mean) / sqrt(var + eps) + bias
      const int64_t c = static_cast<int64_t>(w.arrays.at(0).size());
      Attributes a;
      a.Set("epsilon", p.GetFloat(1, 0.f));
      b_.Op("BatchNormalization", l.name,
            {x, b_.FloatConst(l.name + "_slope", w.arrays[0], {c}), b_.FloatConst(l.name + "_bias", w.arrays[3], {c}),
             b_.FloatConst(l.name + "_mean", w.arrays[1], {c}), b_.FloatConst(l.name + "_var", w.arrays[2], {c})},
            a, Top(l));
      return absl::OkStatus();
    }
    if (t == "BinaryOp") return BinaryOp(l, x);
    if (t == "Eltwise") return Eltwise(l);
    if (t == "Concat") {
      std::vector<ValueId> ins;
      for (size_t i = 0; i < l.bottoms.size(); ++i) {
        ASSIGN_OR_RETURN(ValueId v, In(l, i));
        ins.push_back(v);
      }
      Attributes a;
      a.Set("axis", Axis(p.GetInt(0, 0)));
      b_.Op("Concat", l.name, ins, a, Top(l));
      return absl::OkStatus();
    }
    if (t == "Crop") return Crop(l, x);
    if (t == "Padding") {
      if (p.GetInt(6, 0) != 0 || p.GetInt(7, 0) != 0 || p.GetInt(8, 0) != 0) {
        return absl::UnimplementedError("channel padding is not supported");
      }
      const int64_t top = p.GetInt(0, 0), bottom = p.GetInt(1, 0), left = p.GetInt(2, 0), right = p.GetInt(3, 0);
      const int type = p.GetInt(4, 0);
      Attributes a;
      a.Set("mode", std::string(type == 0 ? "constant" : type == 1 ? "edge" : "reflect"));
      b_.Op("Pad", l.name,
            {x, b_.IntConst(l.name + "_pads", {0, 0, top, left, 0, 0, bottom, right}),
             b_.FloatConst(l.name + "_value", {p.GetFloat(5, 0.f)}, {})},
            a, Top(l));
      return absl::OkStatus();
    }
    if (t == "Pooling") return Pooling(l, x);
    if (t == "Interp") return Interp(l, x);
    if (t == "PixelShuffle") {
      if (p.GetInt(1, 0) != 0) return absl::UnimplementedError("PixelShuffle mode 1 is not supported");
      Attributes a;
      a.Set("blocksize", static_cast<int64_t>(p.GetInt(0, 1)));
      a.Set("mode", std::string("CRD"));
      b_.Op("DepthToSpace", l.name, {x}, a, Top(l));
      return absl::OkStatus();
    }
    return absl::UnimplementedError("unsupported layer type");
  }

  absl::Status Conv(const NcnnLayer& l, const NcnnLayerWeights& w) {
    const NcnnParamDict& p = l.params;
    ASSIGN_OR_RETURN(ValueId x, In(l, 0));
    const bool deconv = l.type.rfind("Deconvolution", 0) == 0;
    const bool dw = l.type.find("DepthWise") != std::string::npos;
    const int64_t oc = p.GetInt(0, 0);
    const int64_t kw = p.GetInt(1, 0), kh = p.GetInt(11, static_cast<int>(kw));
    const int64_t dw_ = p.GetInt(2, 1), dh = p.GetInt(12, static_cast<int>(dw_));
    const int64_t sw = p.GetInt(3, 1), sh = p.GetInt(13, static_cast<int>(sw));
    const int64_t pl = p.GetInt(4, 0), pt = p.GetInt(14, static_cast<int>(pl)), pr = p.GetInt(15, static_cast<int>(pl)),
                  pb = p.GetInt(16, static_cast<int>(pt));
    const int64_t group = dw ? p.GetInt(7, 1) : 1;
    if (kw <= 0 || kh <= 0 || oc <= 0 || group <= 0) return absl::InvalidArgumentError("bad kernel parameters");
    if (p.GetFloat(18, 0.f) != 0.f && !deconv) return absl::UnimplementedError("non-zero pad_value");
    const std::vector<float>& wd = w.arrays.at(0);
    const int64_t per = static_cast<int64_t>(wd.size()) / (oc * kh * kw);  // ic / group
    if (per * oc * kh * kw != static_cast<int64_t>(wd.size()) || oc % group != 0) {
      return absl::InvalidArgumentError("weight_data_size does not match num_output and kernel");
    }
    Attributes a;
    a.Set("kernel_shape", I64({kh, kw}));
    a.Set("strides", I64({sh, sw}));
    a.Set("dilations", I64({dh, dw_}));
    a.Set("group", group);
    if (pl == -233 || pl == -234) {
      if (deconv) return absl::UnimplementedError("SAME padding on Deconvolution");
      a.Set("auto_pad", std::string(pl == -233 ? "SAME_UPPER" : "SAME_LOWER"));
    } else {
      if (pl < 0 || pt < 0 || pr < 0 || pb < 0) return absl::InvalidArgumentError("negative padding");
      a.Set("pads", I64({pt, pl, pb, pr}));
    }
    ValueId wv;
    if (!deconv) {
      wv = b_.FloatConst(l.name + "_w", wd, {oc, per, kh, kw});
    } else {
      if (p.GetInt(18, 0) != 0 || p.GetInt(19, 0) != 0 || p.GetInt(20, 0) != 0 || p.GetInt(21, 0) != 0) {
        return absl::UnimplementedError("Deconvolution output_pad / output size is not supported");
      }
      // ncnn: per group [oc/g][ic/g][kh][kw]; ONNX: [ic][oc/g][kh][kw].
      const int64_t ocg = oc / group, icg = per, k = kh * kw;
      std::vector<float> t(wd.size());
      for (int64_t g = 0; g < group; ++g)
        for (int64_t o = 0; o < ocg; ++o)
          for (int64_t i = 0; i < icg; ++i)
            for (int64_t q = 0; q < k; ++q)
              t[((g * icg + i) * ocg + o) * k + q] = wd[((g * ocg + o) * icg + i) * k + q];
      wv = b_.FloatConst(l.name + "_w", t, {icg * group, ocg, kh, kw});
    }
    std::vector<ValueId> ins{x, wv};
    if (w.arrays.size() > 1) ins.push_back(b_.FloatConst(l.name + "_b", w.arrays[1], {oc}));
    const int act = p.GetInt(9, 0);
    ValueId top = Top(l);
    ValueId y = b_.Op(deconv ? "ConvTranspose" : "Conv", l.name, ins, a, act == 0 ? top : kNoValue);
    if (act != 0) RETURN_IF_ERROR(Activation(b_, l, act, p.GetFloats(10), y, top).status());
    return absl::OkStatus();
  }

  absl::Status InnerProduct(const NcnnLayer& l, const NcnnLayerWeights& w) {
    ASSIGN_OR_RETURN(ValueId x, In(l, 0));
    const NcnnParamDict& p = l.params;
    const int64_t oc = p.GetInt(0, 0);
    const int64_t k = static_cast<int64_t>(w.arrays.at(0).size()) / oc;
    // Flatten to [N, K, 1, 1] and run a 1×1 convolution: the result
    // [N, OC, 1, 1] broadcasts per channel like ncnn's 1-D blobs do.
    ValueId flat = b_.Op("Reshape", l.name + "_flatten", {x, b_.IntConst(l.name + "_shape", {0, k, 1, 1})});
    Attributes a;
    a.Set("kernel_shape", I64({1, 1}));
    std::vector<ValueId> ins{flat, b_.FloatConst(l.name + "_w", w.arrays[0], {oc, k, 1, 1})};
    if (w.arrays.size() > 1) ins.push_back(b_.FloatConst(l.name + "_b", w.arrays[1], {oc}));
    const int act = p.GetInt(9, 0);
    ValueId top = Top(l);
    ValueId y = b_.Op("Conv", l.name, ins, a, act == 0 ? top : kNoValue);
    if (act != 0) RETURN_IF_ERROR(Activation(b_, l, act, p.GetFloats(10), y, top).status());
    return absl::OkStatus();
  }

  absl::Status BinaryOp(const NcnnLayer& l, ValueId x) {
    const NcnnParamDict& p = l.params;
    const int op = p.GetInt(0, 0);
    ValueId y;
    if (p.GetInt(1, 0) != 0) {
      y = b_.FloatConst(l.name + "_b", {p.GetFloat(2, 0.f)}, {});
    } else {
      ASSIGN_OR_RETURN(y, In(l, 1));
    }
    static const char* kOps[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Sub", "Div"};
    if (op < 0 || op > 8) return absl::UnimplementedError(absl::StrCat("BinaryOp op_type ", op));
    if (op >= 7) std::swap(x, y);  // rsub, rdiv
    b_.Op(kOps[op], l.name, {x, y}, {}, Top(l));
    return absl::OkStatus();
  }

  absl::Status Eltwise(const NcnnLayer& l) {
    const NcnnParamDict& p = l.params;
    const int op = p.GetInt(0, 1);
    const std::vector<float> coeffs = p.GetFloats(1);
    std::vector<ValueId> ins;
    for (size_t i = 0; i < l.bottoms.size(); ++i) {
      ASSIGN_OR_RETURN(ValueId v, In(l, i));
      if (op == 1 && i < coeffs.size() && coeffs[i] != 1.f) {
        v = b_.Op("Mul", absl::StrCat(l.name, "_coeff", i),
                  {v, b_.FloatConst(absl::StrCat(l.name, "_c", i), {coeffs[i]}, {})});
      }
      ins.push_back(v);
    }
    if (ins.size() < 2) return absl::InvalidArgumentError("Eltwise needs two inputs");
    const char* onnx = op == 0 ? "Mul" : op == 1 ? "Add" : op == 2 ? "Max" : nullptr;
    if (onnx == nullptr) return absl::UnimplementedError(absl::StrCat("Eltwise op_type ", op));
    ValueId acc = ins[0];
    for (size_t i = 1; i < ins.size(); ++i) {
      acc = b_.Op(onnx, i + 1 == ins.size() ? l.name : absl::StrCat(l.name, "_", i), {acc, ins[i]}, {},
                  i + 1 == ins.size() ? Top(l) : kNoValue);
    }
    return absl::OkStatus();
  }

  absl::Status Crop(const NcnnLayer& l, ValueId x) {
    const NcnnParamDict& p = l.params;
    if (p.Has(9) || p.Has(10) || p.Has(11)) {
      std::vector<int> starts = p.GetInts(9), ends = p.GetInts(10), axes = p.GetInts(11);
      if (axes.empty()) return absl::UnimplementedError("Crop starts/ends without axes");
      if (starts.size() != axes.size() || ends.size() != axes.size()) {
        return absl::InvalidArgumentError("Crop starts/ends/axes sizes differ");
      }
      std::vector<int64_t> s, e, a;
      for (size_t i = 0; i < axes.size(); ++i) {
        s.push_back(starts[i]);
        e.push_back(ends[i] == 0 ? INT64_MAX : ends[i]);  // ncnn: 0 means "to the end"
        a.push_back(Axis(axes[i]));
      }
      b_.Op("Slice", l.name,
            {x, b_.IntConst(l.name + "_starts", s), b_.IntConst(l.name + "_ends", e), b_.IntConst(l.name + "_axes", a)},
            {}, Top(l));
      return absl::OkStatus();
    }
    const int64_t woff = p.GetInt(0, 0), hoff = p.GetInt(1, 0), coff = p.GetInt(2, 0);
    if (coff != 0 || p.Has(5) || p.Has(8)) return absl::UnimplementedError("channel crop is not supported");
    ValueId starts = b_.IntConst(l.name + "_starts", {hoff, woff});
    ValueId axes = b_.IntConst(l.name + "_axes", {2, 3});
    ValueId ends;
    if (l.bottoms.size() == 2) {  // crop to the size of the reference blob
      ASSIGN_OR_RETURN(ValueId ref, In(l, 1));
      ValueId shape = b_.Op("Shape", l.name + "_refshape", {ref});
      ValueId hw = b_.Op("Slice", l.name + "_refhw",
                         {shape, b_.IntConst(l.name + "_s2", {2}), b_.IntConst(l.name + "_e4", {4}),
                          b_.IntConst(l.name + "_a0", {0})});
      ends = b_.Op("Add", l.name + "_ends", {hw, starts});
    } else {
      const int64_t outw = p.GetInt(3, 0), outh = p.GetInt(4, 0);
      const int64_t w2 = p.GetInt(6, 0), h2 = p.GetInt(7, 0);
      ends = b_.IntConst(l.name + "_ends", {outh > 0 ? hoff + outh : (h2 > 0 ? -h2 : INT64_MAX),
                                            outw > 0 ? woff + outw : (w2 > 0 ? -w2 : INT64_MAX)});
    }
    b_.Op("Slice", l.name, {x, starts, ends, axes}, {}, Top(l));
    return absl::OkStatus();
  }

  absl::Status Pooling(const NcnnLayer& l, ValueId x) {
    const NcnnParamDict& p = l.params;
    const int type = p.GetInt(0, 0);
    if (type != 0 && type != 1) return absl::UnimplementedError("pooling_type");
    if (p.GetInt(7, 0) != 0) return absl::UnimplementedError("adaptive pooling is not supported");
    if (p.GetInt(4, 0) != 0) {
      b_.Op(type == 0 ? "GlobalMaxPool" : "GlobalAveragePool", l.name, {x}, {}, Top(l));
      return absl::OkStatus();
    }
    const int64_t kw = p.GetInt(1, 0), kh = p.GetInt(11, static_cast<int>(kw));
    const int64_t sw = p.GetInt(2, 1), sh = p.GetInt(12, static_cast<int>(sw));
    const int64_t pl = p.GetInt(3, 0), pt = p.GetInt(13, static_cast<int>(pl)), pr = p.GetInt(14, static_cast<int>(pl)),
                  pb = p.GetInt(15, static_cast<int>(pt));
    const int pad_mode = p.GetInt(5, 0);
    Attributes a;
    a.Set("kernel_shape", I64({kh, kw}));
    a.Set("strides", I64({sh, sw}));
    if (pad_mode == 2 || pad_mode == 3) {
      a.Set("auto_pad", std::string(pad_mode == 2 ? "SAME_UPPER" : "SAME_LOWER"));
    } else {
      a.Set("pads", I64({pt, pl, pb, pr}));
      a.Set("ceil_mode", static_cast<int64_t>(pad_mode == 0 ? 1 : 0));
    }
    if (type == 1) a.Set("count_include_pad", static_cast<int64_t>(p.GetInt(6, 0)));
    b_.Op(type == 0 ? "MaxPool" : "AveragePool", l.name, {x}, a, Top(l));
    return absl::OkStatus();
  }

  absl::Status Interp(const NcnnLayer& l, ValueId x) {
    const NcnnParamDict& p = l.params;
    const int type = p.GetInt(0, 0);
    const bool align = p.GetInt(6, 0) != 0;
    if (p.GetInt(5, 0) != 0) return absl::UnimplementedError("dynamic target size");
    Attributes a;
    if (type == 1) {
      a.Set("mode", std::string("nearest"));
      a.Set("coordinate_transformation_mode", std::string("asymmetric"));
      a.Set("nearest_mode", std::string("floor"));
    } else if (type == 2 || type == 3) {
      a.Set("mode", std::string(type == 2 ? "linear" : "cubic"));
      a.Set("coordinate_transformation_mode", std::string(align ? "align_corners" : "half_pixel"));
      a.Set("cubic_coeff_a", -0.75f);
    } else {
      return absl::UnimplementedError(absl::StrCat("resize_type ", type));
    }
    const int64_t oh = p.GetInt(3, 0), ow = p.GetInt(4, 0);
    ValueId roi = kNoValue;
    if (oh > 0 && ow > 0) {
      ValueId shape = b_.Op("Shape", l.name + "_shape", {x});
      ValueId nc = b_.Op("Slice", l.name + "_nc",
                         {shape, b_.IntConst(l.name + "_s0", {0}), b_.IntConst(l.name + "_e2", {2}),
                          b_.IntConst(l.name + "_a0", {0})});
      Attributes ca;
      ca.Set("axis", int64_t{0});
      ValueId sizes = b_.Op("Concat", l.name + "_sizes", {nc, b_.IntConst(l.name + "_hw", {oh, ow})}, ca);
      b_.Op("Resize", l.name, {x, roi, kNoValue, sizes}, a, Top(l));
      return absl::OkStatus();
    }
    const float hs = p.GetFloat(1, 1.f), ws = p.GetFloat(2, 1.f);
    b_.Op("Resize", l.name, {x, roi, b_.FloatConst(l.name + "_scales", {1.f, 1.f, hs, ws}, {4})}, a, Top(l));
    return absl::OkStatus();
  }

  const NcnnModel& m_;
  Builder b_;
  std::map<std::string, ValueId> blobs_;
};

}  // namespace

absl::StatusOr<Graph> ImportNcnn(const NcnnModel& model) {
  Graph g;
  Importer imp(model, &g);
  RETURN_IF_ERROR(imp.Run());
  return g;
}

}  // namespace imagen::engine
