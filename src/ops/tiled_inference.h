// Runs an image-to-image model over an image in overlapping tiles through an
// InferenceClient, so that large images fit in memory and the result has no
// seams: each tile is sent with `context` pixels of its neighbours (mirrored
// at the image border) and only its own area of the output is kept.
// Stateless; thread-safe when the client is.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "ops/model_catalog.h"
#include "ops/operation.h"
#include "vips/vips8"

namespace imagen::ops {

struct TileOptions {
  int tile_size = 256;  // edge of a tile's own area in input pixels; <= 0: one tile
  // Progress reported through ctx goes from `progress_from` to `progress_to`.
  double progress_from = 0;
  double progress_to = 1;
};

// `rgb` is an 8-bit 3-band image; returns an 8-bit 3-band image `scale` times
// larger. The model takes and returns FP32 1x3xHxW in [0, 1].
absl::StatusOr<vips::VImage> RunTiled(const ModelInfo& model, const vips::VImage& rgb, const TileOptions& options,
                                      const OpContext& ctx);

}  // namespace imagen::ops
