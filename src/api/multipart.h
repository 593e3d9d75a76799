// A strict multipart/form-data parser (RFC 7578) for uploads: finds the
// boundary in Content-Type, splits the body into parts, reads each part's
// Content-Disposition name/filename and Content-Type. Malformed input is an
// InvalidArgument naming the problem. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace imagen::api {

struct Part {
  std::string name;
  std::string filename;      // empty for plain fields
  std::string content_type;  // empty when the part has none
  std::string_view data;     // points into the parsed body
};

// Extracts the boundary parameter of a multipart/form-data Content-Type.
absl::StatusOr<std::string> MultipartBoundary(std::string_view content_type);
// Parses `body`; the parts' data views point into `body`.
absl::StatusOr<std::vector<Part>> ParseMultipart(std::string_view content_type, std::string_view body,
                                                 size_t max_parts = 64);

}  // namespace imagen::api
