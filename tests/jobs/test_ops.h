// Operations for the job platform's tests: they do real, checkable work
// without models. "copy" returns the input bytes; "flaky" fails with a
// chosen error for its first N runs, then copies; "gated" blocks until the
// test opens its gate. Thread-safe.
#pragma once

#include <atomic>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "ops/registry.h"

namespace imagen::jobs::testing {

class CopyOp : public ops::Operation {
 public:
  explicit CopyOp(std::string name = "copy") {
    spec_.name = name;
    spec_.route = "test/" + name;
    spec_.summary = "test: returns the input";
    spec_.params.push_back({.name = "level", .type = ops::ParamType::kInt, .default_value = "1", .min = 1, .max = 5});
  }
  const ops::OpSpec& spec() const override { return spec_; }
  absl::StatusOr<ops::ImageBlob> Run(const ops::ImageBlob& in, const ops::ParamValues&,
                                     const ops::OpContext& ctx) const override {
    runs.fetch_add(1);
    if (ctx.progress) ctx.progress(0.5);
    return in;
  }
  mutable std::atomic<int> runs{0};

 protected:
  ops::OpSpec spec_;
};

class FlakyOp : public CopyOp {
 public:
  FlakyOp(int failures, absl::Status error) : CopyOp("flaky"), failures_(failures), error_(std::move(error)) {}
  absl::StatusOr<ops::ImageBlob> Run(const ops::ImageBlob& in, const ops::ParamValues& p,
                                     const ops::OpContext& ctx) const override {
    if (attempts.fetch_add(1) < failures_) return error_;
    return CopyOp::Run(in, p, ctx);
  }
  mutable std::atomic<int> attempts{0};

 private:
  int failures_;
  absl::Status error_;
};

class GatedOp : public CopyOp {
 public:
  GatedOp() : CopyOp("gated") {}
  absl::StatusOr<ops::ImageBlob> Run(const ops::ImageBlob& in, const ops::ParamValues& p,
                                     const ops::OpContext& ctx) const override {
    started.fetch_add(1);
    absl::MutexLock lock(&mu_);
    while (!open_) {
      if (ctx.cancelled && ctx.cancelled()) return absl::CancelledError("canceled");
      mu_.AwaitWithTimeout(absl::Condition(&open_), absl::Milliseconds(5));
    }
    return CopyOp::Run(in, p, ctx);
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  mutable std::atomic<int> started{0};

 private:
  mutable absl::Mutex mu_;
  bool open_ = false;
};

}  // namespace imagen::jobs::testing
