#include "engine/tensor.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/string_view.h"

namespace imagen::engine {
std::shared_ptr<void> AlignedAlloc(size_t bytes) {
  if (bytes > SIZE_MAX - 64) throw std::bad_alloc();
  const size_t rounded = ((bytes == 0 ? 1 : bytes) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFloat32:
    case DataType::kInt32:
      return 4;
    case DataType::kFloat16:
      return 2;
    case DataType::kInt8:
    case DataType::kUInt8:
    case DataType::kBool:
      return 1;
    case DataType::kInt64:
      return 8;
  }
  return 0;
}

std::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return "FP32";
    case DataType::kFloat16:
      return "FP16";
    case DataType::kInt8:
      return "INT8";
    case DataType::kUInt8:
      return "UINT8";
    case DataType::kInt32:
      return "INT32";
    case DataType::kInt64:
      return "INT64";
    case DataType::kBool:
      return "BOOL";
  }
  return "?";
}

std::optional<DataType> DataTypeFromName(std::string_view name) {
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kInt8, DataType::kUInt8, DataType::kInt32,
                     DataType::kInt64, DataType::kBool}) {
    if (DataTypeName(t) == name) return t;
  }
  return std::nullopt;
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

std::optional<size_t> CheckedByteSize(DataType type, const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return 0;
  }
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  size_t bytes;
  if (__builtin_mul_overflow(static_cast<size_t>(n), DataTypeSize(type), &bytes)) return std::nullopt;
  return bytes;
}

namespace {

size_t ByteSizeOrThrow(DataType type, const Shape& shape) {
  std::optional<size_t> bytes = CheckedByteSize(type, shape);
  if (!bytes) throw std::bad_alloc();
  return *bytes;
}

}  // namespace

std::string ShapeToString(const Shape& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

absl::StatusOr<Shape> ParseShape(std::string_view text) {
  Shape shape;
  for (absl::string_view part : absl::StrSplit(ToAbsl(text), absl::ByAnyChar("x,"))) {
    int64_t d;
    if (!absl::SimpleAtoi(part, &d) || d < 0) {
      return absl::InvalidArgumentError("bad shape '" + std::string(text) + "': expected dims like 1x3x224x224");
    }
    shape.push_back(d);
  }
  return shape;
}

Tensor::Tensor(DataType type, Shape shape) : Tensor(Uninitialized(type, std::move(shape))) {
  if (bytes_) std::memset(data_, 0, bytes_);
}

Tensor Tensor::Uninitialized(DataType type, Shape shape) {
  Tensor t;
  t.dtype_ = type;
  t.shape_ = std::move(shape);
  t.bytes_ = ByteSizeOrThrow(type, t.shape_);
  t.buffer_ = AlignedAlloc(t.bytes_);
  t.data_ = t.buffer_.get();
  return t;
}

Tensor Tensor::Wrap(DataType type, Shape shape, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = type;
  t.shape_ = std::move(shape);
  t.bytes_ = ByteSizeOrThrow(type, t.shape_);
  t.data_ = data;
  t.buffer_ = std::move(owner);
  return t;
}

Tensor Tensor::WithLayout(DataType type, Shape logical_shape, size_t bytes,
                          std::shared_ptr<const OpaqueLayout> layout) {
  return WithLayout(type, std::move(logical_shape), bytes, AlignedAlloc(bytes), std::move(layout));
}

Tensor Tensor::WithLayout(DataType type, Shape logical_shape, size_t bytes, std::shared_ptr<void> buffer,
                          std::shared_ptr<const OpaqueLayout> layout) {
  Tensor t;
  t.dtype_ = type;
  t.shape_ = std::move(logical_shape);
  t.bytes_ = bytes;
  t.buffer_ = std::move(buffer);
  t.data_ = t.buffer_.get();
  t.layout_ = std::move(layout);
  return t;
}

Tensor Tensor::Reshaped(Shape shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Clone() const {
  Tensor t = *this;
  t.buffer_ = AlignedAlloc(bytes_);
  t.data_ = t.buffer_.get();
  if (bytes_) std::memcpy(t.data_, data_, bytes_);
  return t;
}

absl::StatusOr<Tensor> ToPlain(const Tensor& t) {
  if (t.is_plain()) return t;
  return t.layout()->ToPlain(t);
}

int64_t IntAt(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kInt64:
      return t.data<int64_t>()[i];
    case DataType::kInt32:
      return t.data<int32_t>()[i];
    case DataType::kInt8:
      return t.data<int8_t>()[i];
    case DataType::kUInt8:
    case DataType::kBool:
      return t.data<uint8_t>()[i];
    case DataType::kFloat32:
      return static_cast<int64_t>(t.data<float>()[i]);
    case DataType::kFloat16:
      return 0;
  }
  return 0;
}

std::vector<int64_t> ToInt64Vector(const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(t.size(), 0)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = IntAt(t, static_cast<int64_t>(i));
  return v;
}

Tensor MakeInt64Tensor(const std::vector<int64_t>& values) {
  Tensor t(DataType::kInt64, {static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data<int64_t>());
  return t;
}

}  // namespace imagen::engine
