// Tiled execution of image-to-image models (super-resolution, denoise): the
// input NCHW image is cut into tiles of tile×tile pixels, each run with
// `overlap` extra pixels of context on every side (clamped at the image
// border), and only the tile's own part of the result is kept — the way
// realesrgan-ncnn-vulkan -t does it. With enough overlap for the model's
// receptive field there are no seams; the activations in flight are bounded
// by one tile, not by the image. Thread-safe: uses only Model::Run.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "engine/tensor.h"

namespace imagen::engine {

struct TileOptions {
  int tile = 256;    // core tile edge in input pixels (> 0)
  int overlap = 16;  // context on each side, in input pixels (>= 0)
};

// Runs `model` (one 4-D float input, one 4-D float output whose height and
// width are an integer multiple `scale` of the input's) over `input` in
// tiles; the result equals an untiled run up to the context cut at tile
// edges. Errors for models that are not image-to-image.
absl::StatusOr<Tensor> RunTiled(const Model& model, const Tensor& input, const TileOptions& options);

}  // namespace imagen::engine
