// Reference data-movement and shape ops: Shape, Reshape, Flatten, Squeeze,
// Unsqueeze, Transpose, Concat, Split, Slice, Gather, Constant,
// ConstantOfShape, Identity, DepthToSpace, Pad, Expand.
#include <cstring>

#include "common/status_macros.h"
#include "engine/ref_util.h"

namespace imagen::engine::ref {
namespace {

using Fn = std::function<absl::Status(std::span<const Tensor>, std::span<Tensor>, RunContext&)>;

void Reg(KernelRegistry& r, const char* name, std::function<absl::StatusOr<Fn>(const KernelInit&)> make) {
  r.Register(name, Backend::kReference, [make](const KernelInit& init) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    ASSIGN_OR_RETURN(Fn fn, make(init));
    return Make(std::move(fn));
  });
}

// Copies a strided block: out[idx] = in[sum(idx_d * in_strides_d) + base].
void CopyStrided(const Tensor& in, Tensor& out, const std::vector<int64_t>& in_strides, int64_t base) {
  const size_t es = DataTypeSize(in.dtype());
  const Shape& os = out.shape();
  const int64_t n = out.size();
  if (n == 0) return;
  const char* src = static_cast<const char*>(in.raw());
  char* dst = static_cast<char*>(out.raw());
  const size_t r = os.size();
  if (r == 0) {
    std::memcpy(dst, src + base * static_cast<int64_t>(es), es);
    return;
  }
  const int64_t inner = os[r - 1];
  const int64_t outer = n / inner;
  const int64_t is = in_strides[r - 1];
#pragma omp parallel for if (n > 65536)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, off = base;
    for (size_t d = r - 1; d-- > 0;) {
      off += (rem % os[d]) * in_strides[d];
      rem /= os[d];
    }
    char* d0 = dst + o * inner * static_cast<int64_t>(es);
    if (is == 1) {
      std::memcpy(d0, src + off * static_cast<int64_t>(es), static_cast<size_t>(inner) * es);
    } else {
      for (int64_t i = 0; i < inner; ++i) {
        std::memcpy(d0 + i * static_cast<int64_t>(es), src + (off + i * is) * static_cast<int64_t>(es), es);
      }
    }
  }
}

absl::StatusOr<Shape> ReshapeTarget(const Shape& in, const std::vector<int64_t>& spec, bool allowzero) {
  Shape out(spec.size());
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == -1) {
      if (infer >= 0) return absl::InvalidArgumentError("Reshape: more than one -1");
      infer = static_cast<int64_t>(i);
      continue;
    }
    if (spec[i] == 0 && !allowzero) {
      if (i >= in.size()) return absl::InvalidArgumentError("Reshape: 0 refers past the input rank");
      out[i] = in[i];
    } else if (spec[i] < 0) {
      return absl::InvalidArgumentError("Reshape: negative dimension");
    } else {
      out[i] = spec[i];
    }
    known *= out[i];
  }
  const int64_t total = NumElements(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      return absl::InvalidArgumentError("Reshape: cannot infer -1 for " + ShapeToString(in));
    }
    out[static_cast<size_t>(infer)] = total / known;
  }
  if (NumElements(out) != total) {
    return absl::InvalidArgumentError("Reshape: " + ShapeToString(in) + " cannot become " + ShapeToString(out));
  }
  return out;
}

// Axes from attribute (old opsets) or the second input (newer ones).
absl::StatusOr<std::vector<int64_t>> AxesOf(const Attributes& attrs, std::span<const Tensor> in, size_t input) {
  if (in.size() > input && !in[input].empty()) return ToInt64Vector(in[input]);
  return attrs.GetInts("axes", std::vector<int64_t>{});
}

absl::StatusOr<Fn> MakeSqueeze(const KernelInit& init) {
  return Fn([attrs = init.node.attrs](std::span<const Tensor> in, std::span<Tensor> out, RunContext&) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    ASSIGN_OR_RETURN(std::vector<int64_t> axes, AxesOf(attrs, in, 1));
    const Shape& s = in[0].shape();
    std::vector<char> drop(s.size(), 0);
    if (axes.empty()) {
      for (size_t i = 0; i < s.size(); ++i) drop[i] = s[i] == 1;
    }
    for (int64_t a : axes) {
      ASSIGN_OR_RETURN(int64_t ax, NormAxis(a, static_cast<int64_t>(s.size())));
      if (s[static_cast<size_t>(ax)] != 1) return absl::InvalidArgumentError("Squeeze: axis has size != 1");
      drop[static_cast<size_t>(ax)] = 1;
    }
    Shape o;
    for (size_t i = 0; i < s.size(); ++i) {
      if (!drop[i]) o.push_back(s[i]);
    }
    out[0] = in[0].Reshaped(o);
    return absl::OkStatus();
  });
}

absl::StatusOr<Fn> MakeUnsqueeze(const KernelInit& init) {
  return Fn([attrs = init.node.attrs](std::span<const Tensor> in, std::span<Tensor> out, RunContext&) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    ASSIGN_OR_RETURN(std::vector<int64_t> axes, AxesOf(attrs, in, 1));
    const int64_t rank = in[0].rank() + static_cast<int64_t>(axes.size());
    std::vector<char> add(static_cast<size_t>(rank), 0);
    for (int64_t a : axes) {
      ASSIGN_OR_RETURN(int64_t ax, NormAxis(a, rank));
      if (add[static_cast<size_t>(ax)]) return absl::InvalidArgumentError("Unsqueeze: repeated axis");
      add[static_cast<size_t>(ax)] = 1;
    }
    Shape o;
    size_t j = 0;
    for (int64_t i = 0; i < rank; ++i) o.push_back(add[static_cast<size_t>(i)] ? 1 : in[0].shape()[j++]);
    out[0] = in[0].Reshaped(o);
    return absl::OkStatus();
  });
}

absl::StatusOr<Fn> MakeSlice(const KernelInit& init) {
  return Fn(
      [attrs = init.node.attrs](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
        RETURN_IF_ERROR(NeedInputs(in, 1));
        std::vector<int64_t> starts, ends, axes, steps;
        if (in.size() >= 3 && !in[1].empty()) {
          starts = ToInt64Vector(in[1]);
          ends = ToInt64Vector(in[2]);
          if (in.size() > 3 && !in[3].empty()) axes = ToInt64Vector(in[3]);
          if (in.size() > 4 && !in[4].empty()) steps = ToInt64Vector(in[4]);
        } else {  // opset < 10: attributes
          ASSIGN_OR_RETURN(starts, attrs.GetInts("starts"));
          ASSIGN_OR_RETURN(ends, attrs.GetInts("ends"));
          ASSIGN_OR_RETURN(axes, attrs.GetInts("axes", std::vector<int64_t>{}));
        }
        if (starts.size() != ends.size()) return absl::InvalidArgumentError("starts and ends differ in length");
        if (axes.empty()) {
          for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
        }
        if (steps.empty()) steps.assign(starts.size(), 1);
        if (axes.size() != starts.size() || steps.size() != starts.size()) {
          return absl::InvalidArgumentError("axes/steps length differs from starts");
        }
        const Shape& s = in[0].shape();
        const int64_t rank = in[0].rank();
        std::vector<int64_t> begin(s.size(), 0), step(s.size(), 1);
        Shape o = s;
        for (size_t i = 0; i < starts.size(); ++i) {
          ASSIGN_OR_RETURN(int64_t ax, NormAxis(axes[i], rank));
          const int64_t dim = s[static_cast<size_t>(ax)];
          const int64_t st = steps[i];
          if (st == 0) return absl::InvalidArgumentError("Slice: step 0");
          int64_t b = starts[i], e = ends[i];
          if (b < 0) b += dim;
          if (e < 0) e += dim;
          if (st > 0) {
            b = std::clamp<int64_t>(b, 0, dim);
            e = std::clamp<int64_t>(e, 0, dim);
            o[static_cast<size_t>(ax)] = e > b ? (e - b + st - 1) / st : 0;
          } else {
            b = std::clamp<int64_t>(b, 0, dim - 1);
            e = std::clamp<int64_t>(e, -1, dim - 1);
            o[static_cast<size_t>(ax)] = b > e ? (b - e - st - 1) / (-st) : 0;
          }
          begin[static_cast<size_t>(ax)] = b;
          step[static_cast<size_t>(ax)] = st;
        }
        out[0] = ctx.Allocate(in[0].dtype(), o);
        const std::vector<int64_t> is = Strides(s);
        std::vector<int64_t> strides(s.size());
        int64_t base = 0;
        for (size_t d = 0; d < s.size(); ++d) {
          strides[d] = is[d] * step[d];
          base += begin[d] * is[d];
        }
        CopyStrided(in[0], out[0], strides, base);
        return absl::OkStatus();
      });
}

absl::StatusOr<Fn> MakeConcat(const KernelInit& init) {
  ASSIGN_OR_RETURN(int64_t axis_attr, init.node.attrs.GetInt("axis"));
  return Fn([axis_attr](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    const Shape& s0 = in[0].shape();
    ASSIGN_OR_RETURN(int64_t axis, NormAxis(axis_attr, in[0].rank()));
    Shape o = s0;
    o[static_cast<size_t>(axis)] = 0;
    for (const Tensor& t : in) {
      if (t.rank() != in[0].rank() || t.dtype() != in[0].dtype()) {
        return absl::InvalidArgumentError("Concat: inputs differ in rank or dtype");
      }
      for (int64_t d = 0; d < t.rank(); ++d) {
        if (d != axis && t.dim(d) != s0[static_cast<size_t>(d)]) {
          return absl::InvalidArgumentError("Concat: shapes " + ShapeToString(t.shape()) + " and " + ShapeToString(s0) +
                                            " differ off the axis");
        }
      }
      o[static_cast<size_t>(axis)] += t.dim(axis);
    }
    out[0] = ctx.Allocate(in[0].dtype(), o);
    const int64_t outer = Prod(o, 0, axis);
    const size_t es = DataTypeSize(in[0].dtype());
    const int64_t out_row = Prod(o, axis, static_cast<int64_t>(o.size())) * static_cast<int64_t>(es);
    char* dst = static_cast<char*>(out[0].raw());
    int64_t offset = 0;
    for (const Tensor& t : in) {
      const int64_t row = Prod(t.shape(), axis, t.rank()) * static_cast<int64_t>(es);
      const char* src = static_cast<const char*>(t.raw());
#pragma omp parallel for if (outer > 1 && row * outer > 262144)
      for (int64_t i = 0; i < outer; ++i) {
        std::memcpy(dst + i * out_row + offset, src + i * row, static_cast<size_t>(row));
      }
      offset += row;
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<Fn> MakeSplit(const KernelInit& init) {
  ASSIGN_OR_RETURN(int64_t axis_attr, init.node.attrs.GetInt("axis", 0));
  ASSIGN_OR_RETURN(std::vector<int64_t> split_attr, init.node.attrs.GetInts("split", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(int64_t num_outputs, init.node.attrs.GetInt("num_outputs", 0));
  return Fn([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    ASSIGN_OR_RETURN(int64_t axis, NormAxis(axis_attr, in[0].rank()));
    const int64_t dim = in[0].dim(axis);
    std::vector<int64_t> split = split_attr;
    if (in.size() > 1 && !in[1].empty()) split = ToInt64Vector(in[1]);
    const int64_t n = static_cast<int64_t>(out.size());
    if (split.empty()) {
      const int64_t parts = num_outputs > 0 ? num_outputs : n;
      const int64_t chunk = (dim + parts - 1) / parts;
      for (int64_t i = 0; i < parts; ++i) split.push_back(std::min(chunk, dim - i * chunk));
    }
    int64_t total = 0;
    for (int64_t v : split) total += v;
    if (static_cast<int64_t>(split.size()) != n || total != dim) {
      return absl::InvalidArgumentError("Split: sizes do not add up to the axis length " + std::to_string(dim));
    }
    const Shape& s = in[0].shape();
    const std::vector<int64_t> is = Strides(s);
    int64_t start = 0;
    for (int64_t i = 0; i < n; ++i) {
      Shape o = s;
      o[static_cast<size_t>(axis)] = split[static_cast<size_t>(i)];
      out[static_cast<size_t>(i)] = ctx.Allocate(in[0].dtype(), o);
      CopyStrided(in[0], out[static_cast<size_t>(i)], is, start * is[static_cast<size_t>(axis)]);
      start += split[static_cast<size_t>(i)];
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<Fn> MakeTranspose(const KernelInit& init) {
  ASSIGN_OR_RETURN(std::vector<int64_t> perm_attr, init.node.attrs.GetInts("perm", std::vector<int64_t>{}));
  return Fn([perm_attr](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    const int64_t r = in[0].rank();
    std::vector<int64_t> perm = perm_attr;
    if (perm.empty()) {
      for (int64_t i = r; i-- > 0;) perm.push_back(i);
    }
    if (static_cast<int64_t>(perm.size()) != r) return absl::InvalidArgumentError("Transpose: perm length != rank");
    const std::vector<int64_t> is = Strides(in[0].shape());
    Shape o(static_cast<size_t>(r));
    std::vector<int64_t> strides(static_cast<size_t>(r));
    for (int64_t i = 0; i < r; ++i) {
      ASSIGN_OR_RETURN(int64_t p, NormAxis(perm[static_cast<size_t>(i)], r));
      o[static_cast<size_t>(i)] = in[0].dim(p);
      strides[static_cast<size_t>(i)] = is[static_cast<size_t>(p)];
    }
    out[0] = ctx.Allocate(in[0].dtype(), o);
    CopyStrided(in[0], out[0], strides, 0);
    return absl::OkStatus();
  });
}

absl::StatusOr<Fn> MakeGather(const KernelInit& init) {
  ASSIGN_OR_RETURN(int64_t axis_attr, init.node.attrs.GetInt("axis", 0));
  return Fn([axis_attr](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 2));
    ASSIGN_OR_RETURN(int64_t axis, NormAxis(axis_attr, in[0].rank()));
    const Shape& s = in[0].shape();
    const Shape& is = in[1].shape();
    Shape o(s.begin(), s.begin() + axis);
    o.insert(o.end(), is.begin(), is.end());
    o.insert(o.end(), s.begin() + axis + 1, s.end());
    out[0] = ctx.Allocate(in[0].dtype(), o);
    const int64_t outer = Prod(s, 0, axis);
    const int64_t dim = s[static_cast<size_t>(axis)];
    const size_t es = DataTypeSize(in[0].dtype());
    const int64_t inner = Prod(s, axis + 1, in[0].rank()) * static_cast<int64_t>(es);
    const int64_t n = in[1].size();
    const char* src = static_cast<const char*>(in[0].raw());
    char* dst = static_cast<char*>(out[0].raw());
    for (int64_t j = 0; j < n; ++j) {
      int64_t idx = IntAt(in[1], j);
      if (idx < 0) idx += dim;
      if (idx < 0 || idx >= dim) return absl::InvalidArgumentError("Gather: index out of range");
    }
    for (int64_t o0 = 0; o0 < outer; ++o0) {
      for (int64_t j = 0; j < n; ++j) {
        int64_t idx = IntAt(in[1], j);
        if (idx < 0) idx += dim;
        std::memcpy(dst + (o0 * n + j) * inner, src + (o0 * dim + idx) * inner, static_cast<size_t>(inner));
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<Fn> MakePad(const KernelInit& init) {
  ASSIGN_OR_RETURN(std::string mode, init.node.attrs.GetString("mode", "constant"));
  ASSIGN_OR_RETURN(std::vector<int64_t> pads_attr, init.node.attrs.GetInts("pads", std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(float value_attr, init.node.attrs.GetFloat("value", 0.f));
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    return absl::UnimplementedError("Pad: mode '" + mode + "' not supported");
  }
  return Fn([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    const int64_t r = in[0].rank();
    std::vector<int64_t> pads = pads_attr;
    if (in.size() > 1 && !in[1].empty()) pads = ToInt64Vector(in[1]);
    std::vector<int64_t> axes;
    if (in.size() > 3 && !in[3].empty()) {
      for (int64_t a : ToInt64Vector(in[3])) {
        ASSIGN_OR_RETURN(int64_t ax, NormAxis(a, r));
        axes.push_back(ax);
      }
    } else {
      for (int64_t i = 0; i < r; ++i) axes.push_back(i);
    }
    if (pads.size() != 2 * axes.size()) return absl::InvalidArgumentError("Pad: pads has the wrong length");
    std::vector<int64_t> before(static_cast<size_t>(r), 0), after(static_cast<size_t>(r), 0);
    const size_t na = axes.size();
    for (size_t i = 0; i < na; ++i) {
      before[static_cast<size_t>(axes[i])] = pads[i];
      after[static_cast<size_t>(axes[i])] = pads[i + na];
    }
    const Shape& s = in[0].shape();
    Shape o(s.size());
    for (size_t d = 0; d < s.size(); ++d) {
      o[d] = s[d] + before[d] + after[d];
      if (o[d] < 0) return absl::InvalidArgumentError("Pad: negative output size");
      if (mode == "reflect" && (before[d] >= s[d] || after[d] >= s[d]) && (before[d] > 0 || after[d] > 0)) {
        return absl::InvalidArgumentError("Pad: reflect pad larger than the input");
      }
    }
    out[0] = ctx.Allocate(in[0].dtype(), o);
    return DispatchNumeric(in[0].dtype(), [&](auto tag) -> absl::Status {
      using T = decltype(tag);
      T cval = static_cast<T>(value_attr);
      if (in.size() > 2 && !in[2].empty()) cval = in[2].data<T>()[0];
      const T* src = in[0].data<T>();
      T* dst = out[0].data<T>();
      const std::vector<int64_t> is = Strides(s);
      const int64_t n = out[0].size();
      const size_t rr = o.size();
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) {
        int64_t rem = i, off = 0;
        bool inside = true;
        for (size_t d = rr; d-- > 0;) {
          int64_t c = rem % o[d] - before[d];
          rem /= o[d];
          if (c < 0 || c >= s[d]) {
            if (mode == "constant" || s[d] == 0) {
              inside = false;
              break;
            }
            if (mode == "edge") {
              c = c < 0 ? 0 : s[d] - 1;
            } else {
              c = c < 0 ? -c : 2 * (s[d] - 1) - c;
            }
          }
          off += c * is[d];
        }
        dst[i] = inside ? src[off] : cval;
      }
      return absl::OkStatus();
    });
  });
}

absl::StatusOr<Fn> MakeDepthToSpace(const KernelInit& init) {
  ASSIGN_OR_RETURN(int64_t bs, init.node.attrs.GetInt("blocksize"));
  ASSIGN_OR_RETURN(std::string mode, init.node.attrs.GetString("mode", "DCR"));
  if (bs <= 0 || (mode != "DCR" && mode != "CRD")) return absl::InvalidArgumentError("DepthToSpace: bad attributes");
  return Fn([bs, mode](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
    RETURN_IF_ERROR(NeedInputs(in, 1));
    if (in[0].rank() != 4) return absl::InvalidArgumentError("DepthToSpace: input must be 4-D");
    const int64_t n = in[0].dim(0), c = in[0].dim(1), h = in[0].dim(2), w = in[0].dim(3);
    if (c % (bs * bs)) return absl::InvalidArgumentError("DepthToSpace: channels not divisible by blocksize^2");
    const int64_t oc = c / (bs * bs);
    out[0] = ctx.Allocate(in[0].dtype(), {n, oc, h * bs, w * bs});
    // View the output as n, oc, h, bs, w, bs and read the matching input element.
    Tensor view = out[0].Reshaped({n, oc, h, bs, w, bs});
    const int64_t sc = h * w;
    std::vector<int64_t> st(6);
    st[0] = c * sc;
    st[2] = w;
    st[4] = 1;
    if (mode == "DCR") {  // c_in = (b1 * bs + b2) * oc + c
      st[1] = sc;
      st[3] = bs * oc * sc;
      st[5] = oc * sc;
    } else {  // CRD: c_in = c * bs * bs + b1 * bs + b2
      st[1] = bs * bs * sc;
      st[3] = bs * sc;
      st[5] = sc;
    }
    CopyStrided(in[0], view, st, 0);
    return absl::OkStatus();
  });
}

}  // namespace

void RegisterShapeOps(KernelRegistry& r) {
  Reg(r, "Shape", [](const KernelInit& init) -> absl::StatusOr<Fn> {
    ASSIGN_OR_RETURN(int64_t start_attr, init.node.attrs.GetInt("start", 0));
    const bool has_end = init.node.attrs.Has("end");
    ASSIGN_OR_RETURN(int64_t end_attr, init.node.attrs.GetInt("end", 0));
    return Fn([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext&) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 1));
      const int64_t r = in[0].rank();
      auto clampi = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
      const int64_t b = clampi(start_attr), e = has_end ? clampi(end_attr) : r;
      std::vector<int64_t> dims;
      for (int64_t i = b; i < e; ++i) dims.push_back(in[0].dim(i));
      out[0] = MakeInt64Tensor(dims);
      return absl::OkStatus();
    });
  });
  Reg(r, "Size", [](const KernelInit&) -> absl::StatusOr<Fn> {
    return Fn([](std::span<const Tensor> in, std::span<Tensor> out, RunContext&) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 1));
      out[0] = MakeInt64Tensor({in[0].size()}).Reshaped({});
      return absl::OkStatus();
    });
  });
  Reg(r, "Reshape", [](const KernelInit& init) -> absl::StatusOr<Fn> {
    ASSIGN_OR_RETURN(int64_t allowzero, init.node.attrs.GetInt("allowzero", 0));
    ASSIGN_OR_RETURN(std::vector<int64_t> shape_attr, init.node.attrs.GetInts("shape", std::vector<int64_t>{}));
    return Fn([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext&) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 1));
      const std::vector<int64_t> spec = in.size() > 1 && !in[1].empty() ? ToInt64Vector(in[1]) : shape_attr;
      ASSIGN_OR_RETURN(Shape o, ReshapeTarget(in[0].shape(), spec, allowzero != 0));
      out[0] = in[0].Reshaped(o);
      return absl::OkStatus();
    });
  });
  Reg(r, "Flatten", [](const KernelInit& init) -> absl::StatusOr<Fn> {
    ASSIGN_OR_RETURN(int64_t axis_attr, init.node.attrs.GetInt("axis", 1));
    return Fn([=](std::span<const Tensor> in, std::span<Tensor> out, RunContext&) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 1));
      const int64_t r = in[0].rank();
      const int64_t axis = axis_attr < 0 ? axis_attr + r : axis_attr;
      if (axis < 0 || axis > r) return absl::InvalidArgumentError("Flatten: axis out of range");
      out[0] = in[0].Reshaped({Prod(in[0].shape(), 0, axis), Prod(in[0].shape(), axis, r)});
      return absl::OkStatus();
    });
  });
  Reg(r, "Identity", [](const KernelInit&) -> absl::StatusOr<Fn> {
    return Fn([](std::span<const Tensor> in, std::span<Tensor> out, RunContext&) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 1));
      out[0] = in[0];
      return absl::OkStatus();
    });
  });
  Reg(r, "Constant", [](const KernelInit& init) -> absl::StatusOr<Fn> {
    const Attributes& a = init.node.attrs;
    Tensor value;
    if (a.Has("value")) {
      ASSIGN_OR_RETURN(value, a.GetTensor("value"));
    } else if (a.Has("value_float")) {
      ASSIGN_OR_RETURN(float f, a.GetFloat("value_float"));
      value = Tensor(DataType::kFloat32, {});
      value.data<float>()[0] = f;
    } else if (a.Has("value_floats")) {
      ASSIGN_OR_RETURN(std::vector<float> f, a.GetFloats("value_floats"));
      value = Tensor(DataType::kFloat32, {static_cast<int64_t>(f.size())});
      std::copy(f.begin(), f.end(), value.data<float>());
    } else if (a.Has("value_int")) {
      ASSIGN_OR_RETURN(int64_t i, a.GetInt("value_int"));
      value = MakeInt64Tensor({i}).Reshaped({});
    } else if (a.Has("value_ints")) {
      ASSIGN_OR_RETURN(std::vector<int64_t> i, a.GetInts("value_ints"));
      value = MakeInt64Tensor(i);
    } else {
      return absl::UnimplementedError("Constant: unsupported value attribute");
    }
    return Fn([value](std::span<const Tensor>, std::span<Tensor> out, RunContext&) -> absl::Status {
      out[0] = value;
      return absl::OkStatus();
    });
  });
  Reg(r, "ConstantOfShape", [](const KernelInit& init) -> absl::StatusOr<Fn> {
    Tensor value(DataType::kFloat32, {1});
    if (init.node.attrs.Has("value")) {
      ASSIGN_OR_RETURN(value, init.node.attrs.GetTensor("value"));
    }
    return Fn([value](std::span<const Tensor> in, std::span<Tensor> out, RunContext&) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 1));
      const Shape s = ToInt64Vector(in[0]);
      for (int64_t d : s) {
        if (d < 0) return absl::InvalidArgumentError("ConstantOfShape: negative dimension");
      }
      out[0] = Tensor(value.dtype(), s);
      const size_t es = DataTypeSize(value.dtype());
      char* dst = static_cast<char*>(out[0].raw());
      for (int64_t i = 0; i < out[0].size(); ++i) std::memcpy(dst + i * static_cast<int64_t>(es), value.raw(), es);
      return absl::OkStatus();
    });
  });
  Reg(r, "Squeeze", MakeSqueeze);
  Reg(r, "Unsqueeze", MakeUnsqueeze);
  Reg(r, "Slice", MakeSlice);
  Reg(r, "Concat", MakeConcat);
  Reg(r, "Split", MakeSplit);
  Reg(r, "Transpose", MakeTranspose);
  Reg(r, "Gather", MakeGather);
  Reg(r, "Pad", MakePad);
  Reg(r, "DepthToSpace", MakeDepthToSpace);
}

}  // namespace imagen::engine::ref
