// Runs ONNX backend node tests (a folder of test_xxx/model.onnx with
// test_data_set_*/input_*.pb and output_*.pb) against the engine. A case
// runs only when every op in its graph is claimed (ClaimedOps()); otherwise
// it is skipped. Thread-safe: no shared state besides the kernel registry.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"

namespace imagen {
class Env;
}

namespace imagen::engine {

// The ops for which every node test case in libonnx-testdata passes. The one
// list; CI runs conformance for all of them.
const std::set<std::string>& ClaimedOps();

struct ConformanceOptions {
  // Ops treated as claimed (defaults to ClaimedOps()).
  std::set<std::string> claimed = ClaimedOps();
  // Only cases whose directory name contains this substring.
  std::string filter;
  double rtol = 1e-3;
  double atol = 1e-7;
  ModelOptions model;
  Env* env = nullptr;
};

struct CaseResult {
  std::string name;
  std::set<std::string> ops;
  enum Outcome { kPassed, kFailed, kSkipped } outcome = kSkipped;
  std::string message;  // why it failed or was skipped
};

struct ConformanceReport {
  int passed = 0, failed = 0, skipped = 0;
  std::vector<CaseResult> cases;
};

// Runs the cases under `dir` (sorted by name); `progress` sees each result.
absl::StatusOr<ConformanceReport> RunConformance(const std::string& dir, const ConformanceOptions& options,
                                                 const std::function<void(const CaseResult&)>& progress = {});

// Compares an engine output with the expected tensor: same dtype and shape,
// |a - e| <= atol + rtol * |e| for floats (NaN equals NaN), exact otherwise.
absl::Status CompareTensors(const Tensor& actual, const Tensor& expected, double rtol, double atol);

}  // namespace imagen::engine
