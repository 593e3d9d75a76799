// Every operation on real photographs (JPEG and PNG, colour and grey):
// right size, mode and format; styles deterministic; truncated photo refused.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/env.h"
#include "imaging/codec.h"
#include "imaging/vips_runtime.h"
#include "ops/builtin_ops.h"
#include "ops/test_inference_clients.h"

namespace imagen::ops {
namespace {

using vips::VImage;

std::string PhotoDir() {
  const char* d = std::getenv("IMAGEN_TEST_PHOTOS");
  return d != nullptr ? d : "";
}

ImageBlob Photo(const std::string& name) {
  auto bytes = Env::Default()->ReadFile(PhotoDir() + "/" + name);
  EXPECT_TRUE(bytes.ok()) << "missing test photo " << name
                          << " (run tests/ops/fetch_test_photos.sh): " << bytes.status();
  return {bytes.ok() ? *bytes : "", ""};
}

class PhotosTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(imaging::EnsureVips().ok());
    ASSERT_FALSE(PhotoDir().empty()) << "IMAGEN_TEST_PHOTOS is not set";
    BuiltinOpsOptions options;
    options.tile_size = 128;
    ASSERT_TRUE(RegisterBuiltinOps(&registry_, options).ok());
  }
  absl::StatusOr<ImageBlob> Run(const std::string& op, const ImageBlob& in,
                                const std::map<std::string, std::string>& given, InferenceClient* client) {
    auto params = ValidateParams(registry_.Find(op)->spec().params, given);
    if (!params.ok()) return params.status();
    OpContext ctx;
    ctx.inference = client;
    return registry_.Find(op)->Run(in, *params, ctx);
  }
  static VImage Load(const ImageBlob& b) {
    return VImage::new_from_buffer(b.bytes.data(), b.bytes.size(), "").copy_memory();
  }
  OpRegistry registry_;
};

TEST_P(PhotosTest, EveryOperationGivesTheRightSizeModeAndFormat) {
  const ImageBlob in = Photo(GetParam());
  auto header = imaging::ProbeImage(in.bytes, imaging::DecodeLimits{});
  ASSERT_TRUE(header.ok()) << header.status();
  const int w = header->width, h = header->height;

  testing::NearestUpscaleClient up2(2);
  auto up = Run("upscale", in, {{"scale", "2"}, {"format", "webp"}}, &up2);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->content_type, "image/webp");
  VImage u = Load(*up);
  EXPECT_EQ(u.width(), 2 * w);
  EXPECT_EQ(u.height(), 2 * h);

  testing::NearestUpscaleClient identity(1, 28);
  auto en = Run("enhance", in, {{"sharpen", "1"}, {"format", "jpeg"}}, &identity);
  ASSERT_TRUE(en.ok()) << en.status();
  EXPECT_EQ(en->content_type, "image/jpeg");
  VImage e = Load(*en);
  EXPECT_EQ(e.width(), w);
  EXPECT_EQ(e.height(), h);
  EXPECT_EQ(e.bands(), 3);

  testing::RedKeyMaskClient mask;
  auto rb = Run("remove_background", in, {}, &mask);
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_EQ(rb->content_type, "image/png");
  VImage r = Load(*rb);
  EXPECT_EQ(r.width(), w);
  EXPECT_EQ(r.height(), h);
  EXPECT_EQ(r.bands(), 4);

  for (const char* op : {"style_comic", "style_aged"}) {
    SCOPED_TRACE(op);
    auto a = std::string(op) == "style_aged" ? Run(op, in, {{"seed", "7"}, {"format", "png"}}, nullptr)
                                             : Run(op, in, {{"format", "png"}}, nullptr);
    ASSERT_TRUE(a.ok()) << a.status();
    VImage s = Load(*a);
    EXPECT_EQ(s.width(), w);
    EXPECT_EQ(s.height(), h);
    EXPECT_EQ(s.bands(), 3);
  }
}

INSTANTIATE_TEST_SUITE_P(SampleData, PhotosTest,
                         ::testing::Values("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "camera.png",
                                           "retina.jpg"));

TEST(PhotosDeterminism, StylesAreDeterministicForASeedOnAPhoto) {
  ASSERT_TRUE(imaging::EnsureVips().ok());
  OpRegistry registry;
  ASSERT_TRUE(RegisterBuiltinOps(&registry, BuiltinOpsOptions{}).ok());
  const ImageBlob in = Photo("chelsea.png");
  const Operation* aged = registry.Find("style_aged");
  auto p1 = ValidateParams(aged->spec().params, {{"seed", "42"}, {"scratches", "true"}});
  auto p2 = ValidateParams(aged->spec().params, {{"seed", "43"}, {"scratches", "true"}});
  auto a = aged->Run(in, *p1, {});
  auto b = aged->Run(in, *p1, {});
  auto c = aged->Run(in, *p2, {});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_TRUE(a->bytes == b->bytes);
  EXPECT_FALSE(a->bytes == c->bytes);
  const Operation* comic = registry.Find("style_comic");
  auto q = ValidateParams(comic->spec().params, {{"strength", "1"}});
  auto x = comic->Run(in, *q, {});
  auto y = comic->Run(in, *q, {});
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_TRUE(x->bytes == y->bytes);
}

TEST(PhotosBadInput, TruncatedJpegIsRefusedClearly) {
  ASSERT_TRUE(imaging::EnsureVips().ok());
  OpRegistry registry;
  ASSERT_TRUE(RegisterBuiltinOps(&registry, BuiltinOpsOptions{}).ok());
  const Operation* op = registry.Find("style_comic");
  auto params = ValidateParams(op->spec().params, {});
  auto r = op->Run(Photo("truncated.jpg"), *params, {});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("jpeg"), absl::string_view::npos) << r.status();
  // A real photo cut in half.
  ImageBlob cut = Photo("rocket.jpg");
  cut.bytes.resize(cut.bytes.size() / 2);
  r = op->Run(cut, *params, {});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("truncated"), absl::string_view::npos) << r.status();
}

}  // namespace
}  // namespace imagen::ops
