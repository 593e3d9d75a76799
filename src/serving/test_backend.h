// Built-in test models (backend "imagen_test"), so protocol and batching tests
// run in milliseconds: `identity` (OUTPUTi = INPUTi), `add_sub` (OUTPUT0 =
// INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1, FP32 or INT32) and `delay`
// (identity that takes execute_delay_us + execute_delay_per_item_us * batch).
// The model is chosen by parameter "test_model", else by the model's name.
// Thread-safe.
#pragma once

#include "serving/backend.h"

namespace imagen::serving {

Backend* TestBackend();

}  // namespace imagen::serving
