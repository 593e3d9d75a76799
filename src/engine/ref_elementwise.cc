// Reference element-wise ops: unary activations, broadcasting binary
// arithmetic, PRelu, Clip and Cast.
#include <cmath>

#include "common/status_macros.h"
#include "engine/half.h"
#include "engine/ref_util.h"

namespace imagen::engine::ref {
namespace {

// out[i] = op(a[ia], b[ib]) over the broadcast of a and b.
template <typename T, typename R, typename Op>
void BinaryLoop(const Tensor& a, const Tensor& b, Tensor& out, Op op) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  R* po = out.data<R>();
  const int64_t n = out.size();
  if (a.shape() == b.shape()) {
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[i]);
    return;
  }
  if (b.size() == 1) {
    const T vb = pb[0];
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i % a.size()], vb);
    return;
  }
  const Shape& os = out.shape();
  if (os.empty()) {
    po[0] = op(pa[0], pb[0]);
    return;
  }
  const std::vector<int64_t> sa = BroadcastStrides(a.shape(), os);
  const std::vector<int64_t> sb = BroadcastStrides(b.shape(), os);
  const size_t r = os.size();
  const int64_t inner = os[r - 1];
  const int64_t outer = n / std::max<int64_t>(inner, 1);
  if (inner == 0) return;
#pragma omp parallel for if (n > 65536)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, ia = 0, ib = 0;
    for (size_t d = r - 1; d-- > 0;) {
      const int64_t idx = rem % os[d];
      rem /= os[d];
      ia += idx * sa[d];
      ib += idx * sb[d];
    }
    R* dst = po + o * inner;
    const int64_t ta = sa[r - 1], tb = sb[r - 1];
    for (int64_t i = 0; i < inner; ++i) dst[i] = op(pa[ia + i * ta], pb[ib + i * tb]);
  }
}

template <typename Op>
void RegisterBinary(KernelRegistry& r, const char* name, Op op) {
  r.Register(name, Backend::kReference, [op](const KernelInit&) {
    return Make([op](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 2));
      if (in[0].dtype() != in[1].dtype()) return absl::InvalidArgumentError("inputs have different dtypes");
      ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(in[0].shape(), in[1].shape()));
      out[0] = ctx.Allocate(in[0].dtype(), shape);
      return DispatchNumeric(in[0].dtype(), [&](auto t) -> absl::Status {
        using T = decltype(t);
        BinaryLoop<T, T>(in[0], in[1], out[0], [op](T x, T y) { return static_cast<T>(op(x, y)); });
        return absl::OkStatus();
      });
    });
  });
}

template <typename Op>
void RegisterCompare(KernelRegistry& r, const char* name, Op op) {
  r.Register(name, Backend::kReference, [op](const KernelInit&) {
    return Make([op](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 2));
      if (in[0].dtype() != in[1].dtype()) return absl::InvalidArgumentError("inputs have different dtypes");
      ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(in[0].shape(), in[1].shape()));
      out[0] = ctx.Allocate(DataType::kBool, shape);
      return DispatchNumeric(in[0].dtype(), [&](auto t) -> absl::Status {
        using T = decltype(t);
        BinaryLoop<T, uint8_t>(in[0], in[1], out[0], [op](T x, T y) { return static_cast<uint8_t>(op(x, y)); });
        return absl::OkStatus();
      });
    });
  });
}

// A float unary op whose parameters come from attributes.
using UnaryMaker = std::function<absl::StatusOr<std::function<float(float)>>(const Attributes&)>;

void RegisterUnary(KernelRegistry& r, const char* name, UnaryMaker maker) {
  r.Register(name, Backend::kReference, [maker](const KernelInit& init) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    ASSIGN_OR_RETURN(std::function<float(float)> f, maker(init.node.attrs));
    return Make([f](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 1));
      RETURN_IF_ERROR(NeedFloat(in[0], "input"));
      out[0] = ctx.Allocate(DataType::kFloat32, in[0].shape());
      const float* x = in[0].data<float>();
      float* y = out[0].data<float>();
      const int64_t n = in[0].size();
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
      return absl::OkStatus();
    });
  });
}

UnaryMaker Plain(float (*f)(float)) {
  return
      [f](const Attributes&) -> absl::StatusOr<std::function<float(float)>> { return std::function<float(float)>(f); };
}

absl::Status CastTensor(const Tensor& in, Tensor& out) {
  const int64_t n = in.size();
  auto read = [&](int64_t i) -> double {
    switch (in.dtype()) {
      case DataType::kFloat32:
        return in.data<float>()[i];
      case DataType::kFloat16:
        return HalfToFloat(in.data<uint16_t>()[i]);
      case DataType::kInt8:
        return in.data<int8_t>()[i];
      case DataType::kUInt8:
      case DataType::kBool:
        return in.data<uint8_t>()[i];
      case DataType::kInt32:
        return in.data<int32_t>()[i];
      case DataType::kInt64:
        return static_cast<double>(in.data<int64_t>()[i]);
    }
    return 0;
  };
  if (in.dtype() == DataType::kInt64 && out.dtype() == DataType::kInt64) {
    std::copy(in.data<int64_t>(), in.data<int64_t>() + n, out.data<int64_t>());
    return absl::OkStatus();
  }
  for (int64_t i = 0; i < n; ++i) {
    const double v = read(i);
    switch (out.dtype()) {
      case DataType::kFloat32:
        out.data<float>()[i] = static_cast<float>(v);
        break;
      case DataType::kFloat16:
        out.data<uint16_t>()[i] = FloatToHalf(static_cast<float>(v));
        break;
      case DataType::kInt8:
        out.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int64_t>(v));
        break;
      case DataType::kUInt8:
        out.data<uint8_t>()[i] = static_cast<uint8_t>(static_cast<int64_t>(v));
        break;
      case DataType::kBool:
        out.data<uint8_t>()[i] = v != 0;
        break;
      case DataType::kInt32:
        out.data<int32_t>()[i] = static_cast<int32_t>(static_cast<int64_t>(v));
        break;
      case DataType::kInt64:
        out.data<int64_t>()[i] = static_cast<int64_t>(v);
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DataType> OnnxElemType(int64_t onnx_type);

void RegisterElementwise(KernelRegistry& r) {
  RegisterBinary(r, "Add", [](auto x, auto y) { return x + y; });
  RegisterBinary(r, "Sub", [](auto x, auto y) { return x - y; });
  RegisterBinary(r, "Mul", [](auto x, auto y) { return x * y; });
  RegisterBinary(r, "Div", [](auto x, auto y) -> decltype(x) {
    using T = decltype(x);
    if constexpr (std::is_integral_v<T>) {
      return y == 0 ? T{0} : static_cast<T>(x / y);
    } else {
      return x / y;
    }
  });
  RegisterBinary(r, "Max", [](auto x, auto y) { return x > y ? x : y; });
  RegisterBinary(r, "Min", [](auto x, auto y) { return x < y ? x : y; });
  RegisterCompare(r, "Equal", [](auto x, auto y) { return x == y; });
  RegisterCompare(r, "Less", [](auto x, auto y) { return x < y; });
  RegisterCompare(r, "Greater", [](auto x, auto y) { return x > y; });

  // Abs and Neg also take integer tensors (shape arithmetic in expanded functions).
  for (bool neg : {false, true}) {
    r.Register(neg ? "Neg" : "Abs", Backend::kReference, [neg](const KernelInit&) {
      return Make([neg](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
        RETURN_IF_ERROR(NeedInputs(in, 1));
        out[0] = ctx.Allocate(in[0].dtype(), in[0].shape());
        return DispatchNumeric(in[0].dtype(), [&](auto t) -> absl::Status {
          using T = decltype(t);
          const T* x = in[0].data<T>();
          T* y = out[0].data<T>();
          for (int64_t i = 0; i < in[0].size(); ++i) {
            y[i] = neg ? static_cast<T>(-x[i]) : (x[i] < T{0} ? static_cast<T>(-x[i]) : x[i]);
          }
          return absl::OkStatus();
        });
      });
    });
  }

  r.Register("PRelu", Backend::kReference, [](const KernelInit&) {
    return Make([](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 2));
      RETURN_IF_ERROR(NeedFloat(in[0], "X"));
      RETURN_IF_ERROR(NeedFloat(in[1], "slope"));
      ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(in[0].shape(), in[1].shape()));
      if (shape != in[0].shape()) return absl::InvalidArgumentError("slope does not broadcast to X");
      out[0] = ctx.Allocate(DataType::kFloat32, shape);
      BinaryLoop<float, float>(in[0], in[1], out[0], [](float x, float s) { return x < 0 ? x * s : x; });
      return absl::OkStatus();
    });
  });

  RegisterUnary(r, "Relu", Plain([](float x) { return x > 0 ? x : 0.f; }));
  RegisterUnary(r, "Sigmoid", Plain([](float x) { return 1.f / (1.f + std::exp(-x)); }));
  RegisterUnary(r, "Tanh", Plain([](float x) { return std::tanh(x); }));
  RegisterUnary(r, "Exp", Plain([](float x) { return std::exp(x); }));
  RegisterUnary(r, "Log", Plain([](float x) { return std::log(x); }));
  RegisterUnary(r, "Sqrt", Plain([](float x) { return std::sqrt(x); }));
  RegisterUnary(r, "Floor", Plain([](float x) { return std::floor(x); }));
  RegisterUnary(r, "Ceil", Plain([](float x) { return std::ceil(x); }));
  RegisterUnary(r, "Reciprocal", Plain([](float x) { return 1.f / x; }));
  RegisterUnary(r, "Erf", Plain([](float x) { return std::erf(x); }));
  RegisterUnary(r, "LeakyRelu", [](const Attributes& a) -> absl::StatusOr<std::function<float(float)>> {
    ASSIGN_OR_RETURN(float alpha, a.GetFloat("alpha", 0.01f));
    return std::function<float(float)>([alpha](float x) { return x < 0 ? alpha * x : x; });
  });
  RegisterUnary(r, "Elu", [](const Attributes& a) -> absl::StatusOr<std::function<float(float)>> {
    ASSIGN_OR_RETURN(float alpha, a.GetFloat("alpha", 1.f));
    return std::function<float(float)>([alpha](float x) { return x < 0 ? alpha * (std::exp(x) - 1.f) : x; });
  });
  RegisterUnary(r, "HardSigmoid", [](const Attributes& a) -> absl::StatusOr<std::function<float(float)>> {
    ASSIGN_OR_RETURN(float alpha, a.GetFloat("alpha", 0.2f));
    ASSIGN_OR_RETURN(float beta, a.GetFloat("beta", 0.5f));
    return std::function<float(float)>(
        [alpha, beta](float x) { return std::max(0.f, std::min(1.f, alpha * x + beta)); });
  });

  r.Register("Clip", Backend::kReference, [](const KernelInit& init) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    // Opset < 11 carries min/max as attributes; later as optional inputs.
    ASSIGN_OR_RETURN(float amin, init.node.attrs.GetFloat("min", -INFINITY));
    ASSIGN_OR_RETURN(float amax, init.node.attrs.GetFloat("max", INFINITY));
    return Make([amin, amax](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 1));
      out[0] = ctx.Allocate(in[0].dtype(), in[0].shape());
      return DispatchNumeric(in[0].dtype(), [&](auto t) -> absl::Status {
        using T = decltype(t);
        T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
        if constexpr (std::is_floating_point_v<T>) {
          lo = amin;
          hi = amax;
        }
        if (in.size() > 1 && !in[1].empty()) lo = in[1].data<T>()[0];
        if (in.size() > 2 && !in[2].empty()) hi = in[2].data<T>()[0];
        const T* x = in[0].data<T>();
        T* y = out[0].data<T>();
        const int64_t n = in[0].size();
#pragma omp parallel for if (n > 65536)
        for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i], lo), hi);
        return absl::OkStatus();
      });
    });
  });

  r.Register("Cast", Backend::kReference, [](const KernelInit& init) -> absl::StatusOr<std::unique_ptr<Kernel>> {
    ASSIGN_OR_RETURN(int64_t to, init.node.attrs.GetInt("to"));
    ASSIGN_OR_RETURN(DataType type, OnnxElemType(to));
    return Make([type](std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) -> absl::Status {
      RETURN_IF_ERROR(NeedInputs(in, 1));
      out[0] = ctx.Allocate(type, in[0].shape());
      return CastTensor(in[0], out[0]);
    });
  });
}

absl::StatusOr<DataType> OnnxElemType(int64_t t) {
  switch (t) {
    case 1:
      return DataType::kFloat32;
    case 2:
      return DataType::kUInt8;
    case 3:
      return DataType::kInt8;
    case 6:
      return DataType::kInt32;
    case 7:
      return DataType::kInt64;
    case 9:
      return DataType::kBool;
    case 10:
      return DataType::kFloat16;
    default:
      return absl::UnimplementedError("unsupported ONNX element type " + std::to_string(t));
  }
}

}  // namespace imagen::engine::ref
