#include "imaging/resize.h"

#include <algorithm>

#include "imaging/vips_runtime.h"

namespace imagen::imaging {

absl::StatusOr<vips::VImage> ResizeBilinear(const vips::VImage& image, int width, int height) {
  return VipsTry(absl::StatusCode::kInternal, "resizing", [&] {
    vips::VImage r = image;
    // Reduce the axes that shrink (vips' reduce is an antialiased filter,
    // like PIL's), leaving the others alone.
    const double dx = std::min(1.0, static_cast<double>(width) / r.width());
    const double dy = std::min(1.0, static_cast<double>(height) / r.height());
    if (dx < 1 || dy < 1) {
      r = r.resize(dx, vips::VImage::option()->set("vscale", dy)->set("kernel", VIPS_KERNEL_LINEAR));
    }
    // Enlarge the rest with a bilinear affine whose pixel centres line up:
    // out + 0.5 = s * (in + 0.5).
    if (r.width() != width || r.height() != height) {
      const double ux = static_cast<double>(width) / r.width(), uy = static_cast<double>(height) / r.height();
      r = r.affine({ux, 0, 0, uy}, vips::VImage::option()
                                       ->set("interpolate", vips::VInterpolate::new_from_name("bilinear"))
                                       ->set("oarea", std::vector<int>{0, 0, width, height})
                                       ->set("odx", 0.5 * ux - 0.5)
                                       ->set("ody", 0.5 * uy - 0.5)
                                       ->set("extend", VIPS_EXTEND_COPY));
    }
    if (r.format() != image.format()) r = r.cast(image.format());
    return r.copy_memory();
  });
}

}  // namespace imagen::imaging
