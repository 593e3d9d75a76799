// Tensors as the inference server sees them (KServe v2 terms: a datatype name
// such as "FP32", a shape, row-major little-endian bytes), conversions to
// Triton's config DataType, and batch concatenation / splitting along dim 0.
// Value types and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model_config.pb.h"

namespace imagen::serving {

struct Tensor {
  std::string name;
  std::string datatype = "FP32";  // KServe v2 name: FP32, INT64, BYTES, ...
  std::vector<int64_t> shape;
  std::string data;  // BYTES: each element as a 4-byte little-endian length + bytes
};

// "FP32" <-> TYPE_FP32; "BYTES" <-> TYPE_STRING. Unknown names give TYPE_INVALID.
inference::DataType DataTypeFromName(std::string_view name);
std::string DataTypeName(inference::DataType type);
// Element size in bytes; 0 for BYTES (variable) and TYPE_INVALID.
size_t DataTypeSize(inference::DataType type);
size_t DataTypeSize(std::string_view name);

// Product of the dims, or nullopt when a dim is negative or the product
// overflows int64 (checked multiplication: a shape such as [4, 2^62] must
// never wrap to a small count).
std::optional<int64_t> CheckedElementCount(const std::vector<int64_t>& shape);
// CheckedElementCount * elem_size, or nullopt on a negative dim or overflow.
std::optional<uint64_t> CheckedByteSize(const std::vector<int64_t>& shape, size_t elem_size);
// CheckedElementCount, -1 when it has no value.
int64_t ElementCount(const std::vector<int64_t>& shape);
// The number of elements in a BYTES tensor's data (4-byte length + bytes
// each); InvalidArgument when the data is malformed.
absl::StatusOr<int64_t> BytesElementCount(const Tensor& t);
std::string ShapeString(const std::vector<int64_t>& shape);

// Joins tensors of equal datatype and equal shape after dim 0 along dim 0.
absl::StatusOr<Tensor> ConcatBatch(const std::vector<const Tensor*>& parts);
// Splits `whole` along dim 0 into pieces of `sizes` rows (they must sum to
// shape[0]). BYTES tensors are split element-wise.
absl::StatusOr<std::vector<Tensor>> SplitBatch(const Tensor& whole, const std::vector<int64_t>& sizes);

}  // namespace imagen::serving
