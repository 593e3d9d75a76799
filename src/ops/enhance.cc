// enhance: same-size restoration (JPEG artefacts, noise) with the waifu2x
// CUnet denoise models or Real-CUGAN's x2 denoise models reduced back to the
// original size, then an optional unsharp mask.
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

class EnhanceOp : public Operation {
 public:
  EnhanceOp(const imaging::DecodeLimits& limits, const std::string& default_model, int tile_size)
      : limits_(limits), tile_size_(tile_size) {
    spec_.name = "enhance";
    spec_.route = "enhance";
    spec_.summary = "Remove noise and compression artefacts at the same size (waifu2x, Real-CUGAN)";
    spec_.params = {
        {.name = "strength",
         .type = ParamType::kInt,
         .default_value = "1",
         .description = "Denoise level, 0 (light) to 3 (strong)",
         .min = 0,
         .max = 3},
        {.name = "model",
         .type = ParamType::kEnum,
         .default_value = default_model,
         .description = "waifu2x-cunet: same-size denoise; realcugan: Real-CUGAN x2 denoise reduced back",
         .choices = {"waifu2x-cunet", "realcugan"}},
        {.name = "sharpen",
         .type = ParamType::kFloat,
         .default_value = "0",
         .description = "Unsharp-mask amount after denoising (0: none)",
         .min = 0,
         .max = 3},
    };
    for (auto& p : OutputParams("png")) spec_.params.push_back(std::move(p));
    for (const auto& m : ModelCatalog()) {
      if ((m.name.rfind("waifu2x-cunet-noise", 0) == 0 && m.scale == 1) ||
          (m.name.rfind("realcugan-up2x", 0) == 0 && m.name.find("no-denoise") == std::string::npos)) {
        spec_.models.push_back(m.name);
      }
    }
  }
  const OpSpec& spec() const override { return spec_; }

  absl::StatusOr<ImageBlob> Run(const ImageBlob& input, const ParamValues& params,
                                const OpContext& ctx) const override {
    const int strength = static_cast<int>(params.GetInt("strength"));
    std::string name = absl::StrCat("waifu2x-cunet-noise", strength);
    if (params.GetString("model") == "realcugan") {
      static const char* kCugan[] = {"conservative", "denoise1x", "denoise2x", "denoise3x"};
      name = absl::StrCat("realcugan-up2x-", kCugan[strength]);
    }
    const ModelInfo* model = FindModel(name);
    if (model == nullptr) return absl::InternalError(absl::StrCat("enhance: no model '", name, "' in the catalogue"));
    ASSIGN_OR_RETURN(VImage image, DecodeInput(input, limits_));
    RETURN_IF_ERROR(CheckPlannedOutput(params, image.width(), image.height(), limits_));
    const bool alpha = image.bands() == 4;
    ASSIGN_OR_RETURN(VImage rgb, imaging::VipsTry(absl::StatusCode::kInternal, "splitting alpha", [&] {
                       return alpha ? image.extract_band(0, VImage::option()->set("n", 3)).copy_memory() : image;
                     }));
    ASSIGN_OR_RETURN(VImage out,
                     RunTiled(*model, rgb, {.tile_size = tile_size_, .progress_from = 0.05, .progress_to = 0.9}, ctx));
    const double sharpen = params.GetFloat("sharpen");
    ASSIGN_OR_RETURN(out, imaging::VipsTry(absl::StatusCode::kInternal, "finishing", [&] {
                       VImage r = out;
                       if (r.width() != image.width()) {
                         r = r.resize(
                             static_cast<double>(image.width()) / r.width(),
                             VImage::option()->set("vscale", static_cast<double>(image.height()) / r.height()));
                       }
                       if (sharpen > 0) {
                         r = r.sharpen(VImage::option()->set("sigma", 1.0)->set("m2", sharpen * 2.0))
                                 .colourspace(VIPS_INTERPRETATION_sRGB)
                                 .cast(VIPS_FORMAT_UCHAR);
                       }
                       if (alpha) r = r.bandjoin(image[3]);
                       return r.copy_memory();
                     }));
    return EncodeOutput(out, params);
  }

 private:
  imaging::DecodeLimits limits_;
  int tile_size_;
  OpSpec spec_;
};

}  // namespace

std::unique_ptr<Operation> NewEnhanceOp(const imaging::DecodeLimits& limits, const std::string& default_model,
                                        int tile_size) {
  return std::make_unique<EnhanceOp>(limits, default_model, tile_size);
}

}  // namespace imagen::ops
