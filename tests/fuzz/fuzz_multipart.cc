// libFuzzer target: the multipart/form-data upload parser. The input is
// "<content-type>\n<body>" so both the boundary parameter and the body vary.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string_view content_type = nl == std::string_view::npos ? in : in.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  auto parts = imagen::api::ParseMultipart(content_type, body);
  if (parts.ok()) {
    for (const auto& p : *parts) {
      // Every view must lie inside the body.
      if (!p.data.empty() &&
          (p.data.data() < body.data() || p.data.data() + p.data.size() > body.data() + body.size())) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
