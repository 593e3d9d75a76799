// The built-in operations on generated images, with test inference clients
// that compute checkable results: sizes, modes, formats, tiling without
// seams, alpha handling, mask geometry, determinism and bad input.
#include "ops/builtin_ops.h"

#include <gtest/gtest.h>

#include <cmath>

#include "imaging/codec.h"
#include "imaging/vips_runtime.h"
#include "ops/test_inference_clients.h"

namespace imagen::ops {
namespace {

using vips::VImage;

class BuiltinOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(imaging::EnsureVips().ok());
    options_.tile_size = 24;
    ASSERT_TRUE(RegisterBuiltinOps(&registry_, options_).ok());
  }

  // Smooth colour pattern, w x h, optionally with a horizontal alpha ramp.
  static VImage Pattern(int w, int h, bool alpha = false) {
    VImage xy = VImage::xyz(w, h);
    VImage r = (xy[0] * 255 / std::max(1, w - 1));
    VImage g = (xy[1] * 255 / std::max(1, h - 1));
    VImage b = ((xy[0] + xy[1]) * 7) % 256;
    VImage img = VImage::bandjoin({r, g, b});
    if (alpha) img = img.bandjoin(xy[0] * 255 / std::max(1, w - 1));
    return img.cast(VIPS_FORMAT_UCHAR).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  }
  static ImageBlob Png(const VImage& img) {
    return {*imaging::EncodeImage(img, {.format = imaging::ImageFormat::kPng}), "image/png"};
  }
  static VImage Decode(const ImageBlob& blob) { return *imaging::DecodeImage(blob.bytes, imaging::DecodeLimits{}); }
  static VImage Load(const ImageBlob& blob) {
    return VImage::new_from_buffer(blob.bytes.data(), blob.bytes.size(), "").copy_memory();
  }

  absl::StatusOr<ImageBlob> Run(const std::string& op, const ImageBlob& in,
                                const std::map<std::string, std::string>& given, InferenceClient* client) {
    const Operation* o = registry_.Find(op);
    if (o == nullptr) return absl::NotFoundError(op);
    auto params = ValidateParams(o->spec().params, given);
    if (!params.ok()) return params.status();
    OpContext ctx;
    ctx.inference = client;
    return o->Run(in, *params, ctx);
  }

  BuiltinOpsOptions options_;
  OpRegistry registry_;
};

TEST_F(BuiltinOpsTest, RegistersTheFiveOperationsWithTheirRoutes) {
  const std::map<std::string, std::string> routes = {{"remove_background", "background/remove"},
                                                     {"upscale", "upscale"},
                                                     {"enhance", "enhance"},
                                                     {"style_comic", "style/comic"},
                                                     {"style_aged", "style/aged"}};
  EXPECT_EQ(registry_.List().size(), routes.size());
  for (const auto& [name, route] : routes) {
    const Operation* op = registry_.FindByRoute(route);
    ASSERT_NE(op, nullptr) << route;
    EXPECT_EQ(op->spec().name, name);
  }
  EXPECT_EQ(registry_.Find("upscale")->spec().models.size(), 7u);  // animevideov3 x2-x4, x4plus, 3 cugan
}

TEST_F(BuiltinOpsTest, UpscaleTilesWithoutSeamsAndMatchesNearestNeighbour) {
  // 61 x 47 is not a multiple of the 24-pixel tile, so edge tiles are partial.
  const VImage in = Pattern(61, 47);
  for (int scale : {2, 3, 4}) {
    SCOPED_TRACE(scale);
    testing::NearestUpscaleClient client(scale);
    auto out = Run("upscale", Png(in), {{"scale", std::to_string(scale)}}, &client);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->content_type, "image/png");
    VImage img = Load(*out);
    ASSERT_EQ(img.width(), 61 * scale);
    ASSERT_EQ(img.height(), 47 * scale);
    EXPECT_EQ(img.bands(), 3);
    VImage expected = in.zoom(scale, scale);
    EXPECT_EQ((img - expected).abs().max(), 0);
    EXPECT_EQ(client.calls, 3 * 2);  // ceil(61/24) x ceil(47/24) tiles
    EXPECT_LE(client.max_side, 24 + 2 * 16);
  }
}

TEST_F(BuiltinOpsTest, UpscaleRunsAlphaThroughTheModelSeparately) {
  const VImage in = Pattern(30, 20, /*alpha=*/true);
  testing::NearestUpscaleClient client(2);
  auto out = Run("upscale", Png(in), {{"scale", "2"}}, &client);
  ASSERT_TRUE(out.ok()) << out.status();
  VImage img = Load(*out);
  ASSERT_EQ(img.bands(), 4);
  EXPECT_EQ((img - in.zoom(2, 2)).abs().max(), 0);
  EXPECT_EQ(client.calls, 2 * 2 * 1);  // RGB and alpha, 2x1 tiles each
}

TEST_F(BuiltinOpsTest, X4OnlyModelIsReducedToTheAskedScale) {
  testing::NearestUpscaleClient client(4);
  auto out = Run("upscale", Png(Pattern(20, 10)), {{"scale", "3"}, {"model", "realesrgan-x4plus-anime"}}, &client);
  ASSERT_TRUE(out.ok()) << out.status();
  VImage img = Load(*out);
  EXPECT_EQ(img.width(), 60);
  EXPECT_EQ(img.height(), 30);
}

TEST_F(BuiltinOpsTest, UpscaleRefusesAnOutputOverTheLimit) {
  BuiltinOpsOptions small = options_;
  small.limits.max_output_pixels = 1000;
  OpRegistry reg;
  ASSERT_TRUE(RegisterBuiltinOps(&reg, small).ok());
  testing::NearestUpscaleClient client(4);
  auto params = ValidateParams(reg.Find("upscale")->spec().params, {{"scale", "4"}});
  OpContext ctx;
  ctx.inference = &client;
  auto out = reg.Find("upscale")->Run(Png(Pattern(20, 20)), *params, ctx);
  ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("output limit"), absl::string_view::npos) << out.status();
  EXPECT_EQ(client.calls, 0);
}

TEST_F(BuiltinOpsTest, EnhanceHandlesCroppingModelsAndKeepsTheSize) {
  // waifu2x CUnet x1 removes 28 pixels per side; with the context the op
  // adds, an identity-with-crop model must give back the input exactly.
  const VImage in = Pattern(50, 37, /*alpha=*/true);
  testing::NearestUpscaleClient client(1, /*crop=*/28);
  auto out = Run("enhance", Png(in), {{"strength", "2"}}, &client);
  ASSERT_TRUE(out.ok()) << out.status();
  VImage img = Load(*out);
  ASSERT_EQ(img.width(), 50);
  ASSERT_EQ(img.height(), 37);
  ASSERT_EQ(img.bands(), 4);
  EXPECT_EQ((img - in).abs().max(), 0);
}

TEST_F(BuiltinOpsTest, TinyImagesSmallerThanTheModelContext) {
  // 5 x 3 pixels with 28 pixels of context: the mirror padding repeats.
  const VImage in = Pattern(5, 3);
  testing::NearestUpscaleClient crop(1, 28);
  auto out = Run("enhance", Png(in), {}, &crop);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((Load(*out) - in).abs().max(), 0);
  testing::NearestUpscaleClient up(4);
  auto big = Run("upscale", Png(Pattern(1, 1)), {{"scale", "4"}}, &up);
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(Load(*big).width(), 4);
}

TEST_F(BuiltinOpsTest, RemoveBackgroundMaskFollowsTheSubject) {
  // A red disk of radius 60 centred in a 300 x 200 grey image.
  VImage xy = VImage::xyz(300, 200);
  VImage inside = ((xy[0] - 150) * (xy[0] - 150) + (xy[1] - 100) * (xy[1] - 100)) < 3600;
  VImage in = inside.ifthenelse(std::vector<double>{220, 20, 30}, std::vector<double>{128, 128, 128})
                  .cast(VIPS_FORMAT_UCHAR)
                  .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  testing::RedKeyMaskClient client;
  auto out = Run("remove_background", Png(in), {}, &client);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->content_type, "image/png");
  VImage img = Load(*out);
  ASSERT_EQ(img.bands(), 4);
  ASSERT_EQ(img.width(), 300);
  ASSERT_EQ(img.height(), 200);
  VImage mask = img[3] > 127;
  double inter = (mask & inside).avg() * 300 * 200 / 255, uni = (mask | inside).avg() * 300 * 200 / 255;
  EXPECT_GT(inter / uni, 0.97);
  EXPECT_EQ((img.extract_band(0, VImage::option()->set("n", 3)) - in).abs().max(), 0);  // colours untouched

  auto only = Run("remove_background", Png(in), {{"only_mask", "true"}}, &client);
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(Load(*only).bands(), 1);

  auto over = Run("remove_background", Png(in), {{"bgcolor", "#00ff00"}, {"format", "jpeg"}}, &client);
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->content_type, "image/jpeg");
  VImage o = Load(*over);
  EXPECT_EQ(o.bands(), 3);
  auto corner = o.getpoint(5, 5);
  EXPECT_LT(corner[0], 30);
  EXPECT_GT(corner[1], 220);
}

TEST_F(BuiltinOpsTest, ModelOpsWithoutClientOrWithFailingClientFailCleanly) {
  auto none = Run("upscale", Png(Pattern(10, 10)), {}, nullptr);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  testing::FailingClient down(absl::UnavailableError("inference server down"));
  auto r = Run("remove_background", Png(Pattern(10, 10)), {}, &down);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(BuiltinOpsTest, StylesKeepSizeAndAreDeterministicForASeed) {
  const VImage in = Pattern(120, 80);
  for (const char* op : {"style_comic", "style_aged"}) {
    SCOPED_TRACE(op);
    auto a = Run(op, Png(in), {{"format", "png"}}, nullptr);
    auto b = Run(op, Png(in), {{"format", "png"}}, nullptr);
    ASSERT_TRUE(a.ok() && b.ok()) << a.status();
    VImage img = Load(*a);
    EXPECT_EQ((img - Load(*b)).abs().max(), 0) << "pixels differ between runs";
    EXPECT_TRUE(a->bytes == b->bytes) << "encoded bytes differ between runs";
    EXPECT_EQ(img.width(), 120);
    EXPECT_EQ(img.height(), 80);
    EXPECT_EQ(img.bands(), 3);
    EXPECT_GT((img - in).abs().avg(), 3);  // it did change the image
  }
  auto s1 = Run("style_aged", Png(in), {{"seed", "1"}, {"scratches", "true"}}, nullptr);
  auto s2 = Run("style_aged", Png(in), {{"seed", "2"}, {"scratches", "true"}}, nullptr);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_FALSE(s1->bytes == s2->bytes);
  EXPECT_EQ(s1->content_type, "image/jpeg");
}

TEST_F(BuiltinOpsTest, StylesKeepAlpha) {
  auto out = Run("style_comic", Png(Pattern(40, 40, true)), {}, nullptr);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Load(*out).bands(), 4);
}

TEST_F(BuiltinOpsTest, BadParametersNameTheParameter) {
  const ImageBlob in = Png(Pattern(10, 10));
  struct Case {
    const char* op;
    std::map<std::string, std::string> params;
    const char* name;
  } cases[] = {
      {"upscale", {{"scale", "5"}}, "scale"},
      {"upscale", {{"model", "dall-e"}}, "model"},
      {"enhance", {{"strength", "7"}}, "strength"},
      {"remove_background", {{"bgcolor", "#12"}}, "bgcolor"},
      {"style_aged", {{"strength", "abc"}}, "strength"},
      {"style_comic", {{"quality", "0"}}, "quality"},
      {"style_comic", {{"colour", "red"}}, "colour"},
  };
  for (const auto& c : cases) {
    auto r = Run(c.op, in, c.params, nullptr);
    ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.op;
    EXPECT_NE(r.status().message().find(absl::StrCat("'", c.name, "'")), absl::string_view::npos) << r.status();
  }
}

TEST_F(BuiltinOpsTest, BadImagesAreRefusedByEveryOperation) {
  testing::NearestUpscaleClient client(2);
  for (const Operation* op : registry_.List()) {
    for (const std::string& bytes : {std::string(), std::string("GIF89a garbage"), std::string("not an image")}) {
      auto params = ValidateParams(op->spec().params, {});
      OpContext ctx;
      ctx.inference = &client;
      auto r = op->Run({bytes, "application/octet-stream"}, *params, ctx);
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << op->spec().name << ": " << r.status();
    }
  }
}

// Issue 15 item 10: style_comic failed with `internal` ("rank: window too
// large") on 1-pixel-wide or -tall images. Every operation must work on
// 1x1, 1xN and Nx1 images (and a few other slivers), with and without alpha.
TEST_F(BuiltinOpsTest, Issue15TinyImagesWorkInEveryOperation) {
  const std::pair<int, int> sizes[] = {{1, 1}, {1, 9}, {9, 1}, {2, 3}, {1, 60}, {60, 1}, {2, 1}};
  for (const Operation* op : registry_.List()) {
    const std::string& name = op->spec().name;
    for (const auto& [w, h] : sizes) {
      for (bool alpha : {false, true}) {
        SCOPED_TRACE(absl::StrCat(name, " ", w, "x", h, alpha ? " with alpha" : ""));
        testing::NearestUpscaleClient up(2);
        testing::NearestUpscaleClient same(1, /*crop=*/28);
        testing::RedKeyMaskClient mask;
        InferenceClient* client = nullptr;
        if (name == "upscale") client = &up;
        if (name == "enhance") client = &same;
        if (name == "remove_background") client = &mask;
        auto out = Run(name, Png(Pattern(w, h, alpha)), {{"format", alpha ? "webp" : "jpeg"}}, client);
        ASSERT_TRUE(out.ok()) << out.status();
        VImage img = Load(*out);
        const int scale = name == "upscale" ? 2 : 1;
        EXPECT_EQ(img.width(), w * scale);
        EXPECT_EQ(img.height(), h * scale);
      }
    }
  }
}

// Issue 15 (encoder limits): WebP holds at most 16,383 pixels per side and
// JPEG 65,500; an upscale whose output cannot be encoded is refused before
// any model call, not after the work.
TEST_F(BuiltinOpsTest, Issue15EncoderLimitIsCheckedBeforeTheWork) {
  testing::NearestUpscaleClient client(4);
  auto out = Run("upscale", Png(Pattern(4100, 2)), {{"scale", "4"}, {"format", "webp"}}, &client);
  ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_NE(out.status().message().find("webp allows at most 16383"), absl::string_view::npos) << out.status();
  EXPECT_EQ(client.calls, 0);
  auto png = Run("style_aged", Png(Pattern(16384, 1)), {{"format", "webp"}}, nullptr);
  ASSERT_EQ(png.status().code(), absl::StatusCode::kInvalidArgument) << png.status();
}

}  // namespace
}  // namespace imagen::ops
