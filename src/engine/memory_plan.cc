#include "engine/memory_plan.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "engine/tensor.h"

namespace imagen::engine {

MemoryPlan PlanMemory(const std::vector<BufferLifetime>& buffers) {
  MemoryPlan plan;
  const size_t n = buffers.size();
  plan.bytes.resize(n);
  plan.offsets.assign(n, 0);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });
  std::vector<size_t> placed;
  for (size_t k : order) {
    const BufferLifetime& b = buffers[k];
    plan.bytes[k] = b.bytes;
    const size_t size = (std::max<size_t>(b.bytes, 1) + 63) / 64 * 64;
    // Address ranges taken by placed buffers alive at the same time.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed) {
      const BufferLifetime& o = buffers[j];
      if (o.start < b.end && b.start < o.end) {
        busy.emplace_back(plan.offsets[j], plan.offsets[j] + (std::max<size_t>(o.bytes, 1) + 63) / 64 * 64);
      }
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [lo, hi] : busy) {
      if (offset + size <= lo) break;
      offset = std::max(offset, hi);
    }
    plan.offsets[k] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
    placed.push_back(k);
  }
  return plan;
}

std::shared_ptr<const MemoryPlan> MemoryPlanner::plan() const {
  std::lock_guard<std::mutex> lock(mu_);
  return plan_;
}

void MemoryPlanner::SetPlan(std::shared_ptr<const MemoryPlan> plan) {
  // One arena, its pages touched now, so that the next run is already a
  // steady-state run.
  std::shared_ptr<char> arena = plan ? NewArena(*plan) : nullptr;
  if (arena != nullptr) std::memset(arena.get(), 0, plan->arena_bytes);
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
  if (arena != nullptr) idle_.push_back(Arena{std::move(arena), plan->arena_bytes});
  plan_ = std::move(plan);
}

std::shared_ptr<char> MemoryPlanner::NewArena(const MemoryPlan& plan) {
  return std::static_pointer_cast<char>(AlignedAlloc(plan.arena_bytes));
}

std::shared_ptr<char> MemoryPlanner::TakeArena(const MemoryPlan& plan) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < idle_.size(); ++i) {
      // use_count 1: no tensor of an earlier run still points into it.
      if (idle_[i].bytes == plan.arena_bytes && idle_[i].memory.use_count() == 1) {
        std::shared_ptr<char> a = std::move(idle_[i].memory);
        idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
        return a;
      }
    }
  }
  return NewArena(plan);
}

void MemoryPlanner::ReturnArena(std::shared_ptr<char> arena, size_t bytes) {
  constexpr size_t kMaxIdle = 4;
  std::lock_guard<std::mutex> lock(mu_);
  if (plan_ == nullptr || plan_->arena_bytes != bytes || idle_.size() >= kMaxIdle) return;
  idle_.push_back(Arena{std::move(arena), bytes});
}

}  // namespace imagen::engine
