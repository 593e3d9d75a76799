#include "ops/tiled_inference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "imaging/tensor.h"
#include "imaging/vips_runtime.h"
#include "ops/op_support.h"

namespace imagen::ops {
namespace {

int RoundUp(int v, int multiple) { return (v + multiple - 1) / multiple * multiple; }

uint8_t ToByte(float v) {
  float x = v * 255.0f;
  if (!(x >= 0.0f)) return 0;  // also NaN
  if (x >= 255.0f) return 255;
  return static_cast<uint8_t>(std::lround(x));
}

}  // namespace

absl::StatusOr<vips::VImage> RunTiled(const ModelInfo& model, const vips::VImage& rgb, const TileOptions& options,
                                      const OpContext& ctx) {
  if (ctx.inference == nullptr) return absl::FailedPreconditionError("no inference client to run " + model.name);
  if (rgb.bands() != 3 || rgb.format() != VIPS_FORMAT_UCHAR) {
    return absl::InternalError("RunTiled needs an 8-bit RGB image");
  }
  const int w = rgb.width(), h = rgb.height(), s = model.scale, c = model.context, a = std::max(1, model.align);
  const int tile = options.tile_size > 0 ? options.tile_size : std::max(w, h);
  // Mirror the border once; every tile then reads `c` pixels of context on
  // each side plus up to a-1 pixels of alignment on the right and bottom.
  ASSIGN_OR_RETURN(
      vips::VImage padded, imaging::VipsTry(absl::StatusCode::kInternal, "padding the image", [&] {
        return rgb.embed(c, c, w + 2 * c + a, h + 2 * c + a, vips::VImage::option()->set("extend", VIPS_EXTEND_MIRROR))
            .copy_memory();
      }));
  const int ow = w * s, oh = h * s;
  std::vector<uint8_t> out(static_cast<size_t>(ow) * oh * 3);
  const int tiles_x = (w + tile - 1) / tile, tiles_y = (h + tile - 1) / tile;
  int done = 0;
  for (int ty = 0; ty < tiles_y; ++ty) {
    for (int tx = 0; tx < tiles_x; ++tx) {
      RETURN_IF_ERROR(CheckCancelled(ctx));
      const int x0 = tx * tile, y0 = ty * tile;
      const int tw = std::min(tile, w - x0), th = std::min(tile, h - y0);
      const int in_w = RoundUp(tw + 2 * c, a), in_h = RoundUp(th + 2 * c, a);
      ASSIGN_OR_RETURN(vips::VImage region, imaging::VipsTry(absl::StatusCode::kInternal, "cutting a tile",
                                                             [&] { return padded.extract_area(x0, y0, in_w, in_h); }));
      InferRequest req;
      req.model_name = model.name;
      Tensor input{.name = model.input, .datatype = "FP32", .shape = {1, 3, in_h, in_w}, .data = {}};
      ASSIGN_OR_RETURN(input.data, imaging::ToPlanarFloat(region, imaging::Normalization{}));
      req.inputs.push_back(std::move(input));
      req.outputs.push_back(model.output);
      ASSIGN_OR_RETURN(InferResult result, ctx.inference->Infer(req));
      const Tensor* t = result.Find(model.output);
      if (t == nullptr) return absl::InternalError(absl::StrCat(model.name, " returned no '", model.output, "'"));
      if (t->datatype != "FP32" || t->shape.size() != 4 || t->shape[0] != 1 || t->shape[1] != 3) {
        return absl::InternalError(absl::StrCat(model.name, " returned ", t->datatype, " [",
                                                absl::StrJoin(t->shape, ","), "]; expected FP32 [1,3,H,W]"));
      }
      const int rh = static_cast<int>(t->shape[2]), rw = static_cast<int>(t->shape[3]);
      if (t->data.size() != static_cast<size_t>(rh) * rw * 3 * sizeof(float)) {
        return absl::InternalError(absl::StrCat(model.name, " returned ", t->data.size(), " bytes for its shape"));
      }
      // The network crops the same amount on both sides (valid convolutions),
      // so the tile's own area starts c*s pixels in, less that crop.
      const int crop_x = (in_w * s - rw) / 2, crop_y = (in_h * s - rh) / 2;
      const int ox = c * s - crop_x, oy = c * s - crop_y;
      if (ox < 0 || oy < 0 || ox + tw * s > rw || oy + th * s > rh) {
        return absl::InternalError(absl::StrCat(model.name, " output ", rw, "x", rh, " does not cover the tile (input ",
                                                in_w, "x", in_h, ", scale ", s, ")"));
      }
      const auto* f = reinterpret_cast<const float*>(t->data.data());
      const size_t plane = static_cast<size_t>(rh) * rw;
      for (int y = 0; y < th * s; ++y) {
        uint8_t* dst = out.data() + (static_cast<size_t>(y0 * s + y) * ow + static_cast<size_t>(x0) * s) * 3;
        const size_t row = static_cast<size_t>(oy + y) * rw + ox;
        for (int x = 0; x < tw * s; ++x) {
          dst[x * 3 + 0] = ToByte(f[row + x]);
          dst[x * 3 + 1] = ToByte(f[plane + row + x]);
          dst[x * 3 + 2] = ToByte(f[2 * plane + row + x]);
        }
      }
      ++done;
      ReportProgress(
          ctx, options.progress_from + (options.progress_to - options.progress_from) * done / (tiles_x * tiles_y));
    }
  }
  return imaging::VipsTry(absl::StatusCode::kInternal, "assembling tiles", [&] {
    return imaging::ImageFromMemoryCopy(out.data(), out.size(), ow, oh, 3, VIPS_FORMAT_UCHAR)
        .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
        .copy_memory();
  });
}

}  // namespace imagen::ops
