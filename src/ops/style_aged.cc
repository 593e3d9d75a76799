#include "ops/style_aged.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/status_macros.h"
#include "imaging/vips_runtime.h"
#include "ops/op_support.h"

namespace imagen::ops {
namespace {

using vips::VImage;

class StyleAgedOp : public Operation {
 public:
  explicit StyleAgedOp(const imaging::DecodeLimits& limits) : limits_(limits) {
    spec_.name = "style_aged";
    spec_.route = "style/aged";
    spec_.summary =
        "Old-photograph look: sepia tone, faded contrast, vignette, film grain and optional scratches "
        "(a deterministic image-processing filter, not a neural style transfer)";
    spec_.params = {
        {.name = "strength",
         .type = ParamType::kFloat,
         .default_value = "0.7",
         .description = "How old the photograph looks",
         .min = 0,
         .max = 1},
        {.name = "seed",
         .type = ParamType::kInt,
         .default_value = "0",
         .description = "Seed of the film grain and scratches; same seed, same output",
         .min = 0,
         .max = 2147483647},
        {.name = "scratches",
         .type = ParamType::kBool,
         .default_value = "false",
         .description = "Add vertical film scratches"},
    };
    for (auto& p : OutputParams("jpeg")) spec_.params.push_back(std::move(p));
  }
  const OpSpec& spec() const override { return spec_; }

  absl::StatusOr<ImageBlob> Run(const ImageBlob& input, const ParamValues& params,
                                const OpContext& ctx) const override {
    ASSIGN_OR_RETURN(VImage image, DecodeInput(input, limits_));
    RETURN_IF_ERROR(CheckPlannedOutput(params, image.width(), image.height(), limits_));
    RETURN_IF_ERROR(CheckCancelled(ctx));
    ReportProgress(ctx, 0.2);
    AgedOptions options{.strength = params.GetFloat("strength"),
                        .seed = static_cast<uint64_t>(params.GetInt("seed")),
                        .scratches = params.GetBool("scratches")};
    ASSIGN_OR_RETURN(VImage out, AgedFilter(image, options));
    ReportProgress(ctx, 0.9);
    return EncodeOutput(out, params);
  }

 private:
  imaging::DecodeLimits limits_;
  OpSpec spec_;
};

// Gaussian grain, one value per pixel, from a seeded generator that is the
// same on every platform (std::normal_distribution is not, so Box-Muller).
VImage Grain(int width, int height, uint64_t seed, double sigma) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 1);
  std::vector<float> noise(static_cast<size_t>(width) * height);
  constexpr double kTwoPi = 6.283185307179586;
  for (size_t i = 0; i < noise.size(); i += 2) {
    double u1 = (static_cast<double>(rng() >> 11) + 1.0) / 9007199254740993.0;
    double u2 = static_cast<double>(rng() >> 11) / 9007199254740992.0;
    double r = std::sqrt(-2.0 * std::log(u1)) * sigma;
    noise[i] = static_cast<float>(r * std::cos(kTwoPi * u2));
    if (i + 1 < noise.size()) noise[i + 1] = static_cast<float>(r * std::sin(kTwoPi * u2));
  }
  VImage img =
      imaging::ImageFromMemoryCopy(noise.data(), noise.size() * sizeof(float), width, height, 1, VIPS_FORMAT_FLOAT)
          .copy_memory();
  // Film grain is clumpy, not per-pixel.
  return img.gaussblur(0.7, VImage::option()->set("precision", VIPS_PRECISION_FLOAT));
}

// Thin bright and dark vertical lines, a few per image, seeded.
VImage Scratches(int width, int height, uint64_t seed, double strength) {
  VImage canvas = VImage::black(width, height).cast(VIPS_FORMAT_FLOAT).copy_memory();
  std::mt19937_64 rng(seed ^ 0xA5A5A5A5DEADBEEFULL);
  auto uniform = [&rng](double lo, double hi) {
    return lo + (hi - lo) * (static_cast<double>(rng() >> 11) / 9007199254740992.0);
  };
  const int count = 2 + static_cast<int>(std::lround(6 * strength));
  for (int i = 0; i < count; ++i) {
    int x = static_cast<int>(uniform(0, width));
    int y0 = static_cast<int>(uniform(0, height * 0.5));
    int y1 = static_cast<int>(uniform(height * 0.5, height));
    int x1 = std::clamp(x + static_cast<int>(uniform(-width * 0.01, width * 0.01)), 0, width - 1);
    double value = uniform(0, 1) < 0.7 ? 90 * strength : -60 * strength;
    canvas.draw_line({value}, x, y0, x1, y1);
  }
  return canvas.gaussblur(0.5, VImage::option()->set("precision", VIPS_PRECISION_FLOAT));
}

}  // namespace

absl::StatusOr<VImage> AgedFilter(const VImage& image, const AgedOptions& options) {
  return imaging::VipsTry(absl::StatusCode::kInternal, "aged filter", [&] {
    const double s = std::clamp(options.strength, 0.0, 1.0);
    const bool alpha = image.bands() == 4;
    VImage rgb = (alpha ? image.extract_band(0, VImage::option()->set("n", 3)) : image).cast(VIPS_FORMAT_FLOAT);
    const int w = rgb.width(), h = rgb.height();
    // Sepia: the classic tone matrix, blended with the original by strength.
    VImage sepia_m = VImage::new_matrixv(3, 3, 0.393, 0.769, 0.189, 0.349, 0.686, 0.168, 0.272, 0.534, 0.131);
    VImage sepia = rgb.recomb(sepia_m);
    VImage out = rgb * (1 - s) + sepia * s;
    // Faded contrast: lift the blacks, lower the whites.
    out = out * (1 - 0.30 * s) + 30 * s;
    // Vignette: darken with the square of the distance from the centre.
    VImage xy = VImage::xyz(w, h);
    const double cx = w / 2.0, cy = h / 2.0;
    VImage dx = (xy[0] - cx) / cx, dy = (xy[1] - cy) / cy;
    VImage d2 = (dx * dx + dy * dy) / 2;  // 0 at the centre, 1 in the corners
    out = out * (1 - 0.55 * s * d2);
    // Film grain, the same on all three channels (silver, not colour, noise).
    if (s > 0) out = out + Grain(w, h, options.seed, 14 * s);
    if (options.scratches && s > 0) out = out + Scratches(w, h, options.seed, s);
    out = (out < 0).ifthenelse(0, out);
    out = (out > 255).ifthenelse(255, out);
    out = out.cast(VIPS_FORMAT_UCHAR);
    if (alpha) out = out.bandjoin(image[3]);
    return out.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  });
}

std::unique_ptr<Operation> NewStyleAgedOp(const imaging::DecodeLimits& limits) {
  return std::make_unique<StyleAgedOp>(limits);
}

}  // namespace imagen::ops
