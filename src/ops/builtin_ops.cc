#include "ops/builtin_ops.h"

#include <memory>
#include <vector>

#include "common/status_macros.h"
#include "ops/image_models.h"
#include "ops/style_aged.h"
#include "ops/style_comic.h"

namespace imagen::ops {

absl::Status RegisterBuiltinOps(OpRegistry* registry, const BuiltinOpsOptions& options) {
  // The one list of operations; order is the order the API lists them in.
  std::vector<std::unique_ptr<Operation>> ops;
  ops.push_back(NewRemoveBackgroundOp(options.limits, options.background_model));
  ops.push_back(NewUpscaleOp(options.limits, options.upscale_model, options.tile_size));
  ops.push_back(NewEnhanceOp(options.limits, options.enhance_model, options.tile_size));
  ops.push_back(NewStyleComicOp(options.limits));
  ops.push_back(NewStyleAgedOp(options.limits));
  for (auto& op : ops) RETURN_IF_ERROR(registry->Register(std::move(op)));
  return absl::OkStatus();
}

}  // namespace imagen::ops
