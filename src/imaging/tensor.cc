#include "imaging/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "imaging/vips_runtime.h"

namespace imagen::imaging {

absl::StatusOr<std::string> ToPlanarFloat(const vips::VImage& image, const Normalization& norm) {
  RETURN_IF_ERROR(EnsureVips());
  const int c = image.bands();
  if (image.format() != VIPS_FORMAT_UCHAR) return absl::InternalError("ToPlanarFloat needs an 8-bit image");
  if (static_cast<int>(norm.mean.size()) < c || static_cast<int>(norm.std.size()) < c) {
    return absl::InternalError("normalization has fewer channels than the image");
  }
  ASSIGN_OR_RETURN(vips::VImage mem,
                   VipsTry(absl::StatusCode::kInternal, "reading pixels", [&] { return image.copy_memory(); }));
  const int w = mem.width(), h = mem.height();
  const auto* px = static_cast<const uint8_t*>(mem.data());
  std::string out(static_cast<size_t>(c) * h * w * sizeof(float), '\0');
  auto* dst = reinterpret_cast<float*>(out.data());
  for (int ch = 0; ch < c; ++ch) {
    // Precomputed lookup: 256 possible values per channel.
    float lut[256];
    for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>((v / 255.0 - norm.mean[ch]) / norm.std[ch]);
    float* plane = dst + static_cast<size_t>(ch) * h * w;
    for (size_t i = 0, n = static_cast<size_t>(h) * w; i < n; ++i) plane[i] = lut[px[i * c + ch]];
  }
  return out;
}

absl::StatusOr<vips::VImage> FromPlanarFloat(const std::string& data, int channels, int height, int width,
                                             const Normalization& norm) {
  RETURN_IF_ERROR(EnsureVips());
  const size_t n = static_cast<size_t>(height) * width;
  if (data.size() != n * channels * sizeof(float)) {
    return absl::InternalError(
        absl::StrCat("model output has ", data.size(), " bytes; expected ", n * channels * sizeof(float)));
  }
  const auto* src = reinterpret_cast<const float*>(data.data());
  std::vector<uint8_t> px(n * channels);
  for (int ch = 0; ch < channels; ++ch) {
    const float* plane = src + ch * n;
    const double m = ch < static_cast<int>(norm.mean.size()) ? norm.mean[ch] : 0;
    const double s = ch < static_cast<int>(norm.std.size()) ? norm.std[ch] : 1;
    for (size_t i = 0; i < n; ++i) {
      double v = (plane[i] * s + m) * 255.0;
      if (!(v >= 0)) v = 0;  // also NaN
      px[i * channels + ch] = static_cast<uint8_t>(std::lround(std::min(255.0, v)));
    }
  }
  return VipsTry(absl::StatusCode::kInternal, "building image", [&] {
    vips::VImage img = ImageFromMemoryCopy(px.data(), px.size(), width, height, channels, VIPS_FORMAT_UCHAR);
    img = img.copy(vips::VImage::option()->set("interpretation",
                                               channels >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W));
    return img.copy_memory();
  });
}

absl::StatusOr<vips::VImage> FloatPlane(const std::string& data, int height, int width) {
  RETURN_IF_ERROR(EnsureVips());
  const size_t n = static_cast<size_t>(height) * width;
  if (data.size() != n * sizeof(float)) {
    return absl::InternalError(absl::StrCat("model output has ", data.size(), " bytes; expected ", n * 4));
  }
  return VipsTry(absl::StatusCode::kInternal, "building mask", [&] {
    vips::VImage img = ImageFromMemoryCopy(data.data(), data.size(), width, height, 1, VIPS_FORMAT_FLOAT);
    return img.copy_memory();
  });
}

}  // namespace imagen::imaging
