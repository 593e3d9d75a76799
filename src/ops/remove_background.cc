// remove_background: ISNet salient-object mask at 1024x1024, upsampled to
// the original size, applied as alpha (or returned alone, or composited over
// a colour).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "imaging/resize.h"
#include "imaging/tensor.h"
#include "imaging/vips_runtime.h"
#include "ops/image_models.h"
#include "ops/model_catalog.h"
#include "ops/op_support.h"

namespace imagen::ops {
namespace {

using vips::VImage;
constexpr int kSide = 1024;

class RemoveBackgroundOp : public Operation {
 public:
  RemoveBackgroundOp(const imaging::DecodeLimits& limits, const std::string& default_model) : limits_(limits) {
    spec_.name = "remove_background";
    spec_.route = "background/remove";
    spec_.summary = "Cut out the main subject: RGBA PNG with a soft alpha mask (ISNet)";
    spec_.params = {
        {.name = "model",
         .type = ParamType::kEnum,
         .default_value = default_model,
         .description = "isnet: ISNet fp16 (best); isnet-small: int8, faster",
         .choices = {"isnet", "isnet-small"}},
        {.name = "only_mask",
         .type = ParamType::kBool,
         .default_value = "false",
         .description = "Return the mask alone as a greyscale image"},
        {.name = "bgcolor",
         .type = ParamType::kColor,
         .default_value = "transparent",
         .description = "Put the subject over this colour (#rrggbb) instead of transparency"},
    };
    for (auto& p : OutputParams("png")) spec_.params.push_back(std::move(p));
    spec_.models = {"isnet", "isnet-small"};
  }
  const OpSpec& spec() const override { return spec_; }

  absl::StatusOr<ImageBlob> Run(const ImageBlob& input, const ParamValues& params,
                                const OpContext& ctx) const override {
    if (ctx.inference == nullptr) return absl::FailedPreconditionError("remove_background needs an inference client");
    ASSIGN_OR_RETURN(VImage image, DecodeInput(input, limits_));
    RETURN_IF_ERROR(CheckPlannedOutput(params, image.width(), image.height(), limits_));
    RETURN_IF_ERROR(CheckCancelled(ctx));
    const ModelInfo* model = FindModel(params.GetString("model"));
    if (model == nullptr) return absl::InternalError("remove_background: model missing from the catalogue");
    const int w = image.width(), h = image.height();
    ASSIGN_OR_RETURN(VImage flat, imaging::VipsTry(absl::StatusCode::kInternal, "dropping alpha", [&] {
                       return image.bands() == 4 ? image.extract_band(0, VImage::option()->set("n", 3)) : image;
                     }));
    // Bilinear to 1024x1024, aspect not kept, as IMG.LY's pipeline does.
    ASSIGN_OR_RETURN(VImage rgb, imaging::ResizeBilinear(flat, kSide, kSide));
    if (rgb.width() != kSide || rgb.height() != kSide) {
      return absl::InternalError(absl::StrCat("resize gave ", rgb.width(), "x", rgb.height()));
    }
    ReportProgress(ctx, 0.1);
    // IMG.LY's preprocessing for these weights: (pixel - 128) / 256.
    imaging::Normalization norm{.mean = {128 / 255.0, 128 / 255.0, 128 / 255.0},
                                .std = {256 / 255.0, 256 / 255.0, 256 / 255.0}};
    InferRequest req;
    req.model_name = model->name;
    Tensor t{.name = model->input, .datatype = "FP32", .shape = {1, 3, kSide, kSide}, .data = {}};
    ASSIGN_OR_RETURN(t.data, imaging::ToPlanarFloat(rgb, norm));
    req.inputs.push_back(std::move(t));
    req.outputs.push_back(model->output);
    ASSIGN_OR_RETURN(InferResult result, ctx.inference->Infer(req));
    RETURN_IF_ERROR(CheckCancelled(ctx));
    ReportProgress(ctx, 0.8);
    const Tensor* out = result.Find(model->output);
    if (out == nullptr || out->datatype != "FP32" || out->shape.size() != 4 || out->shape[2] != kSide ||
        out->shape[3] != kSide || out->shape[0] * out->shape[1] != 1) {
      return absl::InternalError(absl::StrCat(model->name, " did not return FP32 [1,1,1024,1024] '", model->output, "'",
                                              out ? absl::StrCat(": got [", absl::StrJoin(out->shape, ","), "]") : ""));
    }
    ASSIGN_OR_RETURN(VImage mask_f, imaging::FloatPlane(out->data, kSide, kSide));
    // Bilinear back to the original size: smooth, soft edges.
    ASSIGN_OR_RETURN(VImage mask_full, imaging::ResizeBilinear(mask_f, w, h));
    ASSIGN_OR_RETURN(VImage result_image, imaging::VipsTry(absl::StatusCode::kInternal, "applying the mask",
                                                           [&] { return Compose(image, mask_full, params); }));
    return EncodeOutput(result_image, params);
  }

 private:
  static VImage Compose(const VImage& image, const VImage& mask_full, const ParamValues& params) {
    const int w = image.width(), h = image.height();
    VImage mask = mask_full;
    mask = mask * 255;
    mask = (mask < 0).ifthenelse(0, mask);
    mask = (mask > 255).ifthenelse(255, mask);
    mask = mask.cast(VIPS_FORMAT_UCHAR);
    if (image.bands() == 4) {  // keep what was already transparent
      mask = (mask.cast(VIPS_FORMAT_FLOAT) * image[3] / 255).cast(VIPS_FORMAT_UCHAR);
    }
    mask = mask.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_B_W));
    if (params.GetBool("only_mask")) return mask.copy_memory();
    VImage rgb = image.bands() == 4 ? image.extract_band(0, VImage::option()->set("n", 3)) : image;
    VImage rgba = rgb.bandjoin(mask).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    Color bg = params.GetColor("bgcolor");
    if (bg.a == 0) return rgba.copy_memory();
    VImage under = VImage::black(w, h, VImage::option()->set("bands", 4))
                       .new_from_image(std::vector<double>{static_cast<double>(bg.r), static_cast<double>(bg.g),
                                                           static_cast<double>(bg.b), static_cast<double>(bg.a)})
                       .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    VImage out = under.composite2(rgba, VIPS_BLEND_MODE_OVER).cast(VIPS_FORMAT_UCHAR);
    if (bg.a == 255) out = out.extract_band(0, VImage::option()->set("n", 3));
    return out.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB)).copy_memory();
  }

  imaging::DecodeLimits limits_;
  OpSpec spec_;
};

}  // namespace

std::unique_ptr<Operation> NewRemoveBackgroundOp(const imaging::DecodeLimits& limits,
                                                 const std::string& default_model) {
  return std::make_unique<RemoveBackgroundOp>(limits, default_model);
}

}  // namespace imagen::ops
