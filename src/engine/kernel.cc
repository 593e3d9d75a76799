#include "engine/kernel.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>

namespace imagen::engine {

std::string_view BackendName(Backend backend) {
  switch (backend) {
    case Backend::kReference:
      return "reference";
    case Backend::kDnnl:
      return "dnnl";
    case Backend::kCuda:
      return "cuda";
  }
  return "?";
}

RunContext::RunContext(int threads, MemoryPlanner* planner) : threads_(threads), planner_(planner) {
  if (planner_ == nullptr) return;
  plan_ = planner_->plan();
  if (plan_ == nullptr) return;
  arena_ = planner_->TakeArena(*plan_);
}

RunContext::~RunContext() {
  if (planner_ == nullptr) return;
  if (plan_ == nullptr || diverged_) {
    free_.clear();  // the pool goes before the arena comes
    planner_->SetPlan(std::make_shared<const MemoryPlan>(PlanMemory(trace_)));
  } else {
    planner_->ReturnArena(std::move(arena_), plan_->arena_bytes);
  }
}

bool RunContext::InArena(const void* p) const {
  const char* c = static_cast<const char*>(p);
  return arena_ != nullptr && c >= arena_.get() && c < arena_.get() + plan_->arena_bytes;
}

std::shared_ptr<void> RunContext::Take(size_t bytes) {
  std::shared_ptr<void> b = TakeFromPlanOrPool(bytes);
  if (planner_ != nullptr) {
    request_of_[b.get()] = trace_.size();
    trace_.push_back(BufferLifetime{bytes, events_++, SIZE_MAX});
  }
  return b;
}

std::shared_ptr<void> RunContext::TakeFromPlanOrPool(size_t bytes) {
  if (plan_ != nullptr && !diverged_) {
    const size_t k = trace_.size();
    if (k < plan_->bytes.size() && plan_->bytes[k] == bytes) {
      return std::shared_ptr<void>(arena_, arena_.get() + plan_->offsets[k]);
    }
    diverged_ = true;  // a request the plan did not foresee: re-plan after this run
  }
  // Best fit among pooled blocks that are large enough but not wastefully so.
  size_t best = free_.size();
  for (size_t i = 0; i < free_.size(); ++i) {
    if (free_[i].bytes >= bytes && free_[i].bytes <= 2 * bytes + 4096 &&
        (best == free_.size() || free_[i].bytes < free_[best].bytes)) {
      best = i;
    }
  }
  if (best < free_.size()) {
    std::shared_ptr<void> b = std::move(free_[best].buffer);
    pooled_bytes_ -= free_[best].bytes;
    free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
    return b;
  }
  return AlignedAlloc(bytes);
}

Tensor RunContext::Allocate(DataType type, const Shape& shape) {
  const std::optional<size_t> checked = CheckedByteSize(type, shape);
  if (!checked) throw std::bad_alloc();
  const size_t bytes = *checked;
  std::shared_ptr<void> b = Take(bytes);
  void* data = b.get();
  return Tensor::Wrap(type, shape, data, std::move(b));
}

Tensor RunContext::AllocateZeroed(DataType type, const Shape& shape) {
  Tensor t = Allocate(type, shape);
  if (t.bytes()) std::memset(t.raw(), 0, t.bytes());
  return t;
}

std::shared_ptr<void> RunContext::Scratch(size_t bytes) { return Take(bytes); }

void RunContext::Release(Tensor&& value) {
  // The caller's reference is always dropped; the buffer is pooled only when
  // this was its last user and the tensor spans the whole buffer (plain or in
  // a backend layout).
  Tensor t = std::move(value);
  value = Tensor();
  if (!t.unique() || t.raw() != t.buffer().get()) return;
  std::shared_ptr<void> buffer = t.buffer();
  const size_t bytes = t.bytes();
  t = Tensor();
  Recycle(std::move(buffer), bytes);
}

void RunContext::Recycle(std::shared_ptr<void> buffer, size_t bytes) {
  if (buffer == nullptr || buffer.use_count() != 1) return;
  if (planner_ != nullptr) {
    if (auto it = request_of_.find(buffer.get()); it != request_of_.end()) {
      trace_[it->second].end = events_++;
      request_of_.erase(it);
    }
    // Arena memory is reused only where the plan says so.
    if (InArena(buffer.get())) return;
  }
  // Only a bounded amount of free memory is kept for reuse: the oldest dead
  // buffers beyond it go back to the allocator, so the peak stays close to
  // the live set (measured on ISNet medium: an unbounded pool doubled it).
  if (bytes > kMaxPooledBytes) return;
  while (!free_.empty() && pooled_bytes_ + bytes > kMaxPooledBytes) {
    pooled_bytes_ -= free_.front().bytes;
    free_.erase(free_.begin());
  }
  free_.push_back(Block{bytes, std::move(buffer)});
  pooled_bytes_ += bytes;
}

void KernelRegistry::Register(const std::string& op_type, Backend backend, KernelFactory factory) {
  entries_.push_back(Entry{op_type, backend, std::move(factory)});
}

const KernelRegistry& KernelRegistry::Global() {
  static const KernelRegistry* registry = [] {
    auto* r = new KernelRegistry();
    RegisterAllKernels(*r);
    return r;
  }();
  return *registry;
}

absl::StatusOr<std::unique_ptr<Kernel>> KernelRegistry::Create(const KernelInit& init,
                                                               std::span<const Backend> order) const {
  bool known = false;
  for (Backend backend : order) {
    for (const Entry& e : entries_) {
      if (e.backend != backend || e.op_type != init.node.op_type) continue;
      known = true;
      absl::StatusOr<std::unique_ptr<Kernel>> k = e.factory(init);
      if (k.ok()) return k;
      if (k.status().code() != absl::StatusCode::kUnimplemented) {
        return absl::Status(k.status().code(), "node '" + init.node.name + "' (" + init.node.op_type +
                                                   "): " + std::string(k.status().message()));
      }
    }
  }
  if (!known) {
    return absl::UnimplementedError("node '" + init.node.name + "': unsupported op '" +
                                    (init.node.domain.empty() ? "" : init.node.domain + ":") + init.node.op_type + "'");
  }
  return absl::UnimplementedError("node '" + init.node.name + "' (" + init.node.op_type +
                                  "): no backend supports its attributes or inputs");
}

bool KernelRegistry::Has(const std::string& op_type, Backend backend) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.op_type == op_type && e.backend == backend; });
}

std::vector<std::string> KernelRegistry::Ops(Backend backend) const {
  std::vector<std::string> ops;
  for (const Entry& e : entries_) {
    if (e.backend == backend) ops.push_back(e.op_type);
  }
  std::sort(ops.begin(), ops.end());
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  return ops;
}

}  // namespace imagen::engine
