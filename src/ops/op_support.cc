#include "ops/op_support.h"

#include "common/status_macros.h"

namespace imagen::ops {

std::vector<ParamSpec> OutputParams(const std::string& default_format) {
  return {
      {.name = "format",
       .type = ParamType::kEnum,
       .default_value = default_format,
       .description = "Output image format",
       .choices = {"png", "jpeg", "webp"}},
      {.name = "quality",
       .type = ParamType::kInt,
       .default_value = "90",
       .description = "JPEG/WebP quality (ignored for PNG)",
       .min = 1,
       .max = 100},
  };
}

absl::StatusOr<vips::VImage> DecodeInput(const ImageBlob& input, const imaging::DecodeLimits& limits) {
  return imaging::DecodeImage(input.bytes, limits);
}

absl::Status CheckPlannedOutput(const ParamValues& params, int64_t width, int64_t height,
                                const imaging::DecodeLimits& limits) {
  RETURN_IF_ERROR(imaging::CheckOutputSize(width, height, limits));
  ASSIGN_OR_RETURN(imaging::ImageFormat format, imaging::ParseImageFormat(params.GetString("format")));
  return imaging::CheckEncodable(format, width, height);
}

absl::StatusOr<ImageBlob> EncodeOutput(const vips::VImage& image, const ParamValues& params) {
  imaging::EncodeOptions options;
  ASSIGN_OR_RETURN(options.format, imaging::ParseImageFormat(params.GetString("format")));
  options.quality = static_cast<int>(params.GetInt("quality"));
  ImageBlob out;
  ASSIGN_OR_RETURN(out.bytes, imaging::EncodeImage(image, options));
  out.content_type = imaging::ImageFormatMime(options.format);
  return out;
}

absl::Status CheckCancelled(const OpContext& ctx) {
  if (ctx.cancelled && ctx.cancelled()) return absl::CancelledError("the job was cancelled");
  return absl::OkStatus();
}

void ReportProgress(const OpContext& ctx, double fraction) {
  if (ctx.progress) ctx.progress(fraction);
}

}  // namespace imagen::ops
