// libFuzzer target: ncnn .param text files.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/ncnn_param.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto param = imagen::engine::ParseNcnnParam(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)param;
  return 0;
}
