// Static memory planning for a model's runs, in the manner of TFLite's arena
// planner: the first run with a given sequence of buffer requests records each
// buffer's size and lifetime; later runs that make the same requests get every
// buffer at a precomputed offset of one reused arena, so a steady-state run
// neither calls malloc nor touches fresh pages. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace imagen::engine {

// A plan: where each request of a run goes in an arena of `arena_bytes`.
struct MemoryPlan {
  std::vector<size_t> bytes;    // request k's size, in request order
  std::vector<size_t> offsets;  // request k's offset in the arena
  size_t arena_bytes = 0;
};

// One recorded request: its size and the interval of events during which the
// buffer was in use (end == SIZE_MAX: never returned during the run).
struct BufferLifetime {
  size_t bytes = 0;
  size_t start = 0;
  size_t end = SIZE_MAX;
};

// Places buffers greedily, largest first, at the lowest offset that does not
// overlap a placed buffer whose lifetime overlaps (64-byte aligned offsets).
MemoryPlan PlanMemory(const std::vector<BufferLifetime>& buffers);

// What a model keeps between runs: the current plan and idle arenas.
class MemoryPlanner {
 public:
  // The plan in force, or null before the first recorded run.
  std::shared_ptr<const MemoryPlan> plan() const;
  // Replaces the plan (after a run whose requests did not follow it) and
  // readies one arena for it.
  void SetPlan(std::shared_ptr<const MemoryPlan> plan);

  // An idle arena of exactly the plan's size that no tensor refers to any
  // more, or a new one.
  std::shared_ptr<char> TakeArena(const MemoryPlan& plan);
  // Keeps the arena for the next run (at most a few are kept).
  void ReturnArena(std::shared_ptr<char> arena, size_t bytes);

 private:
  static std::shared_ptr<char> NewArena(const MemoryPlan& plan);

  struct Arena {
    std::shared_ptr<char> memory;
    size_t bytes;
  };
  mutable std::mutex mu_;
  std::shared_ptr<const MemoryPlan> plan_;
  std::vector<Arena> idle_;
};

}  // namespace imagen::engine
