// Decoding and encoding of user images on libvips, with the input limits the
// platform enforces: the header is read first and anything over the pixel
// or side limit, or claiming more pixels than its bytes could hold, is
// refused before a single pixel is decoded; each decode then reserves its
// memory from the process-wide DecodeBudget, and the decoded size is checked
// again (a GIF frame may be larger than its logical screen). Decoded images
// are 8-bit sRGB (3 bands) or sRGBA (4 bands) with EXIF orientation applied.
// Encoder limits (JPEG 65,500 px, WebP 16,383 px per side) can be checked
// before an operation runs (CheckEncodable). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "vips/vips8"

namespace imagen::imaging {

enum class AnimatedPolicy { kFirstFrame, kRefuse };

struct DecodeLimits {
  int64_t max_pixels = 40'000'000;          // width * height of the input
  int64_t max_side = 16384;                 // width and height of the input (the API's limits.max_side)
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
  int sample_bytes = 1;  // bytes per band of the loader's pixels (2 for 16-bit)
};

// Reads and checks the header: known format, positive size, within limits,
// no more pixels than imaging::MaxPixelsPerByte allows for its size.
// Errors are InvalidArgument with a message fit for the user.
absl::StatusOr<ImageHeader> ProbeImage(const std::string& bytes, const DecodeLimits& limits);

// Fully decodes (so that truncated data fails here, not later) to 8-bit sRGB
// or sRGBA, EXIF orientation applied, first frame of an animation. Holds a
// DecodeBudget::Global() reservation of the predicted peak while decoding
// (waiting for one if others hold the budget); refuses a result larger
// than the header said or than the limits.
absl::StatusOr<vips::VImage> DecodeImage(const std::string& bytes, const DecodeLimits& limits);

// InvalidArgument when an output of width x height would exceed the limit.
absl::Status CheckOutputSize(int64_t width, int64_t height, const DecodeLimits& limits);

enum class ImageFormat { kPng, kJpeg, kWebp };

// Largest width and height `format` can encode: JPEG 65,500, WebP 16,383
// (PNG: 2^31 - 1).
int64_t MaxEncodableSide(ImageFormat format);
// InvalidArgument naming the format's limit when a width x height image
// cannot be encoded as `format`. EncodeImage checks it too; operations call
// it (through ops::CheckPlannedOutput) before doing the work.
absl::Status CheckEncodable(ImageFormat format, int64_t width, int64_t height);
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
