#include "imaging/codec.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "imaging/decode_budget.h"
#include "imaging/vips_runtime.h"

namespace imagen::imaging {
namespace {

constexpr char kReadable[] = "JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF or JPEG XL";

// Maps a libvips loader class name to the format name we accept; empty for a
// loader we do not expose (ImageMagick, PDF, SVG, ...: large attack surface).
std::string FormatOfLoader(const std::string& loader) {
  std::string l = absl::AsciiStrToLower(loader);
  static const std::pair<const char*, const char*> kAllowed[] = {
      {"jpeg", "jpeg"}, {"png", "png"},   {"webp", "webp"}, {"gif", "gif"},
      {"tiff", "tiff"}, {"heif", "heif"}, {"jxl", "jxl"},
  };
  if (l.find("magick") != std::string::npos) return "";
  for (const auto& [needle, name] : kAllowed) {
    if (l.find(needle) != std::string::npos) return name;
  }
  return "";
}

std::string Megapixels(int64_t pixels) { return absl::StrFormat("%.1f", static_cast<double>(pixels) / 1e6); }

absl::StatusOr<vips::VImage> LoadLazily(const std::string& bytes, const DecodeLimits& limits, ImageHeader* header) {
  RETURN_IF_ERROR(EnsureVips());
  if (bytes.empty()) return absl::InvalidArgumentError("the image is empty (zero bytes)");
  if (static_cast<int64_t>(bytes.size()) > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the image is ", bytes.size(), " bytes; the limit is ", limits.max_bytes, " bytes"));
  }
  const char* loader = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  vips_error_clear();
  std::string format = loader != nullptr ? FormatOfLoader(loader) : "";
  if (format.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("not an image imagen can read (expected ", kReadable, ")"));
  }
  ASSIGN_OR_RETURN(vips::VImage image,
                   VipsTry(absl::StatusCode::kInvalidArgument,
                           absl::StrCat("cannot read the ", format, " header: the data is corrupt or truncated"), [&] {
                             return vips::VImage::new_from_buffer(
                                 bytes.data(), bytes.size(), "",
                                 vips::VImage::option()->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
                           }));
  header->format = format;
  header->width = image.width();
  header->height = image.height();
  header->bands = image.bands();
  header->has_alpha = image.has_alpha();
  header->sample_bytes = std::max(1, static_cast<int>(vips_format_sizeof(image.format())));
  header->pages = 1;
  if (image.get_typeof(VIPS_META_N_PAGES) != 0) header->pages = std::max(1, image.get_int(VIPS_META_N_PAGES));
  if (image.get_typeof(VIPS_META_PAGE_HEIGHT) != 0 && header->pages > 1) {
    header->height = image.get_int(VIPS_META_PAGE_HEIGHT);
  }
  if (header->width <= 0 || header->height <= 0) {
    return absl::InvalidArgumentError("the image header gives an empty size");
  }
  const int64_t pixels = static_cast<int64_t>(header->width) * header->height;
  if (pixels > limits.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("the image is ", header->width, "x", header->height, " (",
                                                   Megapixels(pixels), " megapixels); the limit is ",
                                                   Megapixels(limits.max_pixels), " megapixels"));
  }
  if (header->width > limits.max_side || header->height > limits.max_side) {
    return absl::InvalidArgumentError(absl::StrCat("the image is ", header->width, "x", header->height,
                                                   "; the limit is ", limits.max_side, " pixels per side"));
  }
  RETURN_IF_ERROR(CheckPixelsPerByte(format, static_cast<int64_t>(bytes.size()), pixels));
  if (header->pages > 1 && limits.animated == AnimatedPolicy::kRefuse) {
    return absl::InvalidArgumentError(
        absl::StrCat("animated images are not accepted (this one has ", header->pages, " frames)"));
  }
  return image;
}

// 8-bit sRGB(A) from whatever the loader produced.
vips::VImage ToSrgb8(vips::VImage image) {
  if (image.get_typeof(VIPS_META_ICC_NAME) != 0 && image.interpretation() != VIPS_INTERPRETATION_MULTIBAND) {
    try {
      image = image.icc_transform("srgb", vips::VImage::option()->set("embedded", true)->set("depth", 8));
    } catch (const vips::VError&) {
      RunVipsHook("icc_transform");
      vips_error_clear();  // a broken profile: fall back to the plain conversion
    }
  }
  if (image.interpretation() != VIPS_INTERPRETATION_sRGB || image.format() != VIPS_FORMAT_UCHAR) {
    VipsInterpretation in = image.interpretation();
    if (in == VIPS_INTERPRETATION_MULTIBAND || in == VIPS_INTERPRETATION_HISTOGRAM ||
        in == VIPS_INTERPRETATION_FOURIER || in == VIPS_INTERPRETATION_MATRIX) {
      image = image.copy(vips::VImage::option()->set(
          "interpretation", image.bands() >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W));
    }
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
  if (image.bands() == 1) image = vips::VImage::bandjoin({image, image, image});
  if (image.bands() == 2) image = vips::VImage::bandjoin({image[0], image[0], image[0], image[1]});
  if (image.bands() > 4) image = image.extract_band(0, vips::VImage::option()->set("n", 4));
  return image;
}

}  // namespace

absl::StatusOr<ImageHeader> ProbeImage(const std::string& bytes, const DecodeLimits& limits) {
  ImageHeader header;
  ASSIGN_OR_RETURN(vips::VImage unused, LoadLazily(bytes, limits, &header));
  (void)unused;
  return header;
}

absl::StatusOr<vips::VImage> DecodeImage(const std::string& bytes, const DecodeLimits& limits) {
  ImageHeader header;
  ASSIGN_OR_RETURN(vips::VImage image, LoadLazily(bytes, limits, &header));
  ASSIGN_OR_RETURN(
      DecodeBudget::Reservation reservation,
      DecodeBudget::Global().Reserve(DecodeCostBytes(header.width, header.height, header.bands, header.sample_bytes)));
  RunVipsHook("decode");
  ASSIGN_OR_RETURN(vips::VImage out, VipsTry(absl::StatusCode::kInvalidArgument,
                                             absl::StrCat("the ", header.format, " data is corrupt or truncated"), [&] {
                                               // Decode everything now: errors surface here, and the
                                               // result no longer refers to `bytes`.
                                               return ToSrgb8(image.autorot()).copy_memory();
                                             }));
  // What was decoded, not what the header said (a GIF frame can be larger
  // than its logical screen): no more pixels than the header (either
  // orientation), and within the limits.
  const int64_t w = out.width(), h = out.height();
  const bool as_said = (w <= header.width && h <= header.height) || (w <= header.height && h <= header.width);
  if (!as_said || w > limits.max_side || h > limits.max_side || w * h > limits.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("the ", header.format, " image decodes to ", w, "x", h, ", not the ",
                                                   header.width, "x", header.height,
                                                   " its header gives, or over the limits"));
  }
  return out;
}

absl::Status CheckOutputSize(int64_t width, int64_t height, const DecodeLimits& limits) {
  if (width * height > limits.max_output_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("the output would be ", width, "x", height, " (",
                                                   Megapixels(width * height), " megapixels); the output limit is ",
                                                   Megapixels(limits.max_output_pixels), " megapixels"));
  }
  return absl::OkStatus();
}

int64_t MaxEncodableSide(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return 65500;
    case ImageFormat::kWebp:
      return 16383;
    case ImageFormat::kPng:
      return 2147483647;
  }
  return 0;
}

absl::Status CheckEncodable(ImageFormat format, int64_t width, int64_t height) {
  const int64_t max = MaxEncodableSide(format);
  if (width > max || height > max) {
    return absl::InvalidArgumentError(absl::StrCat("the output would be ", width, "x", height, "; ",
                                                   ImageFormatName(format), " allows at most ", max,
                                                   " pixels per side (choose another format)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageFormat> ParseImageFormat(const std::string& name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "png") return ImageFormat::kPng;
  if (n == "jpeg" || n == "jpg") return ImageFormat::kJpeg;
  if (n == "webp") return ImageFormat::kWebp;
  return absl::InvalidArgumentError(absl::StrCat("unknown output format '", name, "' (png, jpeg or webp)"));
}

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kWebp:
      return "webp";
  }
  return "png";
}

const char* ImageFormatMime(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng:
      return "image/png";
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kWebp:
      return "image/webp";
  }
  return "image/png";
}

absl::StatusOr<std::string> EncodeImage(const vips::VImage& image, const EncodeOptions& options) {
  RETURN_IF_ERROR(EnsureVips());
  if (options.quality < 1 || options.quality > 100) {
    return absl::InvalidArgumentError(absl::StrCat("quality ", options.quality, " is outside 1-100"));
  }
  RETURN_IF_ERROR(CheckEncodable(options.format, image.width(), image.height()));
  return VipsTry(absl::StatusCode::kInternal, absl::StrCat("encoding ", ImageFormatName(options.format)), [&] {
    vips::VImage img = image;
    if (img.format() != VIPS_FORMAT_UCHAR) img = img.cast(VIPS_FORMAT_UCHAR);
    void* buf = nullptr;
    size_t len = 0;
    switch (options.format) {
      case ImageFormat::kPng:
        img.write_to_buffer(".png", &buf, &len, vips::VImage::option()->set("strip", true)->set("compression", 6));
        break;
      case ImageFormat::kJpeg:
        if (img.bands() == 4) {
          img = img.flatten(vips::VImage::option()->set(
              "background", std::vector<double>(options.background, options.background + 3)));
          img = img.cast(VIPS_FORMAT_UCHAR);
        }
        img.write_to_buffer(".jpg", &buf, &len, vips::VImage::option()->set("strip", true)->set("Q", options.quality));
        break;
      case ImageFormat::kWebp:
        img.write_to_buffer(".webp", &buf, &len, vips::VImage::option()->set("strip", true)->set("Q", options.quality));
        break;
    }
    std::string out(static_cast<const char*>(buf), len);
    g_free(buf);
    return out;
  });
}

}  // namespace imagen::imaging
