// Cheap, decoder-free checks of an uploaded image before it is queued: the
// format from its magic bytes (JPEG, PNG, WebP, GIF), its dimensions from the
// header, and signs of truncation (missing end markers). Catches non-images,
// truncated uploads and pixel bombs at submit time; the operation's decoder
// remains the final judge. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace imagen::api {

struct ImageInfo {
  std::string format;     // "jpeg", "png", "webp", "gif"
  std::string mime_type;  // "image/jpeg", ...
  uint32_t width = 0;
  uint32_t height = 0;
};

// InvalidArgument naming the problem for a non-image or a truncated image.
absl::StatusOr<ImageInfo> SniffImage(std::string_view bytes);

struct ImageLimits {
  uint64_t max_pixels = 40'000'000;
  uint32_t max_side = 16384;
  std::vector<std::string> formats = {"jpeg", "png", "webp"};
};
// SniffImage plus the configured limits (format allow-list, pixels, sides)
// and the pixels-per-byte floor of imaging::CheckPixelsPerByte; OutOfRange
// for an image over a limit or claiming more pixels than its bytes hold.
absl::StatusOr<ImageInfo> CheckImage(std::string_view bytes, const ImageLimits& limits);

}  // namespace imagen::api
