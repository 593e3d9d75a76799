// Typed n-dimensional tensors for the CPU engine: data types (with KServe
// names), shapes (-1 marks a dynamic dimension in signatures) and Tensor, a
// reference-counted view on a 64-byte aligned buffer. A Tensor is a value
// type; copies share the buffer (cheap views). Not internally synchronised:
// concurrent reads are fine, concurrent writes to a shared buffer are not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace imagen::engine {

enum class DataType : uint8_t { kFloat32, kFloat16, kInt8, kUInt8, kInt32, kInt64, kBool };

// Bytes per element.
size_t DataTypeSize(DataType type);
// KServe v2 / Triton name: "FP32", "FP16", "INT8", "UINT8", "INT32", "INT64", "BOOL".
std::string_view DataTypeName(DataType type);
std::optional<DataType> DataTypeFromName(std::string_view name);

// Dimensions, outermost first. In model signatures a dimension may be -1
// (dynamic, e.g. the batch); a Tensor's shape is always concrete.
using Shape = std::vector<int64_t>;

// Product of the dimensions (1 for a scalar); -1 if any dimension is dynamic
// or the product overflows int64 (checked multiplication).
int64_t NumElements(const Shape& shape);
// NumElements * DataTypeSize: 0 for a dynamic shape, nullopt when the product
// overflows (Tensor allocation then throws std::bad_alloc, which Run reports
// as ResourceExhausted).
std::optional<size_t> CheckedByteSize(DataType type, const Shape& shape);
// "1x3x224x224", "-1x3x1024x1024", "scalar".
std::string ShapeToString(const Shape& shape);
// Parses "1x3x224x224" (or comma-separated); rejects negative or empty dims.
absl::StatusOr<Shape> ParseShape(std::string_view text);

// Describes how a tensor's bytes are arranged when they are not the plain
// row-major (NCHW for images) order, e.g. a oneDNN blocked layout. A backend
// that produces such tensors subclasses it; every other consumer gets a plain
// tensor through ToPlain (the executor calls it where needed).
class OpaqueLayout {
 public:
  virtual ~OpaqueLayout() = default;
  // Which backend owns the layout ("dnnl"); informational.
  virtual std::string_view backend() const = 0;
  // Converts `in` (which carries this layout) into a plain row-major tensor.
  virtual absl::StatusOr<class Tensor> ToPlain(const class Tensor& in) const = 0;
};

class Tensor {
 public:
  // An empty tensor (no buffer); used for absent optional inputs.
  Tensor() = default;
  // Allocates a zero-filled, 64-byte aligned buffer. Dims must be >= 0.
  Tensor(DataType type, Shape shape);

  // A tensor over memory owned elsewhere (kept alive by `owner`, may be null
  // when the caller guarantees the lifetime).
  static Tensor Wrap(DataType type, Shape shape, void* data, std::shared_ptr<void> owner);
  // Allocates without zero-filling (for outputs that are fully written).
  static Tensor Uninitialized(DataType type, Shape shape);
  // A tensor that carries an opaque (backend) layout over `bytes` bytes.
  static Tensor WithLayout(DataType type, Shape logical_shape, size_t bytes,
                           std::shared_ptr<const OpaqueLayout> layout);
  // The same over a given buffer of at least `bytes` bytes (e.g. from a pool).
  static Tensor WithLayout(DataType type, Shape logical_shape, size_t bytes, std::shared_ptr<void> buffer,
                           std::shared_ptr<const OpaqueLayout> layout);

  bool empty() const { return data_ == nullptr && shape_.empty() && !layout_; }
  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  // Number of elements of the logical shape.
  int64_t size() const { return NumElements(shape_); }
  // Size of the buffer the tensor refers to.
  size_t bytes() const { return bytes_; }

  // Non-null for tensors in a backend's layout; such tensors must not be read
  // through data<T>() by layout-unaware code.
  const std::shared_ptr<const OpaqueLayout>& layout() const { return layout_; }
  bool is_plain() const { return layout_ == nullptr; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(data_);
  }

  // Same buffer, another shape with the same number of elements (plain only).
  Tensor Reshaped(Shape shape) const;
  // A deep copy into a fresh buffer.
  Tensor Clone() const;
  // True when no other Tensor shares the buffer (used by buffer pools).
  bool unique() const { return buffer_ != nullptr && buffer_.use_count() == 1; }
  const std::shared_ptr<void>& buffer() const { return buffer_; }

 private:
  DataType dtype_ = DataType::kFloat32;
  Shape shape_;
  size_t bytes_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<void> buffer_;
  std::shared_ptr<const OpaqueLayout> layout_;
};

// A 64-byte aligned buffer of at least `bytes` bytes (unspecified contents);
// throws std::bad_alloc when memory runs out.
std::shared_ptr<void> AlignedAlloc(size_t bytes);

// Returns the tensor unchanged if plain, else its plain conversion.
absl::StatusOr<Tensor> ToPlain(const Tensor& t);

// Maps a C++ element type to its DataType.
template <typename T>
constexpr DataType DataTypeOf();
template <>
constexpr DataType DataTypeOf<float>() {
  return DataType::kFloat32;
}
template <>
constexpr DataType DataTypeOf<int8_t>() {
  return DataType::kInt8;
}
template <>
constexpr DataType DataTypeOf<uint8_t>() {
  return DataType::kUInt8;
}
template <>
constexpr DataType DataTypeOf<int32_t>() {
  return DataType::kInt32;
}
template <>
constexpr DataType DataTypeOf<int64_t>() {
  return DataType::kInt64;
}

// Reads element i of an integer tensor (INT32/INT64/INT8/UINT8/BOOL) as int64.
int64_t IntAt(const Tensor& t, int64_t i);
// Reads a 1-D (or scalar) integer tensor as a vector of int64.
std::vector<int64_t> ToInt64Vector(const Tensor& t);
// A 1-D INT64 tensor holding `values`.
Tensor MakeInt64Tensor(const std::vector<int64_t>& values);

}  // namespace imagen::engine
