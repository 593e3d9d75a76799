// gzip / deflate for HTTP bodies (Content-Encoding / Accept-Encoding) on zlib,
// with an output size limit against decompression bombs. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace imagen::frontends {

// `encoding` is "gzip" or "deflate" (zlib-wrapped or raw). InvalidArgument
// on corrupt data; ResourceExhausted past `limit` bytes.
absl::StatusOr<std::string> Decompress(const std::string& data, const std::string& encoding, size_t limit);
absl::StatusOr<std::string> Compress(const std::string& data, const std::string& encoding);

}  // namespace imagen::frontends
