// The operations the platform sells, registered from one list: the API
// (GET /api/v1/operations, routes), the workers and `imagen run` all build
// their catalogue with RegisterBuiltinOps. Call before sharing the registry.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "imaging/codec.h"
#include "ops/registry.h"

namespace imagen::ops {

struct BuiltinOpsOptions {
  // Input limits (pixels, bytes, animated policy) and the output limit.
  imaging::DecodeLimits limits;
  // Default models (Triton model repository names, see docs/ops.md).
  std::string background_model = "isnet";              // or "isnet-small"
  std::string upscale_model = "realesr-animevideov3";  // family; "-x2/-x3/-x4" picked by scale
  std::string enhance_model = "waifu2x-cunet";
  // Model input tile edge in pixels for upscale/enhance (context added
  // around each tile); 0: the whole image in one piece.
  int tile_size = 256;
};

// Registers remove_background, upscale, enhance, style_comic, style_aged.
absl::Status RegisterBuiltinOps(OpRegistry* registry, const BuiltinOpsOptions& options);

}  // namespace imagen::ops
