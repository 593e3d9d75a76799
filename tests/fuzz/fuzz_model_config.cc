// libFuzzer target: config.pbtxt (protobuf text format against Triton's
// model_config.proto), parsed and validated as the repository loads it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "serving/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto config = imagen::serving::ParseModelConfig(text, "fuzz/config.pbtxt");
  if (config.ok()) (void)imagen::serving::ValidateModelConfig(*config);
  return 0;
}
