// Conversions between 8-bit libvips images and the dense planar float
// tensors (N=1, C, H, W) that vision models take. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vips/vips8"

namespace imagen::imaging {

// value = (pixel / 255 - mean[c]) / std[c] for each of the image's bands,
// written as little-endian float32 in C, H, W order.
struct Normalization {
  std::vector<double> mean = {0, 0, 0};
  std::vector<double> std = {1, 1, 1};
};

// Planar float32 bytes of an 8-bit image (all bands; pass RGB for models).
absl::StatusOr<std::string> ToPlanarFloat(const vips::VImage& image, const Normalization& norm);

// The inverse: planar float32 (channels x height x width), value * 255
// (after undoing `norm`), rounded and clamped to 8 bits.
absl::StatusOr<vips::VImage> FromPlanarFloat(const std::string& data, int channels, int height, int width,
                                             const Normalization& norm);

// A 1-band float image (0..1 values) from planar float32 data, not clamped.
absl::StatusOr<vips::VImage> FloatPlane(const std::string& data, int height, int width);

}  // namespace imagen::imaging
