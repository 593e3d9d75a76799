#include "api/multipart.h"

#include "api/api_service.h"
#include "api/image_check.h"
#include "gtest/gtest.h"

namespace imagen::api {
namespace {

const char* kType = "multipart/form-data; boundary=XyZ";

TEST(MultipartTest, ParsesFieldsAndFiles) {
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"scale\"\r\n\r\n4\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a b.png\"\r\n"
      "Content-Type: image/png\r\n\r\n\x89PNG\r\n--X-not-a-boundary\r\n"
      "--XyZ--\r\n";
  auto parts = ParseMultipart(kType, body);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "scale");
  EXPECT_EQ((*parts)[0].data, "4");
  EXPECT_EQ((*parts)[1].name, "image");
  EXPECT_EQ((*parts)[1].filename, "a b.png");
  EXPECT_EQ((*parts)[1].content_type, "image/png");
  EXPECT_EQ((*parts)[1].data, "\x89PNG\r\n--X-not-a-boundary");
}

TEST(MultipartTest, QuotedBoundaryAndPreamble) {
  std::string body = "preamble\r\n--a:b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a:b--";
  auto parts = ParseMultipart("multipart/form-data; charset=utf-8; boundary=\"a:b\"", body);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "x");
}

TEST(MultipartTest, MalformedBodiesNameTheProblem) {
  struct Case {
    std::string type, body, expect;
  } cases[] = {
      {"application/json", "{}", "multipart/form-data"},
      {"multipart/form-data", "", "no boundary"},
      {kType, "garbage", "no opening boundary"},
      {kType, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue", "closing boundary"},
      {kType, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"", "not terminated"},
      {kType, "--XyZ\r\nBogus header\r\n\r\nx\r\n--XyZ--", "malformed multipart header"},
      {kType, "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--", "no Content-Disposition"},
      {kType, "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--XyZ--", "not form-data"},
      {kType, "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--", "no name"},
      {kType, "--XyZ--", "no parts"},
      {kType, "--XyZjunk", "CRLF"},
  };
  for (const auto& c : cases) {
    auto parts = ParseMultipart(c.type, c.body);
    ASSERT_FALSE(parts.ok()) << c.body;
    EXPECT_EQ(parts.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(parts.status().message()).find(c.expect), std::string::npos)
        << parts.status().message() << " / expected: " << c.expect;
  }
}

TEST(MultipartTest, TooManyParts) {
  std::string body;
  for (int i = 0; i < 10; ++i) body += "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n";
  body += "--XyZ--";
  EXPECT_FALSE(ParseMultipart(kType, body, 5).ok());
  EXPECT_TRUE(ParseMultipart(kType, body, 10).ok());
}

// A valid 1x1 PNG.
std::string Png1x1() {
  static const unsigned char k[] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
                                    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
                                    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
                                    0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99,
                                    0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  return std::string(reinterpret_cast<const char*>(k), sizeof(k));
}

TEST(ImageCheckTest, SniffsPngAndDetectsTruncation) {
  auto info = SniffImage(Png1x1());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, "png");
  EXPECT_EQ(info->width, 1u);
  EXPECT_EQ(info->height, 1u);
  std::string cut = Png1x1().substr(0, 50);
  auto t = SniffImage(cut);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(std::string(t.status().message()).find("truncated"), std::string::npos);
  auto not_image = SniffImage("hello world, not an image");
  ASSERT_FALSE(not_image.ok());
  EXPECT_NE(std::string(not_image.status().message()).find("not an image"), std::string::npos);
  EXPECT_FALSE(SniffImage("").ok());
}

TEST(ImageCheckTest, JpegHeaderAndEoi) {
  // SOI, SOF0 (8-bit, 300x200, 1 component), SOS, data, EOI.
  std::string jpeg = {'\xff', '\xd8', '\xff', '\xc0', 0, 11, 8, 0, '\xc8', 1, 0x2c, 1, 1, 0x11,   0,
                      '\xff', '\xda', 0,      8,      1, 1,  0, 0, 0x3f,   0, 1,    2, 3, '\xff', '\xd9'};
  auto info = SniffImage(jpeg);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 300u);
  EXPECT_EQ(info->height, 200u);
  EXPECT_FALSE(SniffImage(jpeg.substr(0, jpeg.size() - 2)).ok());
}

TEST(ImageCheckTest, LimitsApply) {
  ImageLimits limits;
  limits.max_pixels = 0;
  auto big = CheckImage(Png1x1(), limits);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kOutOfRange);
  limits = {};
  limits.formats = {"jpeg"};
  auto fmt = CheckImage(Png1x1(), limits);
  ASSERT_FALSE(fmt.ok());
  EXPECT_NE(std::string(fmt.status().message()).find("not accepted"), std::string::npos);
}

// Issue 15 (decode bombs): a 690-byte JPEG whose header claimed 6000 x 6000
// was admitted (36 MP within the pixel limit) and decoded. Submission now
// also refuses a header claiming more pixels than its bytes could hold.
TEST(ImageCheckTest, Issue15DecodeBombIsRefusedAtSubmit) {
  // SOI, SOF0 (8-bit, 6000x6000, 1 component), SOS, a little data, EOI.
  std::string bomb = {'\xff', '\xd8', '\xff', '\xc0', 0, 11, 8, 0x17, 0x70, 0x17, 0x70, 1, 1,
                      0x11,   0,      '\xff', '\xda', 0, 8,  1, 1,    0,    0,    0x3f, 0};
  bomb += std::string(650, '\x55') + "\xff\xd9";
  ASSERT_TRUE(SniffImage(bomb).ok());
  auto r = CheckImage(bomb, ImageLimits{});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kOutOfRange) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("decode bomb"), std::string::npos) << r.status();
  // The same header with 9 KB of data is plausible (>= 1 byte per 4096 px).
  std::string plausible = bomb.substr(0, bomb.size() - 2) + std::string(9000, '\x55') + "\xff\xd9";
  EXPECT_TRUE(CheckImage(plausible, ImageLimits{}).ok());
}

// Issue 15 (decode bombs): the GIF logical screen was checked at submit, but
// the worker decoded a 30000 x 1000 frame. Submission checks every frame.
TEST(ImageCheckTest, Issue15GifFrameLargerThanItsScreenIsRefusedAtSubmit) {
  auto gif = [](uint16_t fw, uint16_t fh) {
    std::string g = "GIF89a";
    g += {10, 0, 10, 0, '\x80', 0, 0};        // 10 x 10 screen, 2-colour table
    g += {0, 0, 0, '\xff', '\xff', '\xff'};   // the table
    g += {'\x21', '\xf9', 4, 0, 0, 0, 0, 0};  // graphic control extension
    g += {'\x2c',
          0,
          0,
          0,
          0,
          static_cast<char>(fw & 0xff),
          static_cast<char>(fw >> 8),
          static_cast<char>(fh & 0xff),
          static_cast<char>(fh >> 8),
          0};
    g += {2, 2, 0x4c, 0x01, 0};  // LZW minimum code size 2, one sub-block
    g += "\x3b";
    return g;
  };
  auto small = CheckImage(gif(10, 10), ImageLimits{.formats = {"gif"}});
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->width, 10u);
  auto wide = CheckImage(gif(30000, 1000), ImageLimits{.formats = {"gif"}});
  ASSERT_EQ(wide.status().code(), absl::StatusCode::kOutOfRange) << wide.status();
  EXPECT_NE(std::string(wide.status().message()).find("30000x1000"), std::string::npos) << wide.status();
  EXPECT_FALSE(SniffImage(gif(10, 10).substr(0, 30) + "\x3b").ok());  // cut inside the descriptor
}

}  // namespace
}  // namespace imagen::api
