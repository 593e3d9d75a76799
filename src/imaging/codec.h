// Decoding and encoding of user images on libvips, with the input limits the
// platform enforces: the header is read first and anything over the pixel
// limit is refused before a single pixel is decoded. Decoded images are
// 8-bit sRGB (3 bands) or sRGBA (4 bands) with EXIF orientation applied.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "vips/vips8"

namespace imagen::imaging {

enum class AnimatedPolicy { kFirstFrame, kRefuse };

struct DecodeLimits {
  int64_t max_pixels = 40'000'000;          // width * height of the input
  int64_t max_output_pixels = 160'000'000;  // width * height an operation may produce
  int64_t max_bytes = 64 << 20;             // encoded input size
  AnimatedPolicy animated = AnimatedPolicy::kFirstFrame;
};

// What the header says, before any pixel is decoded.
struct ImageHeader {
  std::string format;  // "jpeg", "png", "webp", "gif", "tiff", "heif", "jxl"
  int width = 0;
  int height = 0;
  int bands = 0;
  int pages = 1;  // frames of an animated image
  bool has_alpha = false;
};

// Reads and checks the header: known format, positive size, within limits.
// Errors are InvalidArgument with a message fit for the user.
absl::StatusOr<ImageHeader> ProbeImage(const std::string& bytes, const DecodeLimits& limits);

// Fully decodes (so that truncated data fails here, not later) to 8-bit sRGB
// or sRGBA, EXIF orientation applied, first frame of an animation.
absl::StatusOr<vips::VImage> DecodeImage(const std::string& bytes, const DecodeLimits& limits);

// InvalidArgument when an output of width x height would exceed the limit.
absl::Status CheckOutputSize(int64_t width, int64_t height, const DecodeLimits& limits);

enum class ImageFormat { kPng, kJpeg, kWebp };
// "png", "jpeg"/"jpg", "webp" (case-insensitive).
absl::StatusOr<ImageFormat> ParseImageFormat(const std::string& name);
const char* ImageFormatName(ImageFormat format);
const char* ImageFormatMime(ImageFormat format);

struct EncodeOptions {
  ImageFormat format = ImageFormat::kPng;
  int quality = 90;  // JPEG and WebP, 1-100
  // JPEG has no alpha: a 4-band image is flattened onto this colour.
  double background[3] = {255, 255, 255};
};

// Encodes a 1-4 band 8-bit image. PNG keeps alpha; JPEG flattens it; WebP
// keeps it.
absl::StatusOr<std::string> EncodeImage(const vips::VImage& image, const EncodeOptions& options);

}  // namespace imagen::imaging
