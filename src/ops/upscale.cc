// upscale: x2/x3/x4 super-resolution with Real-ESRGAN or Real-CUGAN, in
// seamless tiles; an alpha channel goes through the same model on its own,
// as Real-ESRGAN's inference script does.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "imaging/vips_runtime.h"
#include "ops/image_models.h"
#include "ops/model_catalog.h"
#include "ops/op_support.h"
#include "ops/tiled_inference.h"

namespace imagen::ops {
namespace {

using vips::VImage;

class UpscaleOp : public Operation {
 public:
  UpscaleOp(const imaging::DecodeLimits& limits, const std::string& default_model, int tile_size)
      : limits_(limits), tile_size_(tile_size) {
    spec_.name = "upscale";
    spec_.route = "upscale";
    spec_.summary = "Enlarge 2x, 3x or 4x with a super-resolution model (Real-ESRGAN, Real-CUGAN)";
    spec_.params = {
        {.name = "scale",
         .type = ParamType::kInt,
         .default_value = "2",
         .description = "Enlargement factor",
         .min = 2,
         .max = 4},
        {.name = "model",
         .type = ParamType::kEnum,
         .default_value = default_model,
         .description = "realesr-animevideov3: fast; realesrgan-x4plus-anime: best detail, slow; realcugan: "
                        "Real-CUGAN conservative",
         .choices = {"realesr-animevideov3", "realesrgan-x4plus-anime", "realcugan"}},
    };
    for (auto& p : OutputParams("png")) spec_.params.push_back(std::move(p));
    for (const auto& m : ModelCatalog()) {
      if (m.name.rfind("realesr", 0) == 0 || m.name.find("conservative") != std::string::npos) {
        spec_.models.push_back(m.name);
      }
    }
  }
  const OpSpec& spec() const override { return spec_; }

  absl::StatusOr<ImageBlob> Run(const ImageBlob& input, const ParamValues& params,
                                const OpContext& ctx) const override {
    const int scale = static_cast<int>(params.GetInt("scale"));
    const std::string& family = params.GetString("model");
    std::string name;
    if (family == "realesr-animevideov3") name = absl::StrCat(family, "-x", scale);
    if (family == "realesrgan-x4plus-anime") name = family;
    if (family == "realcugan") name = absl::StrCat("realcugan-up", scale, "x-conservative");
    const ModelInfo* model = FindModel(name);
    if (model == nullptr) return absl::InternalError(absl::StrCat("upscale: no model '", name, "' in the catalogue"));
    ASSIGN_OR_RETURN(imaging::ImageHeader header, imaging::ProbeImage(input.bytes, limits_));
    RETURN_IF_ERROR(CheckPlannedOutput(params, int64_t{header.width} * scale, int64_t{header.height} * scale, limits_));
    ASSIGN_OR_RETURN(VImage image, DecodeInput(input, limits_));
    ASSIGN_OR_RETURN(VImage out, Upscale(*model, image, scale, ctx));
    return EncodeOutput(out, params);
  }

 private:
  absl::StatusOr<VImage> Upscale(const ModelInfo& model, const VImage& image, int scale, const OpContext& ctx) const {
    const bool alpha = image.bands() == 4;
    const double split = alpha ? 0.5 : 0.95;
    ASSIGN_OR_RETURN(VImage rgb, imaging::VipsTry(absl::StatusCode::kInternal, "splitting alpha", [&] {
                       return alpha ? image.extract_band(0, VImage::option()->set("n", 3)).copy_memory() : image;
                     }));
    ASSIGN_OR_RETURN(VImage up,
                     RunTiled(model, rgb, {.tile_size = tile_size_, .progress_from = 0.05, .progress_to = split}, ctx));
    if (alpha) {
      ASSIGN_OR_RETURN(VImage a3, imaging::VipsTry(absl::StatusCode::kInternal, "alpha", [&] {
                         VImage a = image[3];
                         return VImage::bandjoin({a, a, a})
                             .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
                             .copy_memory();
                       }));
      ASSIGN_OR_RETURN(
          VImage a_up,
          RunTiled(model, a3, {.tile_size = tile_size_, .progress_from = split, .progress_to = 0.95}, ctx));
      ASSIGN_OR_RETURN(up, imaging::VipsTry(absl::StatusCode::kInternal, "joining alpha",
                                            [&] { return up.bandjoin(a_up[0]).copy_memory(); }));
    }
    if (model.scale == scale) return up;
    // A x4-only model asked for x2/x3: reduce its output with Lanczos, as
    // Real-ESRGAN's --outscale does.
    const int w = image.width() * scale, h = image.height() * scale;
    return imaging::VipsTry(absl::StatusCode::kInternal, "resizing to the asked scale", [&] {
      VImage r = up.resize(static_cast<double>(w) / up.width(),
                           VImage::option()->set("vscale", static_cast<double>(h) / up.height()));
      return r.copy_memory();
    });
  }

  imaging::DecodeLimits limits_;
  int tile_size_;
  OpSpec spec_;
};

}  // namespace

std::unique_ptr<Operation> NewUpscaleOp(const imaging::DecodeLimits& limits, const std::string& default_model,
                                        int tile_size) {
  return std::make_unique<UpscaleOp>(limits, default_model, tile_size);
}

}  // namespace imagen::ops
