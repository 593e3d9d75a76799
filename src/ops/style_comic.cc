#include "ops/style_comic.h"

#include <algorithm>
#include <cmath>

#include "common/status_macros.h"
#include "imaging/vips_runtime.h"
#include "ops/op_support.h"

namespace imagen::ops {
namespace {

using vips::VImage;

class StyleComicOp : public Operation {
 public:
  explicit StyleComicOp(const imaging::DecodeLimits& limits) : limits_(limits) {
    spec_.name = "style_comic";
    spec_.route = "style/comic";
    spec_.summary =
        "Comic-book look: edge-preserving smoothing, flat quantised colours and ink outlines "
        "(a deterministic image-processing filter, not a neural style transfer)";
    spec_.params = {
        {.name = "strength",
         .type = ParamType::kFloat,
         .default_value = "0.7",
         .description = "How strong the effect is: smoothing, fewer colours, thicker outlines",
         .min = 0,
         .max = 1},
    };
    for (auto& p : OutputParams("png")) spec_.params.push_back(std::move(p));
  }
  const OpSpec& spec() const override { return spec_; }

  absl::StatusOr<ImageBlob> Run(const ImageBlob& input, const ParamValues& params,
                                const OpContext& ctx) const override {
    ASSIGN_OR_RETURN(VImage image, DecodeInput(input, limits_));
    RETURN_IF_ERROR(CheckPlannedOutput(params, image.width(), image.height(), limits_));
    RETURN_IF_ERROR(CheckCancelled(ctx));
    ReportProgress(ctx, 0.2);
    ASSIGN_OR_RETURN(VImage out, ComicFilter(image, params.GetFloat("strength")));
    ReportProgress(ctx, 0.9);
    return EncodeOutput(out, params);
  }

 private:
  imaging::DecodeLimits limits_;
  OpSpec spec_;
};

}  // namespace

absl::StatusOr<VImage> ComicFilter(const VImage& image, double strength) {
  return imaging::VipsTry(absl::StatusCode::kInternal, "comic filter", [&] {
    const bool alpha = image.bands() == 4;
    const VImage rgb = alpha ? image.extract_band(0, VImage::option()->set("n", 3)) : image;
    const int w = rgb.width(), h = rgb.height();
    // Scale the neighbourhoods with the image so the look does not depend on
    // resolution: a 1000-pixel image gets a 5x5 median at full strength.
    const double unit = std::max(1.0, std::min(w, h) / 1000.0);
    const int median = 2 * static_cast<int>(std::lround(unit * (1 + 2 * strength))) + 1;  // odd, >= 3
    const int thick = 1 + static_cast<int>(std::lround(unit * strength));
    // libvips refuses a rank window larger than the image ("window too
    // large"): an image narrower than its windows is worked on with its
    // edge pixels repeated around it, then cut back to its own size.
    const int window = std::max(median, 2 * thick - 1);
    const int pad = std::min(w, h) < 2 * window + 1 ? window : 0;
    VImage work = rgb;
    if (pad > 0) {
      work = rgb.embed(pad, pad, w + 2 * pad, h + 2 * pad, VImage::option()->set("extend", VIPS_EXTEND_COPY));
    }
    // Edge-preserving smoothing: repeated medians flatten texture but keep
    // steps; a light blur removes the median's blockiness.
    VImage smooth = work;
    const int passes = 1 + static_cast<int>(std::lround(2 * strength));
    for (int i = 0; i < passes; ++i) smooth = smooth.median(median);
    smooth = smooth.gaussblur(0.6 * unit, VImage::option()->set("precision", VIPS_PRECISION_INTEGER));
    // Colour quantisation: posterise each channel to `levels` flat values.
    const int levels = std::max(3, static_cast<int>(std::lround(10 - 6 * strength)));
    const double step = 256.0 / levels;
    VImage quant = ((smooth.cast(VIPS_FORMAT_FLOAT) / step).floor() * step + step / 2).cast(VIPS_FORMAT_UCHAR);
    // Saturate a little, as printed comics do.
    VImage lch = quant.colourspace(VIPS_INTERPRETATION_LCH);
    lch = lch * std::vector<double>{1.0, 1.0 + 0.35 * strength, 1.0};
    quant = lch.colourspace(VIPS_INTERPRETATION_sRGB).cast(VIPS_FORMAT_UCHAR);
    // Ink outlines: gradient magnitude of the smoothed luminance, thresholded
    // and thickened.
    VImage grey = smooth.colourspace(VIPS_INTERPRETATION_B_W);
    VImage edges = grey.sobel();
    const double threshold = 90 - 50 * strength;
    VImage ink = (edges > threshold);  // 255 on edges
    if (thick > 1) ink = ink.rank(2 * thick - 1, 2 * thick - 1, (2 * thick - 1) * (2 * thick - 1) - 1);
    VImage out = ink.ifthenelse(std::vector<double>{20, 20, 20}, quant);
    if (pad > 0) out = out.extract_area(pad, pad, w, h);
    if (strength <= 0) out = rgb;
    if (alpha) out = out.bandjoin(image[3]);
    return out.cast(VIPS_FORMAT_UCHAR).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  });
}

std::unique_ptr<Operation> NewStyleComicOp(const imaging::DecodeLimits& limits) {
  return std::make_unique<StyleComicOp>(limits);
}

}  // namespace imagen::ops
