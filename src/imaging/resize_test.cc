// ResizeBilinear: exact sizes, centre-aligned enlargement, constant images
// stay constant.
#include "imaging/resize.h"

#include <gtest/gtest.h>

#include "imaging/vips_runtime.h"

namespace imagen::imaging {
namespace {

using vips::VImage;

TEST(ResizeBilinearTest, ExactSizeEachAxisIndependently) {
  ASSERT_TRUE(EnsureVips().ok());
  VImage img = (VImage::xyz(451, 300)[0] % 256).cast(VIPS_FORMAT_UCHAR);
  for (auto [w, h] : {std::pair{1024, 1024}, {100, 2000}, {451, 300}, {7, 5}}) {
    auto r = ResizeBilinear(img, w, h);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->width(), w);
    EXPECT_EQ(r->height(), h);
    EXPECT_EQ(r->format(), VIPS_FORMAT_UCHAR);
  }
}

TEST(ResizeBilinearTest, EnlargingIsCentreAligned) {
  ASSERT_TRUE(EnsureVips().ok());
  // Two pixels, 0 and 100, enlarged 4x: centres at 1.5 and 5.5; PIL gives
  // 0 0 12.5 37.5 62.5 87.5 100 100.
  VImage two = VImage::new_matrixv(2, 1, 0.0, 100.0).cast(VIPS_FORMAT_FLOAT);
  auto r = ResizeBilinear(two, 8, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  const double expected[] = {0, 0, 12.5, 37.5, 62.5, 87.5, 100, 100};
  for (int x = 0; x < 8; ++x) EXPECT_NEAR(r->getpoint(x, 0)[0], expected[x], 0.01) << x;
}

TEST(ResizeBilinearTest, ConstantStaysConstant) {
  ASSERT_TRUE(EnsureVips().ok());
  VImage c = (VImage::black(37, 23) + 77).cast(VIPS_FORMAT_FLOAT);
  auto r = ResizeBilinear(c, 1024, 11);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->min(), 77, 1e-4);
  EXPECT_NEAR(r->max(), 77, 1e-4);
}

}  // namespace
}  // namespace imagen::imaging
