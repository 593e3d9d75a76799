// Shared helpers of the reference kernels: a kernel made from a function,
// broadcasting, axis normalisation and dtype dispatch. Thread-safe: pure.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kernel.h"

namespace imagen::engine::ref {

using ForwardFn = std::function<absl::Status(std::span<const Tensor>, std::span<Tensor>, RunContext&)>;

class FnKernel : public Kernel {
 public:
  explicit FnKernel(ForwardFn fn) : fn_(std::move(fn)) {}
  absl::Status Forward(std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) const override {
    return fn_(in, out, ctx);
  }

 private:
  ForwardFn fn_;
};

inline absl::StatusOr<std::unique_ptr<Kernel>> Make(ForwardFn fn) {
  return std::unique_ptr<Kernel>(new FnKernel(std::move(fn)));
}

// Requires inputs [0, n) to be present.
absl::Status NeedInputs(std::span<const Tensor> in, size_t n);
// Requires a float32 tensor.
absl::Status NeedFloat(const Tensor& t, const char* what);
// Normalises a possibly negative axis against rank; error if out of range.
absl::StatusOr<int64_t> NormAxis(int64_t axis, int64_t rank);
// NumPy broadcast of two shapes.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);
// Strides (in elements) of `shape` when broadcast to `out` (0 along broadcast dims).
std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& out);
// Row-major strides.
std::vector<int64_t> Strides(const Shape& shape);
// Product of dims [from, to).
int64_t Prod(const Shape& s, int64_t from, int64_t to);

// Calls f(T{}) with T the C++ type of `type` for numeric types.
template <typename F>
absl::Status DispatchNumeric(DataType type, F&& f) {
  switch (type) {
    case DataType::kFloat32:
      return f(float{});
    case DataType::kInt32:
      return f(int32_t{});
    case DataType::kInt64:
      return f(int64_t{});
    case DataType::kInt8:
      return f(int8_t{});
    case DataType::kUInt8:
      return f(uint8_t{});
    default:
      return absl::UnimplementedError("unsupported element type " + std::string(DataTypeName(type)));
  }
}

// Registration per file.
void RegisterElementwise(KernelRegistry& r);
void RegisterConv(KernelRegistry& r);
void RegisterPool(KernelRegistry& r);
void RegisterResize(KernelRegistry& r);
void RegisterShapeOps(KernelRegistry& r);
void RegisterNorm(KernelRegistry& r);
void RegisterQuant(KernelRegistry& r);

}  // namespace imagen::engine::ref
