#include "worker/diagnostic_ops.h"

#include <thread>

#include "absl/time/clock.h"

namespace imagen::worker {

namespace {

class EchoOp final : public ops::Operation {
 public:
  EchoOp() {
    spec_.name = "echo";
    spec_.route = "debug/echo";
    spec_.summary = "Diagnostic: returns the uploaded image unchanged after delay_ms (tests and benchmarks)";
    spec_.params.push_back({.name = "delay_ms",
                            .type = ops::ParamType::kInt,
                            .default_value = "0",
                            .description = "Time to spend before answering, in milliseconds.",
                            .min = 0,
                            .max = 60000});
  }
  const ops::OpSpec& spec() const override { return spec_; }
  absl::StatusOr<ops::ImageBlob> Run(const ops::ImageBlob& input, const ops::ParamValues& params,
                                     const ops::OpContext& ctx) const override {
    int64_t delay = params.GetInt("delay_ms");
    absl::Time end = absl::Now() + absl::Milliseconds(delay);
    // Sleep in slices so cancellation and shutdown are prompt.
    while (absl::Now() < end) {
      if (ctx.cancelled && ctx.cancelled()) return absl::CancelledError("canceled");
      absl::SleepFor(std::min(absl::Milliseconds(10), end - absl::Now()));
    }
    if (ctx.progress) ctx.progress(1.0);
    return input;
  }

 private:
  ops::OpSpec spec_;
};

}  // namespace

absl::Status RegisterDiagnosticOps(ops::OpRegistry* registry) { return registry->Register(std::make_unique<EchoOp>()); }

}  // namespace imagen::worker
