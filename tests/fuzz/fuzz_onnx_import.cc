// libFuzzer target: ONNX model bytes through the importer (protobuf parse,
// initializers, attributes, graph construction).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/onnx_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  auto graph = imagen::engine::ImportOnnx(bytes);
  (void)graph;
  auto tensor = imagen::engine::ParseOnnxTensor(bytes);
  (void)tensor;
  return 0;
}
