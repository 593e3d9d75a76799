// Decoding and encoding: formats, orientation, bit depth, alpha, limits and
// every kind of bad input.
#include "imaging/codec.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/utf8.h"
#include "imaging/decode_budget.h"
#include "imaging/test_images.h"
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

// Issue 15 items 1-2: lcms quoted raw profile bytes into libvips's
// process-wide error buffer, and a decode failing on another thread at that
// moment copied them into its own error (another tenant's text, not UTF-8).
// The hook forces that interleaving: B has read its header and waits; A's
// ICC transform fails and A waits with its text in the buffer; B fails.
TEST_F(CodecTest, Issue15MalformedIccErrorDoesNotLeakIntoAnotherThreadsError) {
  std::atomic<int> decodes{0};
  absl::Notification b_decoding, icc_failed, b_failed;
  SetVipsHookForTesting([&](std::string_view event) {
    if (event == "decode") {
      if (decodes.fetch_add(1) == 0) {  // B, the first to decode
        b_decoding.Notify();
        icc_failed.WaitForNotificationWithTimeout(absl::Seconds(10));
      }
    } else if (event == "icc_transform") {  // A
      icc_failed.Notify();
      b_failed.WaitForNotificationWithTimeout(absl::Seconds(10));
    } else {  // B's failure
      b_failed.Notify();
    }
  });
  absl::StatusOr<VImage> icc, other;
  std::thread tenant_b([&] { other = DecodeImage(testing::CorruptPixelsPng(), DecodeLimits{}); });
  ASSERT_TRUE(b_decoding.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::thread tenant_a([&] { icc = DecodeImage(testing::MalformedIccPng(), DecodeLimits{}); });
  tenant_a.join();
  tenant_b.join();
  SetVipsHookForTesting(nullptr);
  ASSERT_TRUE(icc_failed.HasBeenNotified()) << "the ICC transform did not fail";

  // A broken profile falls back to the plain conversion.
  ASSERT_TRUE(icc.ok()) << icc.status();
  EXPECT_EQ(icc->bands(), 3);
  ASSERT_FALSE(other.ok());
  const std::string msg(other.status().message());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(msg.find("corrupt or truncated"), std::string::npos) << msg;
  EXPECT_TRUE(IsValidUtf8(msg)) << msg;
  EXPECT_EQ(msg.find(testing::IccGarbageSignature()), std::string::npos) << msg;
  EXPECT_EQ(msg.find("MPE"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("Icc"), std::string::npos) << msg;
}

// No libvips failure text quotes upload bytes; every decode error is valid
// UTF-8 (it goes into JSON and webhook payloads). A guard, not a regression
// test: alone, the ICC text is cleared before the next failure reads it.
TEST_F(CodecTest, DecodeErrorsAreValidUtf8AndNeverQuoteTheUpload) {
  const std::string bad_icc = testing::MalformedIccPng();
  const std::string corrupt = testing::CorruptPixelsPng();
  for (const std::string& bytes : {bad_icc, corrupt, bad_icc.substr(0, bad_icc.size() - 30)}) {
    auto r = DecodeImage(bytes, DecodeLimits{});
    if (r.ok()) continue;
    const std::string msg(r.status().message());
    EXPECT_TRUE(IsValidUtf8(msg)) << msg;
    EXPECT_EQ(msg.find(testing::IccGarbageSignature()), std::string::npos) << msg;
  }
}

// Issue 15 (decode bombs): a 690-byte JPEG whose header claimed 6000 x 6000
// was decoded to 36 megapixels (438 MB peak). A header claiming more pixels
// than its bytes could hold is refused before any pixel is decoded.
TEST_F(CodecTest, Issue15JpegClaimingMegapixelsFromAFewBytesIsRefused) {
  std::string jpeg = Save(Gradient(16, 16), ".jpg", VImage::option()->set("strip", true));
  const size_t sof = jpeg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  for (size_t at : {sof + 5, sof + 7}) {  // height, width
    jpeg[at] = static_cast<char>(6000 >> 8);
    jpeg[at + 1] = static_cast<char>(6000 & 0xff);
  }
  ASSERT_LT(jpeg.size(), 2000u);
  for (auto status : {ProbeImage(jpeg, DecodeLimits{}).status(), DecodeImage(jpeg, DecodeLimits{}).status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find("decode bomb"), absl::string_view::npos) << status;
  }
  // Real images are far above the floor: a flat grey 2000 x 2000 JPEG.
  const std::string flat = Save((VImage::black(2000, 2000) + 128).cast(VIPS_FORMAT_UCHAR), ".jpg");
  EXPECT_TRUE(DecodeImage(flat, DecodeLimits{}).ok());
  EXPECT_TRUE(CheckPixelsPerByte("webp", 10, 100'000'000).ok());  // no floor
  EXPECT_FALSE(CheckPixelsPerByte("png", 10, 200'000).ok());
}

// Issue 15 (decode bombs): each decode reserves its predicted peak from the
// process-wide budget; one larger than the whole budget is refused.
TEST_F(CodecTest, Issue15DecodeDrawsFromTheGlobalBudget) {
  DecodeBudget& budget = DecodeBudget::Global();
  const int64_t saved = budget.capacity();
  budget.SetCapacity(64 * 64 * 4);  // less than a 64 x 64 decode needs
  auto r = DecodeImage(Save(Gradient(64, 64), ".png"), DecodeLimits{});
  budget.SetCapacity(saved);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("decodes at most"), absl::string_view::npos) << r.status();
  EXPECT_TRUE(DecodeImage(Save(Gradient(64, 64), ".png"), DecodeLimits{}).ok());
  EXPECT_EQ(budget.in_use(), 0);
}

// Issue 15 (decode bombs): the GIF logical screen was checked at submit, but
// the worker decoded a 30000 x 1000 frame. The decoder checks the size it
// actually decodes against the side and pixel limits.
TEST_F(CodecTest, Issue15GifFrameLargerThanItsScreenIsRefused) {
  std::string gif = Save(Gradient(30000, 1), ".gif");
  gif[6] = 10;  // logical screen 10 x 10
  gif[7] = 0;
  gif[8] = 10;
  gif[9] = 0;
  auto r = DecodeImage(gif, DecodeLimits{});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("30000"), absl::string_view::npos) << r.status();
}

// Issue 15 (encoder limits): JPEG 65,500 and WebP 16,383 pixels per side.
TEST_F(CodecTest, Issue15EncoderLimitsAreKnownBeforeEncoding) {
  EXPECT_TRUE(CheckEncodable(ImageFormat::kWebp, 16383, 16383).ok());
  EXPECT_EQ(CheckEncodable(ImageFormat::kWebp, 16384, 10).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEncodable(ImageFormat::kJpeg, 65500, 1).ok());
  EXPECT_EQ(CheckEncodable(ImageFormat::kJpeg, 1, 65501).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEncodable(ImageFormat::kPng, 100000, 1).ok());
  auto wide = EncodeImage(Gradient(16384, 1), {.format = ImageFormat::kWebp});
  ASSERT_EQ(wide.status().code(), absl::StatusCode::kInvalidArgument) << wide.status();
  EXPECT_NE(wide.status().message().find("webp allows at most 16383"), absl::string_view::npos) << wide.status();
}

}  // namespace
}  // namespace imagen::imaging
