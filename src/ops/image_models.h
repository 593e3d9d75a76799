// The model-backed operations: remove_background (ISNet), upscale
// (Real-ESRGAN / Real-CUGAN) and enhance (waifu2x / Real-CUGAN denoise).
// Each is pre-process -> model(s) through ctx.inference -> post-process.
// Stateless; thread-safe.
#pragma once

#include <memory>
#include <string>

#include "imaging/codec.h"
#include "ops/operation.h"

namespace imagen::ops {

std::unique_ptr<Operation> NewRemoveBackgroundOp(const imaging::DecodeLimits& limits, const std::string& default_model);
std::unique_ptr<Operation> NewUpscaleOp(const imaging::DecodeLimits& limits, const std::string& default_model,
                                        int tile_size);
std::unique_ptr<Operation> NewEnhanceOp(const imaging::DecodeLimits& limits, const std::string& default_model,
                                        int tile_size);

}  // namespace imagen::ops
