// style_aged: an old-photograph look as a deterministic libvips pipeline
// (sepia tone curve, faded contrast, vignette, seeded film grain, optional
// scratches). Same seed, same input: same bytes. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "imaging/codec.h"
#include "ops/operation.h"

namespace imagen::ops {

std::unique_ptr<Operation> NewStyleAgedOp(const imaging::DecodeLimits& limits);

struct AgedOptions {
  double strength = 0.7;  // [0, 1]
  uint64_t seed = 0;
  bool scratches = false;
};

// The pipeline itself on an 8-bit sRGB(A) image.
absl::StatusOr<vips::VImage> AgedFilter(const vips::VImage& image, const AgedOptions& options);

}  // namespace imagen::ops
