// libFuzzer target: the KServe v2 JSON inference request, without and with
// the binary tensor extension (the first input byte picks the form and the
// JSON header length), as the HTTP frontend hands a body to it. Layout:
// byte 0 odd: bytes 1-2 are the little-endian Inference-Header-Content-Length
// and the body follows; byte 0 even: the body follows at once.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "frontends/kserve_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::optional<size_t> header_length;
  size_t skip = 1;
  if (data[0] & 1) {
    if (size < 3) return 0;
    header_length = static_cast<size_t>(data[1]) | static_cast<size_t>(data[2]) << 8;
    skip = 3;
  }
  std::string body(reinterpret_cast<const char*>(data + skip), size - skip);
  bool binary_default = false;
  std::vector<std::string> binary_outputs, json_outputs;
  auto request = imagen::frontends::ParseInferRequest(body, header_length, "m", "", &binary_default, &binary_outputs,
                                                      &json_outputs);
  (void)request;
  return 0;
}
