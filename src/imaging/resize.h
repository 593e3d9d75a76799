// Resizing to an exact size with the conventions of common ML
// preprocessing (PIL / numpy "bilinear"): pixel centres aligned, edges
// clamped when enlarging; an antialiased triangle filter when reducing.
// Pure function; thread-safe.
#pragma once

#include "absl/status/statusor.h"
#include "vips/vips8"

namespace imagen::imaging {

// Resizes `image` (any band count and format) to exactly width x height;
// each axis is reduced or enlarged independently.
absl::StatusOr<vips::VImage> ResizeBilinear(const vips::VImage& image, int width, int height);

}  // namespace imagen::imaging
