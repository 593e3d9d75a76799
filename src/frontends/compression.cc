#include "frontends/compression.h"

#include <zlib.h>

#include "absl/strings/str_cat.h"

namespace imagen::frontends {

absl::StatusOr<std::string> Decompress(const std::string& data, const std::string& encoding, size_t limit) {
  if (encoding != "gzip" && encoding != "deflate") {
    return absl::InvalidArgumentError(absl::StrCat("unsupported Content-Encoding '", encoding, "'"));
  }
  for (int window : {15 + 32, -15}) {  // gzip or zlib (auto-detected), then raw deflate
    z_stream z{};
    if (inflateInit2(&z, window) != Z_OK) return absl::InternalError("zlib init failed");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    std::string out;
    char buf[65536];
    int rc = Z_OK;
    while (rc == Z_OK) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof(buf);
      rc = inflate(&z, Z_NO_FLUSH);
      out.append(buf, sizeof(buf) - z.avail_out);
      if (out.size() > limit) {
        inflateEnd(&z);
        return absl::ResourceExhaustedError(absl::StrCat("decompressed body exceeds ", limit, " bytes"));
      }
      if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
    }
    inflateEnd(&z);
    if (rc == Z_STREAM_END) return out;
  }
  return absl::InvalidArgumentError(absl::StrCat("cannot decompress the ", encoding, " request body"));
}

absl::StatusOr<std::string> Compress(const std::string& data, const std::string& encoding) {
  int window = encoding == "gzip" ? 15 + 16 : 15;
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("zlib init failed");
  }
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return absl::InternalError("compression failed");
  return out;
}

}  // namespace imagen::frontends
