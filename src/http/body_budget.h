// A per-server budget of request body bytes buffered in memory across all
// connections, so that many concurrent uploads cannot exhaust memory before a
// handler sees them. A Lease holds one request's share and returns it when
// destroyed. Budget is thread-safe; a Lease belongs to one connection.
#pragma once

#include <atomic>
#include <cstdint>

namespace imagen::http {

class BodyBudget {
 public:
  explicit BodyBudget(uint64_t limit) : limit_(limit) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  // Takes `n` bytes if they fit under the limit; false (taking nothing) if not.
  bool TryTake(uint64_t n) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ || used > limit_ - n) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void Give(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

  class Lease {
   public:
    explicit Lease(BodyBudget* budget) : budget_(budget) {}
    ~Lease() { Reset(); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    // Grows this lease to hold `total` bytes; false (unchanged) if the budget
    // has no room. Never shrinks.
    bool GrowTo(uint64_t total) {
      if (total <= held_) return true;
      if (!budget_->TryTake(total - held_)) return false;
      held_ = total;
      return true;
    }
    void Reset() {
      if (held_ > 0) budget_->Give(held_);
      held_ = 0;
    }
    uint64_t held() const { return held_; }

   private:
    BodyBudget* budget_;
    uint64_t held_ = 0;
  };

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace imagen::http
