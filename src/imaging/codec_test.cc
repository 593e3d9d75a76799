// Decoding and encoding: formats, orientation, bit depth, alpha, limits and
// every kind of bad input.
#include "imaging/codec.h"

#include <gtest/gtest.h>

#include "imaging/vips_runtime.h"

namespace imagen::imaging {
namespace {

using vips::VImage;

class CodecTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(EnsureVips().ok()); }

  // A w x h sRGB gradient: pixel (x, y) = (x % 256, y % 256, 128).
  static VImage Gradient(int w, int h) {
    VImage xy = VImage::xyz(w, h);
    VImage img = VImage::bandjoin({xy[0] % 256, xy[1] % 256, VImage::black(w, h) + 128}).cast(VIPS_FORMAT_UCHAR);
    return img.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  }
  static std::string Save(const VImage& img, const char* suffix, vips::VOption* options = nullptr) {
    void* buf = nullptr;
    size_t len = 0;
    img.write_to_buffer(suffix, &buf, &len, options);
    std::string out(static_cast<char*>(buf), len);
    g_free(buf);
    return out;
  }
};

TEST_F(CodecTest, DecodesPngJpegWebpToSrgb8) {
  for (const char* suffix : {".png", ".jpg", ".webp", ".tif", ".gif"}) {
    SCOPED_TRACE(suffix);
    auto img = DecodeImage(Save(Gradient(40, 30), suffix), DecodeLimits{});
    ASSERT_TRUE(img.ok()) << img.status();
    EXPECT_EQ(img->width(), 40);
    EXPECT_EQ(img->height(), 30);
    EXPECT_EQ(img->bands(), 3);
    EXPECT_EQ(img->format(), VIPS_FORMAT_UCHAR);
  }
}

TEST_F(CodecTest, ProbeReportsFormatAndSize) {
  auto h = ProbeImage(Save(Gradient(17, 9), ".webp"), DecodeLimits{});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->format, "webp");
  EXPECT_EQ(h->width, 17);
  EXPECT_EQ(h->height, 9);
}

TEST_F(CodecTest, AppliesExifOrientation) {
  // Orientation 6: the stored image must be rotated 90 degrees clockwise.
  VImage stored = Gradient(40, 20).copy();
  stored.set(VIPS_META_ORIENTATION, 6);
  auto img = DecodeImage(Save(stored, ".jpg"), DecodeLimits{});
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->width(), 20);
  EXPECT_EQ(img->height(), 40);
}

TEST_F(CodecTest, SixteenBitAndGreyAndAlphaBecomeSrgb8) {
  VImage rgb16 = (Gradient(8, 8).cast(VIPS_FORMAT_USHORT) * 256)
                     .cast(VIPS_FORMAT_USHORT)
                     .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16));
  auto a = DecodeImage(Save(rgb16, ".png"), DecodeLimits{});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->format(), VIPS_FORMAT_UCHAR);
  EXPECT_EQ(a->bands(), 3);
  EXPECT_NEAR(a->getpoint(5, 3)[0], 5, 1);

  VImage grey_alpha = (VImage::black(6, 6) + 77).bandjoin(VImage::black(6, 6) + 200).cast(VIPS_FORMAT_UCHAR);
  grey_alpha = grey_alpha.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_B_W));
  auto b = DecodeImage(Save(grey_alpha, ".png"), DecodeLimits{});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->bands(), 4);
  auto px = b->getpoint(2, 2);
  EXPECT_EQ(px[0], 77);
  EXPECT_EQ(px[2], 77);
  EXPECT_EQ(px[3], 200);
}

TEST_F(CodecTest, RefusesOverThePixelLimitBeforeDecoding) {
  DecodeLimits limits;
  limits.max_pixels = 1000;
  auto s = DecodeImage(Save(Gradient(40, 30), ".png"), limits);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("limit"), absl::string_view::npos) << s.status();
}

TEST_F(CodecTest, OutputLimit) {
  DecodeLimits limits;
  limits.max_output_pixels = 100;
  EXPECT_TRUE(CheckOutputSize(10, 10, limits).ok());
  EXPECT_EQ(CheckOutputSize(11, 10, limits).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CodecTest, BadInputsGetClearErrors) {
  const std::string png = Save(Gradient(64, 64), ".png");
  struct Case {
    const char* name;
    std::string bytes;
    const char* expect;
  } cases[] = {
      {"empty", "", "empty"},
      {"text", "hello, this is not an image at all", "not an image"},
      {"truncated png", png.substr(0, png.size() / 2), "corrupt or truncated"},
      {"header only", png.substr(0, 60), "png"},
      {"pdf", "%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "not an image"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = DecodeImage(c.bytes, DecodeLimits{});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_NE(r.status().message().find(c.expect), absl::string_view::npos) << r.status();
  }
}

TEST_F(CodecTest, LyingHeaderIsRefusedByTheLimit) {
  // A PNG whose IHDR claims 100000 x 100000 pixels.
  std::string png = Save(Gradient(64, 64), ".png");
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  };
  put32(16, 100000);
  put32(20, 100000);
  // Recompute the IHDR CRC so that only the size lies.
  uint32_t crc = 0xffffffffu;
  for (size_t i = 12; i < 29; ++i) {
    crc ^= static_cast<uint8_t>(png[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  put32(29, crc ^ 0xffffffffu);
  auto r = DecodeImage(png, DecodeLimits{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("100000x100000"), absl::string_view::npos) << r.status();
  // Within the limit but with far less data than the header promises.
  put32(16, 3000);
  put32(20, 3000);
  crc = 0xffffffffu;
  for (size_t i = 12; i < 29; ++i) {
    crc ^= static_cast<uint8_t>(png[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  put32(29, crc ^ 0xffffffffu);
  r = DecodeImage(png, DecodeLimits{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("corrupt or truncated"), absl::string_view::npos) << r.status();
}

TEST_F(CodecTest, AnimatedFirstFrameOrRefused) {
  VImage frames = Gradient(10, 30).copy();  // three 10x10 pages
  frames.set(VIPS_META_PAGE_HEIGHT, 10);
  frames.set(VIPS_META_N_PAGES, 3);
  const std::string gif = Save(frames, ".gif");
  auto first = DecodeImage(gif, DecodeLimits{});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->height(), 10);
  DecodeLimits refuse;
  refuse.animated = AnimatedPolicy::kRefuse;
  auto r = DecodeImage(gif, refuse);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("animated"), absl::string_view::npos);
}

TEST_F(CodecTest, EncodesEachFormatWithQuality) {
  VImage rgba = Gradient(32, 32).bandjoin(VImage::black(32, 32) + 128).cast(VIPS_FORMAT_UCHAR);
  for (ImageFormat f : {ImageFormat::kPng, ImageFormat::kJpeg, ImageFormat::kWebp}) {
    SCOPED_TRACE(ImageFormatName(f));
    auto low = EncodeImage(rgba, {.format = f, .quality = 10});
    auto high = EncodeImage(rgba, {.format = f, .quality = 95});
    ASSERT_TRUE(low.ok() && high.ok());
    auto h = ProbeImage(*high, DecodeLimits{});
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->format, ImageFormatName(f));
    EXPECT_EQ(h->has_alpha, f != ImageFormat::kJpeg);
    if (f != ImageFormat::kPng) {
      EXPECT_LT(low->size(), high->size());
    }
  }
  EXPECT_EQ(EncodeImage(rgba, {.format = ImageFormat::kJpeg, .quality = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseImageFormat("bmp").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace imagen::imaging
