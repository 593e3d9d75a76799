#include "engine/executor.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include "common/status_macros.h"
#include "engine/constant_folding.h"
#include "engine/passes_dequant.h"
#include "engine/passes_fusion.h"
#include "engine/passes_precision.h"

namespace imagen::engine {

absl::StatusOr<std::shared_ptr<const CompiledModel>> CompiledModel::Compile(Graph graph, const ModelOptions& options) {
  auto model = std::shared_ptr<CompiledModel>(new CompiledModel());
  model->options_ = options;
  model->threads_ = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (model->threads_ <= 0) model->threads_ = 1;
  RETURN_IF_ERROR(graph.TopoSort());
  RETURN_IF_ERROR(ComputeHalfInFloat(graph));  // fp16 activations run in fp32 (passes_precision.h)
  if (options.fold_constants) RETURN_IF_ERROR(FoldConstants(graph));
  RETURN_IF_ERROR(DequantizeConvInteger(
      graph, options.precision == Precision::kExact));  // int8 ConvInteger chains → fp32 Conv (passes_dequant.h)
  graph.RemoveDeadNodes();
  if (std::find(options.backends.begin(), options.backends.end(), Backend::kDnnl) != options.backends.end()) {
    RETURN_IF_ERROR(FuseConvPostOps(graph));  // oneDNN post-ops (passes_fusion.h)
  }

  for (ValueId id : graph.inputs) {
    const Value& v = graph.values[static_cast<size_t>(id)];
    model->inputs_.push_back(TensorInfo{v.name, v.dtype, v.shape.value_or(Shape{})});
  }
  for (ValueId id : graph.outputs) {
    const Value& v = graph.values[static_cast<size_t>(id)];
    model->outputs_.push_back(TensorInfo{v.name, v.dtype, v.shape.value_or(Shape{})});
  }

  std::vector<Backend> order = options.backends;
  if (std::find(order.begin(), order.end(), Backend::kReference) == order.end()) order.push_back(Backend::kReference);
  const KernelRegistry& registry = KernelRegistry::Global();

  // Liveness: the last step that reads each value.
  std::vector<int> last_use(graph.values.size(), -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (ValueId in : graph.nodes[i].inputs) {
      if (in != kNoValue) last_use[static_cast<size_t>(in)] = static_cast<int>(i);
    }
  }
  for (ValueId out : graph.outputs) last_use[static_cast<size_t>(out)] = static_cast<int>(graph.nodes.size());

  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    KernelInit init{node, graph, {}, options.precision, model->threads_, options.conv_tuner};
    for (ValueId in : node.inputs) {
      auto it = in == kNoValue ? graph.initializers.end() : graph.initializers.find(in);
      init.constants.push_back(it == graph.initializers.end() ? nullptr : &it->second);
    }
    Step step;
    for (Backend b : order) {
      const Backend one[] = {b};
      if (!registry.Has(node.op_type, b)) continue;
      absl::StatusOr<std::unique_ptr<Kernel>> k = registry.Create(init, one);
      if (k.ok()) {
        step.kernel = *std::move(k);
        step.backend = b;
        break;
      }
      if (k.status().code() != absl::StatusCode::kUnimplemented) return k.status();
    }
    if (!step.kernel) {
      ASSIGN_OR_RETURN(step.kernel, registry.Create(init, order));  // produces the error message
    }
    for (ValueId out : node.outputs) {
      if (out != kNoValue && last_use[static_cast<size_t>(out)] < 0) last_use[static_cast<size_t>(out)] = i;
    }
    model->steps_.push_back(std::move(step));
  }
  for (size_t v = 0; v < last_use.size(); ++v) {
    const int step = last_use[v];
    if (step >= 0 && step < static_cast<int>(model->steps_.size()) && !graph.IsConstant(static_cast<ValueId>(v))) {
      model->steps_[static_cast<size_t>(step)].release.push_back(static_cast<ValueId>(v));
    }
  }
  model->graph_ = std::move(graph);
  return std::shared_ptr<const CompiledModel>(std::move(model));
}

absl::Status CompiledModel::CheckInput(const TensorInfo& info, const Tensor& t) const {
  if (t.dtype() != info.dtype) {
    return absl::InvalidArgumentError("input '" + info.name + "': expected dtype " +
                                      std::string(DataTypeName(info.dtype)) + ", got " +
                                      std::string(DataTypeName(t.dtype())));
  }
  if (!t.is_plain()) return absl::InvalidArgumentError("input '" + info.name + "': not a plain tensor");
  if (!info.shape.empty() || t.rank() == 0) {
    bool ok = info.shape.size() == t.shape().size();
    for (size_t i = 0; ok && i < info.shape.size(); ++i) ok = info.shape[i] < 0 || info.shape[i] == t.shape()[i];
    if (!ok) {
      return absl::InvalidArgumentError("input '" + info.name + "': shape " + ShapeToString(t.shape()) +
                                        " does not match the model's " + ShapeToString(info.shape) + " (-1 = any)");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NamedTensor>> CompiledModel::Run(const std::vector<NamedTensor>& inputs) const {
  std::vector<Tensor> slots(graph_.values.size());
  for (const auto& [id, t] : graph_.initializers) slots[static_cast<size_t>(id)] = t;
  std::vector<char> given(inputs_.size(), 0);
  for (const NamedTensor& in : inputs) {
    size_t k = 0;
    while (k < inputs_.size() && inputs_[k].name != in.name) ++k;
    if (k == inputs_.size()) {
      std::string names;
      for (const TensorInfo& i : inputs_) names += (names.empty() ? "" : ", ") + i.name;
      return absl::InvalidArgumentError("unknown input '" + in.name + "' (the model's inputs: " + names + ")");
    }
    if (given[k]) return absl::InvalidArgumentError("input '" + in.name + "' given twice");
    given[k] = 1;
    RETURN_IF_ERROR(CheckInput(inputs_[k], in.tensor));
    slots[static_cast<size_t>(graph_.inputs[k])] = in.tensor;
  }
  for (size_t k = 0; k < inputs_.size(); ++k) {
    if (!given[k]) return absl::InvalidArgumentError("missing input '" + inputs_[k].name + "'");
  }

  omp_set_num_threads(threads_);
  RunContext ctx(threads_, &planner_);
  // IMAGEN_ENGINE_PROFILE=1 prints the time per op type and backend to stderr.
  static const bool profile = std::getenv("IMAGEN_ENGINE_PROFILE") != nullptr;
  std::map<std::string, std::pair<double, int>> spent;
  std::vector<Tensor> in_buf;
  std::vector<Tensor> out_buf;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Node& node = graph_.nodes[i];
    const Step& step = steps_[i];
    in_buf.assign(node.inputs.size(), Tensor());
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      const ValueId id = node.inputs[j];
      if (id == kNoValue) continue;
      const Tensor& t = slots[static_cast<size_t>(id)];
      if (!t.is_plain() && !step.kernel->AcceptsOpaqueLayout()) {
        ASSIGN_OR_RETURN(in_buf[j], ToPlain(t));
      } else {
        in_buf[j] = t;
      }
    }
    out_buf.assign(node.outputs.size(), Tensor());
    absl::Status st;
    const auto start = std::chrono::steady_clock::now();
    try {
      st = step.kernel->Forward(in_buf, out_buf, ctx);
    } catch (const std::bad_alloc&) {
      st = absl::ResourceExhaustedError("out of memory");
    } catch (const std::exception& e) {
      st = absl::InternalError(e.what());
    }
    if (!st.ok()) {
      return absl::Status(st.code(), "node '" + node.name + "' (" + node.op_type + "): " + std::string(st.message()));
    }
    if (profile) {
      auto& [ms, n] = spent[node.op_type + " " + std::string(BackendName(step.backend))];
      ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      ++n;
    }
    in_buf.clear();
    for (size_t j = 0; j < node.outputs.size(); ++j) {
      if (node.outputs[j] != kNoValue) slots[static_cast<size_t>(node.outputs[j])] = std::move(out_buf[j]);
    }
    for (ValueId id : step.release) ctx.Release(std::move(slots[static_cast<size_t>(id)]));
  }

  for (const auto& [what, v] : spent)
    std::fprintf(stderr, "profile %-28s %9.2f ms %5d calls\n", what.c_str(), v.first, v.second);
  std::vector<NamedTensor> result;
  for (size_t k = 0; k < graph_.outputs.size(); ++k) {
    ASSIGN_OR_RETURN(Tensor t, ToPlain(slots[static_cast<size_t>(graph_.outputs[k])]));
    if (ctx.InArena(t.raw())) t = t.Clone();  // the next run reuses the arena
    result.push_back(NamedTensor{outputs_[k].name, std::move(t)});
  }
  return result;
}

std::vector<std::string> CompiledModel::Describe() const {
  std::vector<std::string> lines;
  for (size_t i = 0; i < steps_.size(); ++i) {
    lines.push_back(graph_.nodes[i].name + " " + graph_.nodes[i].op_type + " " +
                    std::string(BackendName(steps_[i].backend)));
  }
  return lines;
}

}  // namespace imagen::engine
