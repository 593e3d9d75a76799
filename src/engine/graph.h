// The engine's graph IR: values (typed, possibly symbolic shapes), nodes (op
// type + attributes, ONNX semantics), constant initializers and the graph's
// inputs and outputs. Importers build a Graph; passes rewrite it; the
// executor compiles it into kernels. A Graph is a plain value: not
// synchronised; a loaded model keeps its graph immutable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace imagen::engine {

// One node attribute, as in ONNX (INT, FLOAT, STRING, INTS, FLOATS, STRINGS, TENSOR).
using Attribute = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                               std::vector<std::string>, Tensor>;

class Attributes {
 public:
  void Set(const std::string& name, Attribute value) { map_[name] = std::move(value); }
  bool Has(const std::string& name) const { return map_.count(name) != 0; }
  const std::map<std::string, Attribute>& all() const { return map_; }

  // Typed getters: the default when absent; an error if present with another type.
  absl::StatusOr<int64_t> GetInt(const std::string& name, std::optional<int64_t> def = std::nullopt) const;
  absl::StatusOr<float> GetFloat(const std::string& name, std::optional<float> def = std::nullopt) const;
  absl::StatusOr<std::string> GetString(const std::string& name, std::optional<std::string> def = std::nullopt) const;
  absl::StatusOr<std::vector<int64_t>> GetInts(const std::string& name,
                                               std::optional<std::vector<int64_t>> def = std::nullopt) const;
  absl::StatusOr<std::vector<float>> GetFloats(const std::string& name,
                                               std::optional<std::vector<float>> def = std::nullopt) const;
  absl::StatusOr<Tensor> GetTensor(const std::string& name) const;

 private:
  std::map<std::string, Attribute> map_;
};

// Index of a Value in Graph::values; kNoValue marks an absent optional input.
using ValueId = int32_t;
inline constexpr ValueId kNoValue = -1;

struct Value {
  std::string name;
  DataType dtype = DataType::kFloat32;
  // Known element type? (False for intermediates the importer did not type.)
  bool dtype_known = false;
  // Static shape where known (-1 for symbolic dims); nullopt when unknown.
  std::optional<Shape> shape;
};

struct Node {
  std::string name;     // unique; importers synthesise one when the file has none
  std::string op_type;  // ONNX op name ("Conv"), or an engine-internal op
  std::string domain;   // "" for the default ONNX domain
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  Attributes attrs;
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;  // topologically sorted once a pass or loader calls TopoSort()
  // Constant tensors (weights and folded values), keyed by value id.
  std::map<ValueId, Tensor> initializers;
  std::vector<ValueId> inputs;  // runtime inputs (never initializers)
  std::vector<ValueId> outputs;
  int64_t opset = 0;  // default-domain opset of the source model (0 if not ONNX)

  // Adds a value; names must be unique (checked by Validate).
  ValueId AddValue(std::string name);
  // kNoValue if absent.
  ValueId FindValue(const std::string& name) const;
  bool IsConstant(ValueId id) const { return initializers.count(id) != 0; }

  // Sorts nodes so each runs after the producers of its inputs. Errors on
  // cycles or on inputs that nothing produces (naming the node).
  absl::Status TopoSort();
  // Drops nodes whose outputs do not reach a graph output, and unused initializers.
  void RemoveDeadNodes();
};

}  // namespace imagen::engine
