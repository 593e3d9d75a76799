// Clock seam: every component that reads time or waits takes a Clock*, so
// tests drive time with FakeClock instead of sleeping. Implementations are
// thread-safe.
#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace imagen {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Monotonic microseconds, for durations.
  virtual int64_t NowMicros() const = 0;
  virtual void SleepFor(absl::Duration d) = 0;

  // The process-wide real clock. Never deleted.
  static Clock* Real();
};

// A clock that moves only when told to. SleepFor advances it immediately.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}

  absl::Time Now() const override;
  int64_t NowMicros() const override;
  void SleepFor(absl::Duration d) override { Advance(d); }
  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace imagen
