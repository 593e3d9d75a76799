#include "api/image_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "imaging/decode_budget.h"

namespace imagen::api {

namespace {

uint32_t Be16(std::string_view s, size_t i) {
  return (static_cast<uint8_t>(s[i]) << 8) | static_cast<uint8_t>(s[i + 1]);
}
uint32_t Be32(std::string_view s, size_t i) { return (Be16(s, i) << 16) | Be16(s, i + 2); }
uint32_t Le16(std::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]) | (static_cast<uint8_t>(s[i + 1]) << 8);
}
uint32_t Le24(std::string_view s, size_t i) { return Le16(s, i) | (static_cast<uint8_t>(s[i + 2]) << 16); }
uint32_t Le32(std::string_view s, size_t i) { return Le16(s, i) | (Le16(s, i + 2) << 16); }

absl::Status Truncated(const char* format) {
  return absl::InvalidArgumentError(absl::StrCat("the ", format, " image is truncated"));
}

absl::StatusOr<ImageInfo> Png(std::string_view b) {
  ImageInfo info{"png", "image/png"};
  if (b.size() < 33) return Truncated("PNG");
  if (b.substr(12, 4) != "IHDR") return absl::InvalidArgumentError("PNG has no IHDR chunk");
  info.width = Be32(b, 16);
  info.height = Be32(b, 20);
  // Walk the chunks to IEND.
  size_t pos = 8;
  while (true) {
    if (pos + 12 > b.size()) return Truncated("PNG");
    uint32_t len = Be32(b, pos);
    if (len > b.size()) return Truncated("PNG");
    std::string_view type = b.substr(pos + 4, 4);
    size_t next = pos + 12 + len;
    if (next > b.size()) return Truncated("PNG");
    if (type == "IEND") break;
    pos = next;
  }
  return info;
}

absl::StatusOr<ImageInfo> Jpeg(std::string_view b) {
  ImageInfo info{"jpeg", "image/jpeg"};
  size_t pos = 2;
  bool have_size = false;
  while (pos + 4 <= b.size()) {
    if (static_cast<uint8_t>(b[pos]) != 0xFF) return absl::InvalidArgumentError("JPEG marker structure is corrupt");
    uint8_t marker = static_cast<uint8_t>(b[pos + 1]);
    if (marker == 0xFF) {
      ++pos;
      continue;
    }
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      pos += 2;
      continue;
    }
    uint32_t len = Be16(b, pos + 2);
    if (len < 2 || pos + 2 + len > b.size()) return Truncated("JPEG");
    bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (len < 7) return absl::InvalidArgumentError("JPEG frame header is too short");
      info.height = Be16(b, pos + 5);
      info.width = Be16(b, pos + 7);
      have_size = true;
    }
    if (marker == 0xDA) break;  // start of scan: entropy-coded data follows
    pos += 2 + len;
  }
  if (!have_size) return Truncated("JPEG");
  // The image must end with EOI (allowing trailing padding zeros).
  size_t end = b.size();
  while (end > 2 && b[end - 1] == '\0') --end;
  if (end < 2 || static_cast<uint8_t>(b[end - 2]) != 0xFF || static_cast<uint8_t>(b[end - 1]) != 0xD9) {
    return Truncated("JPEG");
  }
  return info;
}

absl::StatusOr<ImageInfo> Webp(std::string_view b) {
  ImageInfo info{"webp", "image/webp"};
  if (b.size() < 30) return Truncated("WebP");
  uint64_t riff = Le32(b, 4);
  if (riff + 8 > b.size()) return Truncated("WebP");
  std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8X") {
    info.width = Le24(b, 24) + 1;
    info.height = Le24(b, 27) + 1;
  } else if (chunk == "VP8 ") {
    if (static_cast<uint8_t>(b[23]) != 0x9d || static_cast<uint8_t>(b[24]) != 0x01 ||
        static_cast<uint8_t>(b[25]) != 0x2a) {
      return absl::InvalidArgumentError("WebP VP8 frame header is corrupt");
    }
    info.width = Le16(b, 26) & 0x3fff;
    info.height = Le16(b, 28) & 0x3fff;
  } else if (chunk == "VP8L") {
    if (static_cast<uint8_t>(b[20]) != 0x2f) return absl::InvalidArgumentError("WebP lossless header is corrupt");
    uint32_t bits = Le32(b, 21);
    info.width = (bits & 0x3fff) + 1;
    info.height = ((bits >> 14) & 0x3fff) + 1;
  } else {
    return absl::InvalidArgumentError("WebP has an unknown first chunk");
  }
  return info;
}

// Skips GIF data sub-blocks starting at `pos`; npos when truncated.
size_t SkipSubBlocks(std::string_view b, size_t pos) {
  while (pos < b.size()) {
    const uint8_t n = static_cast<uint8_t>(b[pos]);
    pos += 1 + n;
    if (n == 0) return pos <= b.size() ? pos : std::string_view::npos;
  }
  return std::string_view::npos;
}

// The logical screen, grown to cover every frame: decoders draw a frame
// larger than the screen at its own size (a 10 x 10 screen holding a
// 30000 x 1000 frame), so that is the size the limits must see.
absl::StatusOr<ImageInfo> Gif(std::string_view b) {
  ImageInfo info{"gif", "image/gif"};
  if (b.size() < 14) return Truncated("GIF");
  info.width = Le16(b, 6);
  info.height = Le16(b, 8);
  if (b.back() != 0x3B) return Truncated("GIF");
  size_t pos = 13;
  if (static_cast<uint8_t>(b[10]) & 0x80) pos += 3u << ((static_cast<uint8_t>(b[10]) & 7) + 1);
  while (pos < b.size() && b[pos] != 0x3B) {
    const uint8_t block = static_cast<uint8_t>(b[pos]);
    if (block == 0x21) {  // extension: label, sub-blocks
      pos = pos + 2 <= b.size() ? SkipSubBlocks(b, pos + 2) : std::string_view::npos;
    } else if (block == 0x2C) {  // image descriptor
      if (pos + 10 > b.size()) return Truncated("GIF");
      info.width = std::max(info.width, Le16(b, pos + 1) + Le16(b, pos + 5));
      info.height = std::max(info.height, Le16(b, pos + 3) + Le16(b, pos + 7));
      const uint8_t flags = static_cast<uint8_t>(b[pos + 9]);
      pos += 10;
      if (flags & 0x80) pos += 3u << ((flags & 7) + 1);                                // local colour table
      pos = pos + 1 <= b.size() ? SkipSubBlocks(b, pos + 1) : std::string_view::npos;  // LZW size, data
    } else {
      return absl::InvalidArgumentError("GIF block structure is corrupt");
    }
    if (pos == std::string_view::npos) return Truncated("GIF");
  }
  return info;
}

}  // namespace

absl::StatusOr<ImageInfo> SniffImage(std::string_view b) {
  if (b.empty()) return absl::InvalidArgumentError("the image is empty");
  absl::StatusOr<ImageInfo> info;
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) {
    info = Png(b);
  } else if (b.size() >= 3 && static_cast<uint8_t>(b[0]) == 0xFF && static_cast<uint8_t>(b[1]) == 0xD8 &&
             static_cast<uint8_t>(b[2]) == 0xFF) {
    info = Jpeg(b);
  } else if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") {
    info = Webp(b);
  } else if (b.size() >= 6 && (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a")) {
    info = Gif(b);
  } else {
    return absl::InvalidArgumentError("the upload is not an image (expected JPEG, PNG, WebP or GIF)");
  }
  if (!info.ok()) return info;
  if (info->width == 0 || info->height == 0) {
    return absl::InvalidArgumentError(absl::StrCat("the ", info->format, " image has a zero dimension"));
  }
  return info;
}

absl::StatusOr<ImageInfo> CheckImage(std::string_view bytes, const ImageLimits& limits) {
  auto info = SniffImage(bytes);
  if (!info.ok()) return info;
  if (std::find(limits.formats.begin(), limits.formats.end(), info->format) == limits.formats.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image format '", info->format, "' is not accepted (accepted: ", absl::StrJoin(limits.formats, ", "), ")"));
  }
  if (info->width > limits.max_side || info->height > limits.max_side ||
      static_cast<uint64_t>(info->width) * info->height > limits.max_pixels) {
    return absl::OutOfRangeError(absl::StrCat("image is ", info->width, "x", info->height, ", over the limit of ",
                                              limits.max_pixels, " pixels / ", limits.max_side, " per side"));
  }
  // A header claiming far more pixels than its bytes could hold is a decode
  // bomb (a 690-byte JPEG claiming 6000 x 6000).
  absl::Status ratio = imaging::CheckPixelsPerByte(info->format, static_cast<int64_t>(bytes.size()),
                                                   static_cast<int64_t>(info->width) * info->height);
  if (!ratio.ok()) return absl::OutOfRangeError(ratio.message());
  return info;
}

}  // namespace imagen::api
