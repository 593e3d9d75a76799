// style_comic: a comic-book look as a deterministic libvips pipeline
// (edge-preserving smoothing, colour quantisation, ink outlines). The spec
// can name a model instead later without API changes. Thread-safe.
#pragma once

#include <memory>

#include "imaging/codec.h"
#include "ops/operation.h"

namespace imagen::ops {

std::unique_ptr<Operation> NewStyleComicOp(const imaging::DecodeLimits& limits);

// The pipeline itself on an 8-bit sRGB(A) image; strength in [0, 1].
absl::StatusOr<vips::VImage> ComicFilter(const vips::VImage& image, double strength);

}  // namespace imagen::ops
