#include "serving/engine_backend.h"

#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/engine.h"

namespace imagen::serving {
namespace {

std::string ModelPath(const inference::ModelConfig& config, const std::string& version_dir) {
  std::string file = config.default_model_filename();
  if (file.empty()) file = config.backend() == "imagen_ncnn" ? "model.param" : "model.onnx";
  return version_dir + "/" + file;
}

class EngineInstance final : public ModelInstance {
 public:
  explicit EngineInstance(std::shared_ptr<const engine::Model> model) : model_(std::move(model)) {}

  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    std::vector<engine::NamedTensor> in;
    in.reserve(inputs.size());
    for (const auto& t : inputs) {
      auto dt = engine::DataTypeFromName(t.datatype);
      if (!dt) return absl::InvalidArgumentError(absl::StrCat("the engine does not support datatype ", t.datatype));
      // The engine reads shape x element size bytes: they must be there (a
      // config `reshape` with another element count would read past them).
      auto bytes = engine::CheckedByteSize(*dt, t.shape);
      if (!bytes || *bytes != t.data.size()) {
        return absl::InvalidArgumentError(absl::StrCat("input '", t.name, "' of shape ", ShapeString(t.shape), " has ",
                                                       t.data.size(), " bytes of data"));
      }
      in.push_back({t.name, engine::Tensor::Wrap(*dt, t.shape, const_cast<char*>(t.data.data()), nullptr)});
    }
    auto out = model_->Run(in);
    if (!out.ok()) return out.status();
    std::vector<Tensor> result;
    for (auto& o : *out) {
      auto plain = engine::ToPlain(o.tensor);
      if (!plain.ok()) return plain.status();
      Tensor t;
      t.name = o.name;
      t.datatype = std::string(engine::DataTypeName(plain->dtype()));
      t.shape = plain->shape();
      size_t bytes = static_cast<size_t>(plain->size()) * engine::DataTypeSize(plain->dtype());
      t.data.assign(static_cast<const char*>(plain->raw()), bytes);
      result.push_back(std::move(t));
    }
    return result;
  }

 private:
  std::shared_ptr<const engine::Model> model_;
};

class ImagenEngineBackend final : public Backend {
 public:
  absl::Status AutoComplete(inference::ModelConfig* config, const std::string& version_dir) override {
    if (config->input_size() > 0 && config->output_size() > 0) return absl::OkStatus();
    auto model = Load(ModelPath(*config, version_dir), 1);
    if (!model.ok()) return model.status();
    bool batch = true;
    for (const auto& t : (*model)->inputs()) batch = batch && !t.shape.empty() && t.shape[0] == -1;
    for (const auto& t : (*model)->outputs()) batch = batch && !t.shape.empty() && t.shape[0] == -1;
    if (batch && config->max_batch_size() == 0) config->set_max_batch_size(4);
    size_t skip = config->max_batch_size() > 0 ? 1 : 0;
    if (config->input_size() == 0) {
      for (const auto& t : (*model)->inputs()) {
        auto* in = config->add_input();
        in->set_name(t.name);
        in->set_data_type(DataTypeFromName(engine::DataTypeName(t.dtype)));
        for (size_t i = skip; i < t.shape.size(); ++i) in->add_dims(t.shape[i]);
      }
    }
    if (config->output_size() == 0) {
      for (const auto& t : (*model)->outputs()) {
        auto* out = config->add_output();
        out->set_name(t.name);
        out->set_data_type(DataTypeFromName(engine::DataTypeName(t.dtype)));
        for (size_t i = skip; i < t.shape.size(); ++i) out->add_dims(t.shape[i]);
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(const inference::ModelConfig& config,
                                                                const InstanceOptions& options) override {
    auto model = Load(ModelPath(config, options.version_dir), options.threads);
    if (!model.ok()) return model.status();
    return std::unique_ptr<ModelInstance>(new EngineInstance(*model));
  }

 private:
  // One loaded Model per (file, threads), shared by the instances using it.
  absl::StatusOr<std::shared_ptr<const engine::Model>> Load(const std::string& path, int threads) {
    std::string key = absl::StrCat(path, "#", threads);
    absl::MutexLock l(&mu_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      if (auto m = it->second.lock()) return m;
    }
    engine::ModelOptions o;
    o.threads = threads;
    auto m = engine::LoadModel(path, o);
    if (!m.ok()) return absl::Status(m.status().code(), absl::StrCat("cannot load ", path, ": ", m.status().message()));
    cache_[key] = *m;
    return *m;
  }

  absl::Mutex mu_;
  std::map<std::string, std::weak_ptr<const engine::Model>> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

bool IsEngineBackend(const inference::ModelConfig& c) {
  return c.backend() == "onnxruntime" || c.platform() == "onnxruntime_onnx" || c.backend() == "imagen_onnx" ||
         c.backend() == "imagen_ncnn";
}

Backend* EngineBackend() {
  static ImagenEngineBackend* backend = new ImagenEngineBackend();
  return backend;
}

}  // namespace imagen::serving
