// The models the built-in operations call, by Triton model repository name:
// where each comes from (npm package and files), its tensors, and how its
// input is tiled. One table read by the operations and by
// `imagen models fetch`. Immutable; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace imagen::ops {

enum class ModelFormat { kOnnx, kNcnn };

struct ModelInfo {
  std::string name;  // Triton repository name, e.g. "realesr-animevideov3-x4"
  ModelFormat format = ModelFormat::kNcnn;
  std::string input;   // input tensor name
  std::string output;  // output tensor name
  int scale = 1;       // output size / input size
  // Pixels of context each tile needs on every side, and the multiple the
  // padded tile edge must be (waifu2x / Real-CUGAN downsample inside).
  int context = 0;
  int align = 1;
  // npm package ("name@version") and the file stem inside it:
  // "<stem>.param" + "<stem>.bin" for ncnn; for ONNX the resources.json key.
  std::string package;
  std::string source;
  std::string license;
  std::string description;
};

const std::vector<ModelInfo>& ModelCatalog();
// nullptr when unknown.
const ModelInfo* FindModel(const std::string& name);

constexpr char kBackgroundRemovalPackage[] = "@imgly/background-removal-data@1.4.5";
constexpr char kWaifu2xPackage[] = "waifu2x@1.6.5";

}  // namespace imagen::ops
