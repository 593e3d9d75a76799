// The executor: compiles a Graph into one kernel per node (choosing the
// backend per ModelOptions), plans buffer reuse by liveness, and runs it.
// A compiled model is immutable; Run is thread-safe (each run owns a
// RunContext with its own buffer pool).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "engine/kernel.h"

namespace imagen::engine {

class CompiledModel : public Model {
 public:
  static absl::StatusOr<std::shared_ptr<const CompiledModel>> Compile(Graph graph, const ModelOptions& options);

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  absl::StatusOr<std::vector<NamedTensor>> Run(const std::vector<NamedTensor>& inputs) const override;
  const Graph& graph() const override { return graph_; }
  std::vector<std::string> Describe() const override;

 private:
  struct Step {
    std::unique_ptr<Kernel> kernel;
    Backend backend = Backend::kReference;
    // Values whose last reader is this step (released after it).
    std::vector<ValueId> release;
  };
  absl::Status CheckInput(const TensorInfo& info, const Tensor& t) const;

  Graph graph_;
  ModelOptions options_;
  int threads_ = 1;
  std::vector<Step> steps_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  mutable MemoryPlanner planner_;  // activation memory reused between runs
};

}  // namespace imagen::engine
