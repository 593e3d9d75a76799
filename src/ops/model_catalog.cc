#include "ops/model_catalog.h"

namespace imagen::ops {
namespace {

std::vector<ModelInfo> BuildCatalog() {
  std::vector<ModelInfo> c;
  const std::string kAgpl = "AGPL-3.0 (IMG.LY background removal data)";
  c.push_back({"isnet", ModelFormat::kOnnx, "input", "output", 1, 0, 1, kBackgroundRemovalPackage, "/models/medium",
               kAgpl, "ISNet (DIS) salient-object mask, fp16 weights, 1x3x1024x1024"});
  c.push_back({"isnet-small", ModelFormat::kOnnx, "input", "output", 1, 0, 1, kBackgroundRemovalPackage,
               "/models/small", kAgpl, "ISNet (DIS) salient-object mask, dynamic int8 weights, 1x3x1024x1024"});
  const std::string kEsrgan = "BSD-3-Clause (Real-ESRGAN, xinntao), shipped in waifu2x@1.6.5 (MIT)";
  for (int s : {2, 3, 4}) {
    std::string n = "realesr-animevideov3-x" + std::to_string(s);
    c.push_back({n, ModelFormat::kNcnn, "data", "output", s, 16, 1, kWaifu2xPackage, "real-esrgan/models/" + n, kEsrgan,
                 "Real-ESRGAN compact (SRVGG) anime video model, x" + std::to_string(s)});
  }
  c.push_back({"realesrgan-x4plus-anime", ModelFormat::kNcnn, "data", "output", 4, 24, 1, kWaifu2xPackage,
               "real-esrgan/models/realesrgan-x4plus-anime", kEsrgan, "Real-ESRGAN RRDB x4plus anime 6B, x4"});
  const std::string kCugan = "MIT (Real-CUGAN, bilibili), shipped in waifu2x@1.6.5 (MIT)";
  struct Cugan {
    int scale;
    const char* variant;
  };
  for (Cugan v : {Cugan{2, "conservative"}, Cugan{2, "denoise1x"}, Cugan{2, "denoise2x"}, Cugan{2, "denoise3x"},
                  Cugan{2, "no-denoise"}, Cugan{3, "conservative"}, Cugan{3, "denoise3x"}, Cugan{3, "no-denoise"},
                  Cugan{4, "conservative"}, Cugan{4, "denoise3x"}, Cugan{4, "no-denoise"}}) {
    std::string stem = "up" + std::to_string(v.scale) + "x-" + v.variant;
    const int context = v.scale == 2 ? 18 : v.scale == 3 ? 14 : 19;
    const int align = v.scale == 2 ? 2 : 4;
    c.push_back({"realcugan-" + stem, ModelFormat::kNcnn, "in0", "out0", v.scale, context, align, kWaifu2xPackage,
                 "real-cugan/models-se/" + stem, kCugan, "Real-CUGAN (SE) " + stem});
  }
  const std::string kW2x = "MIT (waifu2x, nagadomi), shipped in waifu2x@1.6.5 (MIT)";
  for (int noise = 0; noise <= 3; ++noise) {
    std::string n = std::to_string(noise);
    c.push_back({"waifu2x-cunet-noise" + n, ModelFormat::kNcnn, "Input1", "Eltwise4", 1, 28, 4, kWaifu2xPackage,
                 "waifu2x/models-cunet/noise" + n + "_model", kW2x, "waifu2x CUnet denoise level " + n + ", x1"});
    c.push_back({"waifu2x-cunet-noise" + n + "-x2", ModelFormat::kNcnn, "Input1", "Eltwise4", 2, 18, 4, kWaifu2xPackage,
                 "waifu2x/models-cunet/noise" + n + "_scale2.0x_model", kW2x,
                 "waifu2x CUnet denoise level " + n + ", x2"});
  }
  c.push_back({"waifu2x-cunet-x2", ModelFormat::kNcnn, "Input1", "Eltwise4", 2, 18, 4, kWaifu2xPackage,
               "waifu2x/models-cunet/scale2.0x_model", kW2x, "waifu2x CUnet, no denoise, x2"});
  c.push_back({"waifu2x-upconv7-x2", ModelFormat::kNcnn, "Input1", "Eltwise4", 2, 7, 1, kWaifu2xPackage,
               "waifu2x/models-upconv_7_anime_style_art_rgb/scale2.0x_model", kW2x,
               "waifu2x UpConv7 anime style art, no denoise, x2"});
  for (int noise = 0; noise <= 3; ++noise) {
    std::string n = std::to_string(noise);
    c.push_back({"waifu2x-upconv7-noise" + n + "-x2", ModelFormat::kNcnn, "Input1", "Eltwise4", 2, 7, 1,
                 kWaifu2xPackage, "waifu2x/models-upconv_7_anime_style_art_rgb/noise" + n + "_scale2.0x_model", kW2x,
                 "waifu2x UpConv7 anime style art, denoise level " + n + ", x2"});
  }
  return c;
}

}  // namespace

const std::vector<ModelInfo>& ModelCatalog() {
  static const std::vector<ModelInfo>* catalog = new std::vector<ModelInfo>(BuildCatalog());
  return *catalog;
}

const ModelInfo* FindModel(const std::string& name) {
  for (const auto& m : ModelCatalog()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace imagen::ops
