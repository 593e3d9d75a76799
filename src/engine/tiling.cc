#include "engine/tiling.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace imagen::engine {
namespace {

// Copies rows [y0, y1) × cols [x0, x1) of every (n, c) plane of `src`.
Tensor CropPlanes(const Tensor& src, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  const int64_t n = src.dim(0), c = src.dim(1), h = src.dim(2), w = src.dim(3);
  Tensor out = Tensor::Uninitialized(DataType::kFloat32, {n, c, y1 - y0, x1 - x0});
  const float* s = src.data<float>();
  float* d = out.data<float>();
  for (int64_t p = 0; p < n * c; ++p)
    for (int64_t y = y0; y < y1; ++y)
      std::memcpy(d + (p * (y1 - y0) + (y - y0)) * (x1 - x0), s + (p * h + y) * w + x0,
                  static_cast<size_t>(x1 - x0) * sizeof(float));
  return out;
}

}  // namespace

absl::StatusOr<Tensor> RunTiled(const Model& model, const Tensor& input, const TileOptions& options) {
  if (options.tile <= 0 || options.overlap < 0) return absl::InvalidArgumentError("tile must be > 0, overlap >= 0");
  if (model.inputs().size() != 1 || model.outputs().size() != 1) {
    return absl::InvalidArgumentError("tiled execution needs a model with one input and one output");
  }
  if (input.dtype() != DataType::kFloat32 || input.rank() != 4 || !input.is_plain()) {
    return absl::InvalidArgumentError("tiled execution needs a plain float32 NCHW input");
  }
  const std::string& in_name = model.inputs()[0].name;
  const int64_t n = input.dim(0), h = input.dim(2), w = input.dim(3);
  const int64_t t = options.tile, ov = options.overlap;
  Tensor out;
  int64_t scale = 0, oc = 0;
  for (int64_t ty = 0; ty < h; ty += t) {
    for (int64_t tx = 0; tx < w; tx += t) {
      const int64_t y1 = std::min(h, ty + t), x1 = std::min(w, tx + t);
      const int64_t py0 = std::max<int64_t>(0, ty - ov), py1 = std::min(h, y1 + ov);
      const int64_t px0 = std::max<int64_t>(0, tx - ov), px1 = std::min(w, x1 + ov);
      Tensor tile = CropPlanes(input, py0, py1, px0, px1);
      ASSIGN_OR_RETURN(std::vector<NamedTensor> res, model.Run({{in_name, tile}}));
      const Tensor& r = res[0].tensor;
      if (r.rank() != 4 || r.dim(0) != n || r.dtype() != DataType::kFloat32) {
        return absl::InvalidArgumentError("tiled execution: the model's output is not an NCHW float image");
      }
      const int64_t th = py1 - py0, tw = px1 - px0;
      if (scale == 0) {
        scale = r.dim(2) / th;
        oc = r.dim(1);
        if (scale <= 0 || r.dim(2) != th * scale || r.dim(3) != tw * scale) {
          return absl::InvalidArgumentError(absl::StrCat("tiled execution: output ", ShapeToString(r.shape()),
                                                         " is not an integer upscale of the tile ", th, "x", tw));
        }
        out = Tensor::Uninitialized(DataType::kFloat32, {n, oc, h * scale, w * scale});
      } else if (r.dim(1) != oc || r.dim(2) != th * scale || r.dim(3) != tw * scale) {
        return absl::InvalidArgumentError("tiled execution: tiles disagree on the output scale");
      }
      // Keep the tile's own region: rows [ty, y1) of the image are rows
      // [ty - py0, y1 - py0) of the tile, times the scale.
      const int64_t oy0 = (ty - py0) * scale, ox0 = (tx - px0) * scale;
      const int64_t rows = (y1 - ty) * scale, cols = (x1 - tx) * scale;
      const int64_t OH = h * scale, OW = w * scale, RH = r.dim(2), RW = r.dim(3);
      const float* s = r.data<float>();
      float* d = out.data<float>();
      for (int64_t p = 0; p < n * oc; ++p)
        for (int64_t y = 0; y < rows; ++y)
          std::memcpy(d + (p * OH + ty * scale + y) * OW + tx * scale, s + (p * RH + oy0 + y) * RW + ox0,
                      static_cast<size_t>(cols) * sizeof(float));
    }
  }
  return out;
}

}  // namespace imagen::engine
