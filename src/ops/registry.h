// The catalogue of operations, built once at start-up from one list and read
// by the API, the workers and the CLI. Register before sharing; lookups are
// then thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ops/operation.h"

namespace imagen::ops {

class OpRegistry {
 public:
  // Fails on a duplicate name or route.
  absl::Status Register(std::unique_ptr<Operation> op);
  // nullptr when unknown.
  const Operation* Find(const std::string& name) const;
  const Operation* FindByRoute(const std::string& route) const;
  std::vector<const Operation*> List() const;
  // NotFound naming the operation and listing the known ones.
  absl::StatusOr<const Operation*> Get(const std::string& name) const;
  // {"operations":[OpSpecToJson...]}
  nlohmann::json ToJson() const;

 private:
  std::vector<std::unique_ptr<Operation>> ops_;
};

}  // namespace imagen::ops
