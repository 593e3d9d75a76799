#include "engine/ref_util.h"

namespace imagen::engine::ref {

absl::Status NeedInputs(std::span<const Tensor> in, size_t n) {
  if (in.size() < n) return absl::InvalidArgumentError("expected at least " + std::to_string(n) + " inputs");
  for (size_t i = 0; i < n; ++i) {
    if (in[i].empty()) return absl::InvalidArgumentError("input " + std::to_string(i) + " is missing");
  }
  return absl::OkStatus();
}

absl::Status NeedFloat(const Tensor& t, const char* what) {
  if (t.dtype() != DataType::kFloat32) {
    return absl::UnimplementedError(std::string(what) + " must be FP32, got " + std::string(DataTypeName(t.dtype())));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> NormAxis(int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max<int64_t>(rank, 1)) {
    return absl::InvalidArgumentError("axis " + std::to_string(axis) + " out of range for rank " +
                                      std::to_string(rank));
  }
  return a;
}

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError("shapes " + ShapeToString(a) + " and " + ShapeToString(b) +
                                        " cannot be broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> Strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& out) {
  std::vector<int64_t> s(out.size(), 0);
  const std::vector<int64_t> own = Strides(shape);
  const size_t off = out.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) s[off + i] = shape[i] == 1 ? 0 : own[i];
  return s;
}

int64_t Prod(const Shape& s, int64_t from, int64_t to) {
  int64_t p = 1;
  for (int64_t i = from; i < to; ++i) p *= s[static_cast<size_t>(i)];
  return p;
}

}  // namespace imagen::engine::ref
