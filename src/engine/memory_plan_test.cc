// The arena planner: buffers alive at the same time never share bytes, dead
// ones are reused; and RunContext's record → replay → re-plan cycle.
#include "engine/memory_plan.h"

#include <random>

#include "engine/kernel.h"
#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

size_t Rounded(size_t b) { return (std::max<size_t>(b, 1) + 63) / 64 * 64; }

void ExpectNoConflict(const std::vector<BufferLifetime>& bufs, const MemoryPlan& plan) {
  ASSERT_EQ(plan.offsets.size(), bufs.size());
  for (size_t i = 0; i < bufs.size(); ++i) {
    EXPECT_EQ(plan.offsets[i] % 64, 0u);
    EXPECT_LE(plan.offsets[i] + Rounded(bufs[i].bytes), plan.arena_bytes);
    for (size_t j = i + 1; j < bufs.size(); ++j) {
      const bool live_together = bufs[i].start < bufs[j].end && bufs[j].start < bufs[i].end;
      const bool share_bytes = plan.offsets[i] < plan.offsets[j] + Rounded(bufs[j].bytes) &&
                               plan.offsets[j] < plan.offsets[i] + Rounded(bufs[i].bytes);
      EXPECT_FALSE(live_together && share_bytes) << "buffers " << i << " and " << j;
    }
  }
}

TEST(MemoryPlan, ReusesDeadBuffers) {
  // a chain: each buffer dies when the next-but-one is made
  const std::vector<BufferLifetime> bufs = {{1000, 0, 3}, {1000, 1, 5}, {1000, 2, 7}, {1000, 4, 9}, {1000, 6, 10}};
  const MemoryPlan plan = PlanMemory(bufs);
  ExpectNoConflict(bufs, plan);
  EXPECT_LE(plan.arena_bytes, 3 * Rounded(1000));  // at most three alive at once
}

TEST(MemoryPlan, RandomLifetimesNeverOverlap) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<BufferLifetime> bufs;
    size_t t = 0;
    for (int i = 0; i < 60; ++i) {
      BufferLifetime b{std::uniform_int_distribution<size_t>(1, 1 << 20)(rng), t++, SIZE_MAX};
      if (rng() % 5 != 0) b.end = b.start + 1 + rng() % 20;
      bufs.push_back(b);
    }
    ExpectNoConflict(bufs, PlanMemory(bufs));
  }
}

TEST(MemoryPlan, RunContextReplaysThePlanAndReplansOnChange) {
  MemoryPlanner planner;
  auto run = [&](const std::vector<size_t>& sizes, std::vector<void*>* ptrs, bool* in_arena) {
    RunContext ctx(1, &planner);
    std::shared_ptr<void> keep;
    *in_arena = true;
    for (size_t s : sizes) {
      std::shared_ptr<void> b = ctx.Scratch(s);
      ptrs->push_back(b.get());
      *in_arena = *in_arena && ctx.InArena(b.get());
      if (keep) ctx.Recycle(std::move(keep), s);
      keep = std::move(b);
    }
  };
  const std::vector<size_t> sizes = {4096, 8192, 4096, 8192};
  std::vector<void*> first, second, third;
  bool arena = false;
  run(sizes, &first, &arena);
  EXPECT_FALSE(arena);  // the first run records
  ASSERT_NE(planner.plan(), nullptr);
  EXPECT_LE(planner.plan()->arena_bytes, 2 * 8192u);
  run(sizes, &second, &arena);
  EXPECT_TRUE(arena);  // the second replays from one arena
  run({4096, 100000}, &third, &arena);
  EXPECT_FALSE(arena);  // a different request sequence falls off the plan...
  EXPECT_EQ(planner.plan()->bytes, (std::vector<size_t>{4096, 100000}));  // ...and is planned next
}

}  // namespace
}  // namespace imagen::engine
