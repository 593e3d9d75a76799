// NumPy .npy reading and writing (format versions 1-3, little-endian,
// C order) for the engine CLI and tests. Thread-safe: pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace imagen::engine {

// Parses the bytes of a .npy file. Supported dtypes: <f4 <f2 |i1 |u1 <i4 <i8 |b1.
absl::StatusOr<Tensor> ParseNpy(const std::string& bytes);
// Serialises a plain tensor as a version 1.0 .npy file.
absl::StatusOr<std::string> SerializeNpy(const Tensor& t);

}  // namespace imagen::engine
