#include "serving/tensor.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace imagen::serving {
namespace {

struct TypeRow {
  inference::DataType type;
  const char* name;
  size_t size;
};

constexpr TypeRow kTypes[] = {
    {inference::TYPE_BOOL, "BOOL", 1},     {inference::TYPE_UINT8, "UINT8", 1},   {inference::TYPE_UINT16, "UINT16", 2},
    {inference::TYPE_UINT32, "UINT32", 4}, {inference::TYPE_UINT64, "UINT64", 8}, {inference::TYPE_INT8, "INT8", 1},
    {inference::TYPE_INT16, "INT16", 2},   {inference::TYPE_INT32, "INT32", 4},   {inference::TYPE_INT64, "INT64", 8},
    {inference::TYPE_FP16, "FP16", 2},     {inference::TYPE_FP32, "FP32", 4},     {inference::TYPE_FP64, "FP64", 8},
    {inference::TYPE_STRING, "BYTES", 0},  {inference::TYPE_BF16, "BF16", 2},
};

// Byte offsets of each element of a BYTES tensor, plus the end.
absl::StatusOr<std::vector<size_t>> BytesOffsets(const Tensor& t) {
  std::vector<size_t> offsets;
  size_t pos = 0;
  while (pos < t.data.size()) {
    if (pos + 4 > t.data.size())
      return absl::InvalidArgumentError(absl::StrCat("malformed BYTES tensor '", t.name, "'"));
    offsets.push_back(pos);
    uint32_t len = static_cast<uint8_t>(t.data[pos]) | (static_cast<uint8_t>(t.data[pos + 1]) << 8) |
                   (static_cast<uint8_t>(t.data[pos + 2]) << 16) |
                   (static_cast<uint32_t>(static_cast<uint8_t>(t.data[pos + 3])) << 24);
    pos += 4 + static_cast<size_t>(len);
    if (pos > t.data.size()) return absl::InvalidArgumentError(absl::StrCat("malformed BYTES tensor '", t.name, "'"));
  }
  offsets.push_back(pos);
  return offsets;
}

}  // namespace

inference::DataType DataTypeFromName(std::string_view name) {
  for (const auto& row : kTypes) {
    if (name == row.name) return row.type;
  }
  return inference::TYPE_INVALID;
}

std::string DataTypeName(inference::DataType type) {
  for (const auto& row : kTypes) {
    if (type == row.type) return row.name;
  }
  return "INVALID";
}

size_t DataTypeSize(inference::DataType type) {
  for (const auto& row : kTypes) {
    if (type == row.type) return row.size;
  }
  return 0;
}

size_t DataTypeSize(std::string_view name) { return DataTypeSize(DataTypeFromName(name)); }

std::optional<int64_t> CheckedElementCount(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  return n;
}

std::optional<uint64_t> CheckedByteSize(const std::vector<int64_t>& shape, size_t elem_size) {
  auto n = CheckedElementCount(shape);
  uint64_t bytes;
  if (!n || __builtin_mul_overflow(static_cast<uint64_t>(*n), static_cast<uint64_t>(elem_size), &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

int64_t ElementCount(const std::vector<int64_t>& shape) { return CheckedElementCount(shape).value_or(-1); }

absl::StatusOr<int64_t> BytesElementCount(const Tensor& t) {
  auto offsets = BytesOffsets(t);
  if (!offsets.ok()) return offsets.status();
  return static_cast<int64_t>(offsets->size()) - 1;
}

std::string ShapeString(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ","), "]"); }

absl::StatusOr<Tensor> ConcatBatch(const std::vector<const Tensor*>& parts) {
  if (parts.empty()) return absl::InvalidArgumentError("empty batch");
  if (parts.size() == 1) return *parts[0];
  Tensor out;
  out.name = parts[0]->name;
  out.datatype = parts[0]->datatype;
  out.shape = parts[0]->shape;
  if (out.shape.empty())
    return absl::InvalidArgumentError(absl::StrCat("tensor '", out.name, "' has no batch dimension"));
  out.shape[0] = 0;
  size_t bytes = 0;
  for (const Tensor* p : parts) bytes += p->data.size();
  out.data.reserve(bytes);
  for (const Tensor* p : parts) {
    if (p->datatype != out.datatype || p->shape.size() != out.shape.size() ||
        !std::equal(p->shape.begin() + 1, p->shape.end(), out.shape.begin() + 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot batch tensor '", out.name, "' of shape ", ShapeString(p->shape)));
    }
    out.shape[0] += p->shape[0];
    out.data += p->data;
  }
  return out;
}

absl::StatusOr<std::vector<Tensor>> SplitBatch(const Tensor& whole, const std::vector<int64_t>& sizes) {
  std::vector<Tensor> out;
  if (sizes.size() == 1) {
    out.push_back(whole);
    return out;
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0 || __builtin_add_overflow(total, s, &total)) return absl::InternalError("invalid batch split sizes");
  }
  if (whole.shape.empty() || whole.shape[0] != total) {
    return absl::InternalError(
        absl::StrCat("output '", whole.name, "' has shape ", ShapeString(whole.shape), ", expected batch ", total));
  }
  auto elems = CheckedElementCount(whole.shape);
  if (!elems) {
    return absl::InternalError(
        absl::StrCat("output '", whole.name, "' has an invalid shape ", ShapeString(whole.shape)));
  }
  int64_t row_elems = total == 0 ? 0 : *elems / total;
  std::vector<size_t> offsets;
  size_t elem_size = DataTypeSize(whole.datatype);
  if (elem_size == 0) {
    auto o = BytesOffsets(whole);
    if (!o.ok()) return o.status();
    offsets = std::move(*o);
  }
  uint64_t have = elem_size == 0 ? offsets.size() - 1 : whole.data.size() / elem_size;
  if (have != static_cast<uint64_t>(*elems) || (elem_size > 0 && whole.data.size() % elem_size != 0)) {
    return absl::InternalError(absl::StrCat("output '", whole.name, "' of shape ", ShapeString(whole.shape), " has ",
                                            whole.data.size(), " bytes of data"));
  }
  int64_t row = 0;
  for (int64_t s : sizes) {
    Tensor t;
    t.name = whole.name;
    t.datatype = whole.datatype;
    t.shape = whole.shape;
    t.shape[0] = s;
    size_t begin, end;
    if (elem_size == 0) {
      begin = offsets[static_cast<size_t>(row * row_elems)];
      end = offsets[static_cast<size_t>((row + s) * row_elems)];
    } else {
      begin = static_cast<size_t>(row * row_elems) * elem_size;
      end = static_cast<size_t>((row + s) * row_elems) * elem_size;
    }
    t.data = whole.data.substr(begin, end - begin);
    out.push_back(std::move(t));
    row += s;
  }
  return out;
}

}  // namespace imagen::serving
