// The interface every op implementation follows, in ncnn's lifecycle: a
// KernelFactory creates a Kernel once per node at load (from the node's
// attributes and constant inputs such as weights), then Forward() runs it.
// Forward is const and may be called from many threads at once; per-run
// state lives in the RunContext.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "engine/memory_plan.h"
#include "engine/tensor.h"

namespace imagen::engine {

class ConvTuner;  // conv_tuning.h

// Which kernel family implements an op. A GPU backend (cuDNN) is a later
// addition: it registers under kCuda and the executor does not change.
enum class Backend { kReference, kDnnl, kCuda };
std::string_view BackendName(Backend backend);

// Numeric mode of a model. kExact: fp32 everywhere (matches the references
// within 1e-3 on real models). kFast (the default): kernels may use Winograd,
// bf16 or int8 where their error stays within the documented budget.
enum class Precision { kFast, kExact };

// Per-run scratch: a buffer pool fed by the executor's liveness analysis and
// the thread budget. One RunContext per Model::Run; not shared across threads.
// With a MemoryPlanner, requests that follow the model's plan are served from
// one reused arena (memory_plan.h) and each run's requests are recorded so a
// plan can be made or remade.
class RunContext {
 public:
  explicit RunContext(int threads, MemoryPlanner* planner = nullptr);
  ~RunContext();
  RunContext(const RunContext&) = delete;
  RunContext& operator=(const RunContext&) = delete;

  int threads() const { return threads_; }
  // A plain tensor with unspecified contents, reusing a released buffer of
  // sufficient size when one exists.
  Tensor Allocate(DataType type, const Shape& shape);
  // Like Allocate but zero-filled.
  Tensor AllocateZeroed(DataType type, const Shape& shape);
  // Raw bytes (64-byte aligned, unspecified contents) from the pool, for a
  // kernel's temporaries or a tensor in a backend layout.
  std::shared_ptr<void> Scratch(size_t bytes);
  // Returns a dead tensor's buffer to the pool if nothing else refers to it
  // (the pool keeps at most kMaxPooledBytes; the oldest blocks beyond it are
  // freed).
  void Release(Tensor&& t);
  // Returns a Scratch buffer of `bytes` bytes once the caller is done with it.
  void Recycle(std::shared_ptr<void> buffer, size_t bytes);
  // True when `p` points into this run's planned arena: such memory is reused
  // by the next run, so whatever leaves the run must be copied out of it.
  bool InArena(const void* p) const;

  size_t pooled_bytes() const { return pooled_bytes_; }

 private:
  struct Block {
    size_t bytes;
    std::shared_ptr<void> buffer;
  };
  std::shared_ptr<void> Take(size_t bytes);
  std::shared_ptr<void> TakeFromPlanOrPool(size_t bytes);

  static constexpr size_t kMaxPooledBytes = 128 << 20;

  int threads_;
  std::vector<Block> free_;
  size_t pooled_bytes_ = 0;

  MemoryPlanner* planner_;
  std::shared_ptr<const MemoryPlan> plan_;
  std::shared_ptr<char> arena_;
  bool diverged_ = false;  // a request left the plan: the rest come from the pool
  size_t events_ = 0;
  std::vector<BufferLifetime> trace_;
  std::unordered_map<const void*, size_t> request_of_;  // buffer → its latest request
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // `inputs` follow the node's inputs (an empty Tensor for an absent optional
  // one); `outputs` has one slot per node output, to be filled. Inputs are
  // plain unless AcceptsOpaqueLayout().
  virtual absl::Status Forward(std::span<const Tensor> inputs, std::span<Tensor> outputs, RunContext& ctx) const = 0;
  // A kernel that can read tensors in a backend layout (e.g. oneDNN blocked)
  // says so; the executor then passes such tensors through unconverted.
  virtual bool AcceptsOpaqueLayout() const { return false; }
};

// What a factory sees when creating a kernel for a node.
struct KernelInit {
  const Node& node;
  // Valid only during the factory call (do not keep references to it).
  const Graph& graph;
  // One entry per node input: the constant tensor (weights, folded shapes)
  // when the input is constant, else nullptr.
  std::vector<const Tensor*> constants;
  Precision precision = Precision::kFast;
  int threads = 1;
  // Chooses between kernels by measurement (conv_tuning.h); nullptr:
  // ConvTuner::Default().
  ConvTuner* conv_tuner = nullptr;

  const Tensor* constant(size_t i) const { return i < constants.size() ? constants[i] : nullptr; }
};

// Creates a kernel for the node, or returns a status: kUnimplemented means
// "this backend declines this node" (e.g. an attribute it does not support)
// and the registry falls back to the next backend; any other error is a
// model error and is reported with the node's name.
using KernelFactory = std::function<absl::StatusOr<std::unique_ptr<Kernel>>(const KernelInit&)>;

// Registry of op implementations by (op type, backend). Registration happens
// once, at first use of Global(), from RegisterAllKernels() in backends.cc.
// Thread-safe after that (read-only).
class KernelRegistry {
 public:
  static const KernelRegistry& Global();

  void Register(const std::string& op_type, Backend backend, KernelFactory factory);
  // Creates the kernel from the first backend in `order` that has the op and
  // accepts the node.
  absl::StatusOr<std::unique_ptr<Kernel>> Create(const KernelInit& init, std::span<const Backend> order) const;
  bool Has(const std::string& op_type, Backend backend) const;
  // Op types registered for a backend, sorted.
  std::vector<std::string> Ops(Backend backend) const;

 private:
  struct Entry {
    std::string op_type;
    Backend backend;
    KernelFactory factory;
  };
  std::vector<Entry> entries_;
};

// Called once to fill the global registry; each backend adds one line there.
void RegisterAllKernels(KernelRegistry& registry);
// Per backend (reference_ops.cc, dnnl_*.cc).
void RegisterReferenceKernels(KernelRegistry& registry);

}  // namespace imagen::engine
