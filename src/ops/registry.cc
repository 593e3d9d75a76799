#include "ops/registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace imagen::ops {

nlohmann::json OpSpecToJson(const OpSpec& spec) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : spec.params) params.push_back(ParamSpecToJson(p));
  return {{"name", spec.name},
          {"route", "/api/v1/images/" + spec.route},
          {"summary", spec.summary},
          {"models", spec.models},
          {"parameters", params}};
}

absl::Status OpRegistry::Register(std::unique_ptr<Operation> op) {
  const OpSpec& s = op->spec();
  if (Find(s.name) != nullptr)
    return absl::AlreadyExistsError(absl::StrCat("operation '", s.name, "' registered twice"));
  if (FindByRoute(s.route) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("route '", s.route, "' registered twice"));
  }
  ops_.push_back(std::move(op));
  return absl::OkStatus();
}

const Operation* OpRegistry::Find(const std::string& name) const {
  for (const auto& op : ops_) {
    if (op->spec().name == name) return op.get();
  }
  return nullptr;
}

const Operation* OpRegistry::FindByRoute(const std::string& route) const {
  for (const auto& op : ops_) {
    if (op->spec().route == route) return op.get();
  }
  return nullptr;
}

std::vector<const Operation*> OpRegistry::List() const {
  std::vector<const Operation*> out;
  for (const auto& op : ops_) out.push_back(op.get());
  return out;
}

absl::StatusOr<const Operation*> OpRegistry::Get(const std::string& name) const {
  if (const Operation* op = Find(name)) return op;
  std::vector<std::string> names;
  for (const auto& op : ops_) names.push_back(op->spec().name);
  return absl::NotFoundError(absl::StrCat("unknown operation '", name,
                                          "' (known: ", names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
}

nlohmann::json OpRegistry::ToJson() const {
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& op : ops_) ops.push_back(OpSpecToJson(op->spec()));
  return {{"operations", ops}};
}

}  // namespace imagen::ops
