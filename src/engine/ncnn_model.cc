#include "engine/ncnn_model.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/env.h"
#include "common/status_macros.h"
#include "engine/half.h"

namespace imagen::engine {
namespace {

constexpr uint32_t kTagFp16 = 0x01306B47;
constexpr uint32_t kTagInt8 = 0x000D4B38;
constexpr uint32_t kTagFp32Raw = 0x0002C056;

class BinReader {
 public:
  BinReader(std::string_view data, std::string where) : data_(data), where_(std::move(where)) {}

  void set_where(std::string where) { where_ = std::move(where); }
  size_t remaining() const { return data_.size() - pos_; }

  absl::Status Read(void* dst, size_t n) {
    if (n > remaining()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where_, ": weight file truncated (need ", n, " bytes, ", remaining(), " left)"));
    }
    std::memcpy(dst, data_.data() + pos_, n);
    pos_ += n;
    return absl::OkStatus();
  }
  absl::Status Skip(size_t n) {
    if (n > remaining()) return absl::InvalidArgumentError(absl::StrCat(where_, ": weight file truncated"));
    pos_ += n;
    return absl::OkStatus();
  }

  // ncnn ModelBin::load(w, 1): raw little-endian fp32.
  absl::StatusOr<std::vector<float>> LoadRaw(int64_t w) {
    if (w < 0) return absl::InvalidArgumentError(absl::StrCat(where_, ": negative weight size"));
    std::vector<float> out(static_cast<size_t>(w));
    RETURN_IF_ERROR(Read(out.data(), out.size() * sizeof(float)));
    return out;
  }

  // ncnn ModelBin::load(w, 0): a 4-byte storage tag, then fp16 / quantized /
  // fp32 data.
  absl::StatusOr<std::vector<float>> LoadTagged(int64_t w) {
    if (w < 0) return absl::InvalidArgumentError(absl::StrCat(where_, ": negative weight size"));
    unsigned char f[4] = {0, 0, 0, 0};
    RETURN_IF_ERROR(Read(f, 4));
    uint32_t tag;
    std::memcpy(&tag, f, 4);
    size_t n = static_cast<size_t>(w);
    std::vector<float> out(n);
    if (tag == kTagFp16) {
      std::vector<uint16_t> half(n);
      RETURN_IF_ERROR(Read(half.data(), n * 2));
      RETURN_IF_ERROR(Skip(Align4(n * 2) - n * 2));
      for (size_t i = 0; i < n; ++i) out[i] = HalfToFloat(half[i]);
      return out;
    }
    if (tag == kTagInt8) {
      return absl::UnimplementedError(absl::StrCat(where_, ": int8 weight storage is not supported"));
    }
    if (tag == kTagFp32Raw) {
      RETURN_IF_ERROR(Read(out.data(), n * sizeof(float)));
      return out;
    }
    if (f[0] + f[1] + f[2] + f[3] != 0) {  // 8-bit codebook
      float table[256];
      RETURN_IF_ERROR(Read(table, sizeof(table)));
      std::vector<uint8_t> index(n);
      RETURN_IF_ERROR(Read(index.data(), n));
      RETURN_IF_ERROR(Skip(Align4(n) - n));
      for (size_t i = 0; i < n; ++i) out[i] = table[index[i]];
      return out;
    }
    RETURN_IF_ERROR(Read(out.data(), n * sizeof(float)));
    return out;
  }

 private:
  static size_t Align4(size_t n) { return (n + 3) & ~size_t{3}; }

  std::string_view data_;
  size_t pos_ = 0;
  std::string where_;
};

absl::Status LoadLayer(const NcnnLayer& layer, BinReader& r, NcnnLayerWeights* w) {
  const NcnnParamDict& p = layer.params;
  const std::string& t = layer.type;
  auto push = [&](absl::StatusOr<std::vector<float>> a) -> absl::Status {
    if (!a.ok()) return a.status();
    w->arrays.push_back(std::move(a).value());
    return absl::OkStatus();
  };
  if (t == "Convolution" || t == "ConvolutionDepthWise" || t == "Deconvolution" || t == "DeconvolutionDepthWise" ||
      t == "InnerProduct") {
    const bool fc = t == "InnerProduct";
    const int num_output = p.GetInt(0, 0);
    const int bias_term = p.GetInt(fc ? 1 : 5, 0);
    const int weight_size = p.GetInt(fc ? 2 : 6, 0);
    if (p.GetInt(8, 0) != 0) return absl::UnimplementedError("int8 quantized layers are not supported");
    if (!fc && p.GetInt(19, 0) != 0) return absl::UnimplementedError("dynamic-weight convolution is not supported");
    if (num_output <= 0 || weight_size <= 0 || weight_size % num_output != 0) {
      return absl::InvalidArgumentError("bad num_output / weight_data_size");
    }
    RETURN_IF_ERROR(push(r.LoadTagged(weight_size)));
    if (bias_term) RETURN_IF_ERROR(push(r.LoadRaw(num_output)));
    return absl::OkStatus();
  }
  if (t == "PReLU") {
    const int n = p.GetInt(0, 0);
    if (n <= 0) return absl::InvalidArgumentError("bad num_slope");
    return push(r.LoadRaw(n));
  }
  if (t == "Scale") {
    const int n = p.GetInt(0, 0);
    if (n == -233) return absl::OkStatus();  // scale comes from the second bottom
    if (n <= 0) return absl::InvalidArgumentError("bad scale_data_size");
    RETURN_IF_ERROR(push(r.LoadRaw(n)));
    if (p.GetInt(1, 0)) RETURN_IF_ERROR(push(r.LoadRaw(n)));
    return absl::OkStatus();
  }
  if (t == "BatchNorm") {
    const int n = p.GetInt(0, 0);
    if (n <= 0) return absl::InvalidArgumentError("bad channels");
    for (int k = 0; k < 4; ++k) RETURN_IF_ERROR(push(r.LoadRaw(n)));  // slope, mean, var, bias
    return absl::OkStatus();
  }
  const auto& ok = SupportedNcnnLayerTypes();
  if (std::find(ok.begin(), ok.end(), t) != ok.end()) return absl::OkStatus();  // no weights
  return absl::UnimplementedError(absl::StrCat("unsupported ncnn layer type '", t, "'"));
}

}  // namespace

const std::vector<std::string>& SupportedNcnnLayerTypes() {
  static const std::vector<std::string> kTypes = {"Input",
                                                  "Convolution",
                                                  "ConvolutionDepthWise",
                                                  "Deconvolution",
                                                  "DeconvolutionDepthWise",
                                                  "InnerProduct",
                                                  "PReLU",
                                                  "ReLU",
                                                  "Sigmoid",
                                                  "Scale",
                                                  "BatchNorm",
                                                  "BinaryOp",
                                                  "Eltwise",
                                                  "Split",
                                                  "Concat",
                                                  "Crop",
                                                  "Padding",
                                                  "Pooling",
                                                  "Interp",
                                                  "PixelShuffle",
                                                  "Noop"};
  return kTypes;
}

absl::StatusOr<NcnnModel> ParseNcnnModel(NcnnParamFile graph, std::string_view bin) {
  NcnnModel model;
  model.weights.resize(graph.layers.size());
  BinReader reader(bin, "");
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    const NcnnLayer& layer = graph.layers[i];
    std::string where = absl::StrCat("ncnn layer '", layer.name, "' (", layer.type, ")");
    reader.set_where(where);
    absl::Status s = LoadLayer(layer, reader, &model.weights[i]);
    if (!s.ok())
      return absl::Status(s.code(), s.message().find("ncnn layer") == 0 ? std::string(s.message())
                                                                        : absl::StrCat(where, ": ", s.message()));
  }
  if (reader.remaining() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ncnn weight file has ", reader.remaining(), " unread bytes: it does not match the .param file"));
  }
  model.graph = std::move(graph);
  return model;
}

absl::StatusOr<NcnnModel> LoadNcnnModel(const std::string& param_path, const std::string& bin_path) {
  Env* env = Env::Default();
  ASSIGN_OR_RETURN(std::string param_text, env->ReadFile(param_path));
  ASSIGN_OR_RETURN(std::string bin, env->ReadFile(bin_path));
  absl::StatusOr<NcnnParamFile> graph = ParseNcnnParam(param_text);
  if (!graph.ok()) return absl::Status(graph.status().code(), absl::StrCat(param_path, ": ", graph.status().message()));
  absl::StatusOr<NcnnModel> model = ParseNcnnModel(std::move(graph).value(), bin);
  if (!model.ok()) return absl::Status(model.status().code(), absl::StrCat(bin_path, ": ", model.status().message()));
  return model;
}

}  // namespace imagen::engine
