// Helpers every built-in operation shares: the common output parameters
// (format, quality), decoding the input under the configured limits,
// encoding the result, and progress / cancellation checks. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "imaging/codec.h"
#include "ops/operation.h"
#include "vips/vips8"

namespace imagen::ops {

// `format` (png|jpeg|webp, default `default_format`) and `quality` (1-100).
std::vector<ParamSpec> OutputParams(const std::string& default_format);

// Decodes `input` to 8-bit sRGB(A); errors are InvalidArgument.
absl::StatusOr<vips::VImage> DecodeInput(const ImageBlob& input, const imaging::DecodeLimits& limits);

// Before the work: InvalidArgument when the output an operation will make,
// width x height, is over the output limit or more than the `format`
// parameter's encoder can write (JPEG 65,500, WebP 16,383 per side).
absl::Status CheckPlannedOutput(const ParamValues& params, int64_t width, int64_t height,
                                const imaging::DecodeLimits& limits);

// Encodes with the `format` and `quality` parameters.
absl::StatusOr<ImageBlob> EncodeOutput(const vips::VImage& image, const ParamValues& params);

// Cancelled when ctx.cancelled() says so.
absl::Status CheckCancelled(const OpContext& ctx);
void ReportProgress(const OpContext& ctx, double fraction);

}  // namespace imagen::ops
