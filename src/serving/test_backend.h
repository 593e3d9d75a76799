// Built-in test models (backend "imagen_test"), so protocol and batching tests
// run in milliseconds: `identity` (OUTPUTi = INPUTi), `add_sub` (OUTPUT0 =
// INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1, FP32 or INT32) and `delay`
// (identity that takes execute_delay_us + execute_delay_per_item_us * batch).
// The model is chosen by parameter "test_model", else by the model's name.
// Any test model may wait at a TestGate: parameter "execute_gate" names the
// gate each execution passes, "load_gate" the one each instance creation
// (model load) passes, so tests block a model deterministically; parameter
// "execute_throws" makes each execution throw std::runtime_error with that
// message. Thread-safe.
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "serving/backend.h"

namespace imagen::serving {

Backend* TestBackend();

// A named gate, open until closed. Thread-safe; gates live for the process.
class TestGate {
 public:
  static TestGate* Get(const std::string& name);
  void Close();
  void Open();
  // Blocks until `n` threads are waiting at the (closed) gate.
  void AwaitWaiters(int n);
  // Waits while the gate is closed.
  void Pass();

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace imagen::serving
