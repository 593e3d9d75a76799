#include "engine/npy.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace imagen::engine {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct Descr {
  const char* text;
  DataType type;
};
constexpr Descr kDescrs[] = {{"<f4", DataType::kFloat32}, {"<f2", DataType::kFloat16}, {"|i1", DataType::kInt8},
                             {"|u1", DataType::kUInt8},   {"<i4", DataType::kInt32},   {"<i8", DataType::kInt64},
                             {"|b1", DataType::kBool}};

// Value of `key` in the header dict, up to the next top-level comma or brace.
absl::StatusOr<std::string> Field(const std::string& header, const std::string& key) {
  const size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return absl::InvalidArgumentError("npy header lacks '" + key + "'");
  size_t p = header.find(':', k);
  if (p == std::string::npos) return absl::InvalidArgumentError("bad npy header");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  size_t e = p;
  if (header[p] == '(') {
    e = header.find(')', p);
    if (e == std::string::npos) return absl::InvalidArgumentError("bad npy shape");
    return header.substr(p + 1, e - p - 1);
  }
  while (e < header.size() && header[e] != ',' && header[e] != '}') ++e;
  std::string v = header.substr(p, e - p);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"')) v = v.substr(1, v.size() - 2);
  return v;
}

}  // namespace

absl::StatusOr<Tensor> ParseNpy(const std::string& bytes) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) {
    return absl::InvalidArgumentError("not a .npy file (bad magic)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len =
        static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return absl::InvalidArgumentError("truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return absl::InvalidArgumentError("unsupported .npy version " + std::to_string(major));
  }
  if (bytes.size() < offset + header_len) return absl::InvalidArgumentError("truncated .npy header");
  const std::string header = bytes.substr(offset, header_len);
  auto descr = Field(header, "descr");
  if (!descr.ok()) return descr.status();
  auto fortran = Field(header, "fortran_order");
  if (!fortran.ok()) return fortran.status();
  if (*fortran != "False") return absl::UnimplementedError(".npy in Fortran order is not supported");
  auto shape_text = Field(header, "shape");
  if (!shape_text.ok()) return shape_text.status();
  std::optional<DataType> type;
  for (const Descr& d : kDescrs) {
    if (*descr == d.text) type = d.type;
  }
  if (!type) return absl::UnimplementedError(".npy dtype '" + *descr + "' is not supported");
  Shape shape;
  for (absl::string_view part : absl::StrSplit(*shape_text, ',', absl::SkipWhitespace())) {
    int64_t d;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &d) || d < 0) {
      return absl::InvalidArgumentError("bad .npy shape '" + *shape_text + "'");
    }
    shape.push_back(d);
  }
  Tensor t = Tensor::Uninitialized(*type, shape);
  const size_t data_off = offset + header_len;
  if (bytes.size() - data_off != t.bytes()) {
    return absl::InvalidArgumentError(".npy data has " + std::to_string(bytes.size() - data_off) + " bytes, shape " +
                                      ShapeToString(shape) + " needs " + std::to_string(t.bytes()));
  }
  if (t.bytes()) std::memcpy(t.raw(), bytes.data() + data_off, t.bytes());
  return t;
}

absl::StatusOr<std::string> SerializeNpy(const Tensor& t) {
  if (!t.is_plain()) return absl::InvalidArgumentError("cannot write a tensor in a backend layout");
  const char* descr = nullptr;
  for (const Descr& d : kDescrs) {
    if (d.type == t.dtype()) descr = d.text;
  }
  std::string shape;
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.rank() > 1) shape.resize(shape.size() - 2);
  if (t.rank() == 1) shape.pop_back();
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kMagic, 6);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.bytes());
  return out;
}

}  // namespace imagen::engine
