#include "engine/onnx_importer.h"

#include <cstring>
#include <set>

#include "common/status_macros.h"
#include "engine/half.h"
#include "onnx/onnx_pb.h"

namespace imagen::engine {
namespace {

absl::StatusOr<DataType> FromOnnxType(int type, const std::string& what) {
  switch (type) {
    case onnx::TensorProto::FLOAT:
      return DataType::kFloat32;
    case onnx::TensorProto::FLOAT16:
      return DataType::kFloat16;
    case onnx::TensorProto::INT8:
      return DataType::kInt8;
    case onnx::TensorProto::UINT8:
      return DataType::kUInt8;
    case onnx::TensorProto::INT32:
      return DataType::kInt32;
    case onnx::TensorProto::INT64:
      return DataType::kInt64;
    case onnx::TensorProto::BOOL:
      return DataType::kBool;
    default:
      return absl::UnimplementedError(what + ": unsupported element type " +
                                      onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(type)));
  }
}

absl::StatusOr<Tensor> FromTensorProto(const onnx::TensorProto& p) {
  const std::string what = "tensor '" + p.name() + "'";
  ASSIGN_OR_RETURN(DataType type, FromOnnxType(p.data_type(), what));
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    return absl::UnimplementedError(what + ": external data is not supported");
  }
  Shape shape(p.dims().begin(), p.dims().end());
  // The element count, checked before anything is allocated: a model file
  // may declare any dims, and the data it carries is what bounds them.
  // A zero dim makes the tensor empty, but the other dims must still have a
  // representable product (the tensor code multiplies them all).
  int64_t nonzero = 1;
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return absl::InvalidArgumentError(what + ": negative dimension");
    if (d == 0) n = 0;
    if (d != 0 && __builtin_mul_overflow(nonzero, d, &nonzero)) {
      return absl::InvalidArgumentError(what + ": shape " + ShapeToString(shape) + " overflows");
    }
  }
  if (n != 0) n = static_cast<uint64_t>(nonzero);
  const uint64_t element_size = DataTypeSize(type);
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(n, element_size, &bytes)) {
    return absl::InvalidArgumentError(what + ": shape " + ShapeToString(shape) + " overflows");
  }
  auto check = [&](uint64_t have) -> absl::Status {
    if (have != n) {
      return absl::InvalidArgumentError(what + ": has " + std::to_string(have) + " values, shape " +
                                        ShapeToString(shape) + " needs " + std::to_string(n));
    }
    return absl::OkStatus();
  };
  if (p.has_raw_data()) {
    if (p.raw_data().size() != bytes) {
      return absl::InvalidArgumentError(what + ": raw_data has " + std::to_string(p.raw_data().size()) +
                                        " bytes, shape " + ShapeToString(shape) + " needs " + std::to_string(bytes));
    }
  } else {
    switch (type) {
      case DataType::kFloat32:
        RETURN_IF_ERROR(check(static_cast<uint64_t>(p.float_data_size())));
        break;
      case DataType::kInt64:
        RETURN_IF_ERROR(check(static_cast<uint64_t>(p.int64_data_size())));
        break;
      default:
        RETURN_IF_ERROR(check(static_cast<uint64_t>(p.int32_data_size())));
        break;
    }
  }
  Tensor t(type, shape);
  if (p.has_raw_data()) {
    if (n) std::memcpy(t.raw(), p.raw_data().data(), t.bytes());
    return t;
  }
  switch (type) {
    case DataType::kFloat32:
      std::copy(p.float_data().begin(), p.float_data().end(), t.data<float>());
      break;
    case DataType::kInt64:
      std::copy(p.int64_data().begin(), p.int64_data().end(), t.data<int64_t>());
      break;
    case DataType::kInt32:
      std::copy(p.int32_data().begin(), p.int32_data().end(), t.data<int32_t>());
      break;
    case DataType::kFloat16:
      for (size_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = static_cast<uint16_t>(p.int32_data(static_cast<int>(i)));
      break;
    case DataType::kInt8:
    case DataType::kUInt8:
    case DataType::kBool:
      for (size_t i = 0; i < n; ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(p.int32_data(static_cast<int>(i)));
      break;
  }
  return t;
}

Tensor WidenHalf(const Tensor& h) {
  Tensor f = Tensor::Uninitialized(DataType::kFloat32, h.shape());
  for (int64_t i = 0; i < h.size(); ++i) f.data<float>()[i] = HalfToFloat(h.data<uint16_t>()[i]);
  return f;
}

absl::Status ReadValueInfo(const onnx::ValueInfoProto& info, Value& v) {
  if (!info.has_type()) return absl::OkStatus();
  if (!info.type().has_tensor_type()) {
    return absl::UnimplementedError("value '" + info.name() + "': only tensor types are supported");
  }
  const auto& tt = info.type().tensor_type();
  ASSIGN_OR_RETURN(v.dtype, FromOnnxType(tt.elem_type(), "value '" + info.name() + "'"));
  v.dtype_known = true;
  if (tt.has_shape()) {
    Shape s;
    for (const auto& d : tt.shape().dim()) s.push_back(d.has_dim_value() ? d.dim_value() : -1);
    v.shape = s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Attribute> ReadAttribute(const onnx::AttributeProto& a) {
  switch (a.type()) {
    case onnx::AttributeProto::INT:
      return Attribute(static_cast<int64_t>(a.i()));
    case onnx::AttributeProto::FLOAT:
      return Attribute(a.f());
    case onnx::AttributeProto::STRING:
      return Attribute(a.s());
    case onnx::AttributeProto::INTS:
      return Attribute(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case onnx::AttributeProto::FLOATS:
      return Attribute(std::vector<float>(a.floats().begin(), a.floats().end()));
    case onnx::AttributeProto::STRINGS:
      return Attribute(std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case onnx::AttributeProto::TENSOR: {
      ASSIGN_OR_RETURN(Tensor t, FromTensorProto(a.t()));
      return Attribute(std::move(t));
    }
    default:
      return absl::UnimplementedError("attribute '" + a.name() + "' has an unsupported type (" +
                                      onnx::AttributeProto::AttributeType_Name(a.type()) + ")");
  }
}

}  // namespace

absl::StatusOr<Tensor> ParseOnnxTensor(const std::string& bytes, std::string* name) {
  onnx::TensorProto p;
  if (!p.ParseFromString(bytes)) return absl::InvalidArgumentError("not a valid ONNX TensorProto");
  if (name) *name = p.name();
  return FromTensorProto(p);
}

absl::StatusOr<Graph> ImportOnnx(const std::string& bytes) {
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes)) {
    return absl::InvalidArgumentError("not a valid ONNX model (truncated or corrupt protobuf)");
  }
  if (!model.has_graph()) return absl::InvalidArgumentError("ONNX model has no graph");
  Graph g;
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
  }
  const onnx::GraphProto& gp = model.graph();
  // Faster lookup while importing large graphs.
  std::map<std::string, ValueId> ids;
  auto id_of = [&](const std::string& name) {
    auto it = ids.find(name);
    if (it != ids.end()) return it->second;
    ValueId id = g.AddValue(name);
    ids[name] = id;
    return id;
  };

  for (const auto& init : gp.initializer()) {
    absl::StatusOr<Tensor> t = FromTensorProto(init);
    if (!t.ok()) return absl::Status(t.status().code(), "initializer: " + std::string(t.status().message()));
    ValueId id = id_of(init.name());
    Tensor w = t->dtype() == DataType::kFloat16 ? WidenHalf(*t) : *std::move(t);
    g.values[static_cast<size_t>(id)].dtype = w.dtype();
    g.values[static_cast<size_t>(id)].dtype_known = true;
    g.values[static_cast<size_t>(id)].shape = w.shape();
    g.initializers[id] = std::move(w);
  }
  for (const auto& in : gp.input()) {
    ValueId id = id_of(in.name());
    if (g.IsConstant(id)) continue;  // an initializer listed as input: a constant
    RETURN_IF_ERROR(ReadValueInfo(in, g.values[static_cast<size_t>(id)]));
    g.inputs.push_back(id);
  }
  for (const auto& vi : gp.value_info()) {
    ValueId id = id_of(vi.name());
    if (!g.IsConstant(id)) (void)ReadValueInfo(vi, g.values[static_cast<size_t>(id)]);
  }
  std::set<std::string> names;
  for (int i = 0; i < gp.node_size(); ++i) {
    const onnx::NodeProto& np = gp.node(i);
    Node node;
    node.name = np.name().empty() ? np.op_type() + "_" + std::to_string(i) : np.name();
    if (!names.insert(node.name).second) node.name += "_" + std::to_string(i);
    node.op_type = np.op_type();
    node.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    if (!node.domain.empty()) {
      return absl::UnimplementedError("node '" + node.name + "': unsupported op domain '" + node.domain + "' (" +
                                      node.op_type + ")");
    }
    for (const std::string& in : np.input()) node.inputs.push_back(in.empty() ? kNoValue : id_of(in));
    for (const std::string& out : np.output()) node.outputs.push_back(out.empty() ? kNoValue : id_of(out));
    for (const auto& a : np.attribute()) {
      absl::StatusOr<Attribute> attr = ReadAttribute(a);
      if (!attr.ok()) {
        return absl::Status(attr.status().code(),
                            "node '" + node.name + "' (" + node.op_type + "): " + std::string(attr.status().message()));
      }
      node.attrs.Set(a.name(), *std::move(attr));
    }
    g.nodes.push_back(std::move(node));
  }
  for (const auto& out : gp.output()) {
    ValueId id = id_of(out.name());
    RETURN_IF_ERROR(ReadValueInfo(out, g.values[static_cast<size_t>(id)]));
    g.outputs.push_back(id);
  }
  if (g.outputs.empty()) return absl::InvalidArgumentError("ONNX graph has no outputs");
  return g;
}

}  // namespace imagen::engine

namespace imagen::engine {

absl::StatusOr<std::vector<std::string>> OnnxOpTypes(const std::string& bytes) {
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes)) {
    return absl::InvalidArgumentError("not a valid ONNX model (truncated or corrupt protobuf)");
  }
  std::set<std::string> ops;
  for (const auto& n : model.graph().node()) {
    const bool std_domain = n.domain().empty() || n.domain() == "ai.onnx";
    ops.insert(std_domain ? n.op_type() : n.domain() + ":" + n.op_type());
  }
  return std::vector<std::string>(ops.begin(), ops.end());
}

}  // namespace imagen::engine
