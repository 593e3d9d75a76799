#include "engine/graph.h"

#include <set>

namespace imagen::engine {
namespace {

template <typename T>
absl::StatusOr<T> Get(const std::map<std::string, Attribute>& map, const std::string& name, std::optional<T> def,
                      const char* type_name) {
  auto it = map.find(name);
  if (it == map.end()) {
    if (def) return *def;
    return absl::InvalidArgumentError("missing required attribute '" + name + "'");
  }
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  return absl::InvalidArgumentError("attribute '" + name + "' is not of type " + type_name);
}

}  // namespace

absl::StatusOr<int64_t> Attributes::GetInt(const std::string& name, std::optional<int64_t> def) const {
  return Get<int64_t>(map_, name, def, "INT");
}
absl::StatusOr<float> Attributes::GetFloat(const std::string& name, std::optional<float> def) const {
  return Get<float>(map_, name, def, "FLOAT");
}
absl::StatusOr<std::string> Attributes::GetString(const std::string& name, std::optional<std::string> def) const {
  return Get<std::string>(map_, name, std::move(def), "STRING");
}
absl::StatusOr<std::vector<int64_t>> Attributes::GetInts(const std::string& name,
                                                         std::optional<std::vector<int64_t>> def) const {
  return Get<std::vector<int64_t>>(map_, name, std::move(def), "INTS");
}
absl::StatusOr<std::vector<float>> Attributes::GetFloats(const std::string& name,
                                                         std::optional<std::vector<float>> def) const {
  return Get<std::vector<float>>(map_, name, std::move(def), "FLOATS");
}
absl::StatusOr<Tensor> Attributes::GetTensor(const std::string& name) const {
  return Get<Tensor>(map_, name, std::nullopt, "TENSOR");
}

ValueId Graph::AddValue(std::string name) {
  values.push_back(Value{std::move(name), DataType::kFloat32, false, std::nullopt});
  return static_cast<ValueId>(values.size() - 1);
}

ValueId Graph::FindValue(const std::string& name) const {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == name) return static_cast<ValueId>(i);
  }
  return kNoValue;
}

absl::Status Graph::TopoSort() {
  std::vector<char> ready(values.size(), 0);
  for (ValueId id : inputs) ready[static_cast<size_t>(id)] = 1;
  for (const auto& [id, t] : initializers) ready[static_cast<size_t>(id)] = 1;
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  std::vector<char> done(nodes.size(), 0);
  bool progress = true;
  while (sorted.size() < nodes.size() && progress) {
    progress = false;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (done[i]) continue;
      bool ok = true;
      for (ValueId in : nodes[i].inputs) {
        if (in != kNoValue && !ready[static_cast<size_t>(in)]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      for (ValueId out : nodes[i].outputs) {
        if (out != kNoValue) ready[static_cast<size_t>(out)] = 1;
      }
      done[i] = 1;
      sorted.push_back(std::move(nodes[i]));
      progress = true;
    }
  }
  if (sorted.size() < nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (done[i]) continue;
      for (ValueId in : nodes[i].inputs) {
        if (in != kNoValue && !ready[static_cast<size_t>(in)]) {
          return absl::InvalidArgumentError("node '" + nodes[i].name + "' (" + nodes[i].op_type + "): input '" +
                                            values[static_cast<size_t>(in)].name +
                                            "' is produced by no node, initializer or graph input (or a cycle)");
        }
      }
    }
    return absl::InvalidArgumentError("graph has a cycle");
  }
  nodes = std::move(sorted);
  return absl::OkStatus();
}

void Graph::RemoveDeadNodes() {
  std::vector<char> live(values.size(), 0);
  for (ValueId id : outputs) live[static_cast<size_t>(id)] = 1;
  std::vector<Node> kept;
  for (size_t i = nodes.size(); i-- > 0;) {
    bool needed = false;
    for (ValueId out : nodes[i].outputs) needed |= out != kNoValue && live[static_cast<size_t>(out)];
    if (!needed) continue;
    for (ValueId in : nodes[i].inputs) {
      if (in != kNoValue) live[static_cast<size_t>(in)] = 1;
    }
    kept.push_back(std::move(nodes[i]));
  }
  nodes.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
  for (auto it = initializers.begin(); it != initializers.end();) {
    it = live[static_cast<size_t>(it->first)] ? std::next(it) : initializers.erase(it);
  }
}

}  // namespace imagen::engine
