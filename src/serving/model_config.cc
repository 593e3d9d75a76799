#include "serving/model_config.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace imagen::serving {
namespace {

class Collector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::string path) : path_(std::move(path)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(path_, ":", line + 1, ":", column + 1, ": ", message);
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string path_;
  std::string first_;
};

absl::Status Invalid(const inference::ModelConfig& c, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("model '", c.name(), "': ", what));
}

absl::Status CheckDims(const inference::ModelConfig& c, const std::string& tensor,
                       const google::protobuf::RepeatedField<int64_t>& dims) {
  for (int64_t d : dims) {
    if (d == 0 || d < -1) return Invalid(c, absl::StrCat("tensor '", tensor, "' has invalid dimension ", d));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<inference::ModelConfig> ParseModelConfig(const std::string& text, const std::string& path) {
  inference::ModelConfig config;
  google::protobuf::TextFormat::Parser parser;
  Collector collector(path);
  parser.RecordErrorsTo(&collector);
  if (!parser.ParseFromString(text, &config)) {
    return absl::InvalidArgumentError(collector.first().empty() ? absl::StrCat(path, ": cannot parse")
                                                                : collector.first());
  }
  return config;
}

absl::StatusOr<inference::ModelConfig> ParseModelConfigJson(const std::string& json, const std::string& what) {
  inference::ModelConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, &config, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a valid model config in JSON: ", status.message().ToString()));
  }
  return config;
}

absl::Status CompleteModelConfig(inference::ModelConfig* config, const std::string& model_name, Backend* backend,
                                 const std::string& version_dir) {
  if (config->name().empty()) config->set_name(model_name);
  if (config->name() != model_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("model name '", config->name(), "' in config.pbtxt does not match folder '", model_name, "'"));
  }
  if (config->platform() == "onnxruntime_onnx" && config->backend().empty()) config->set_backend("onnxruntime");
  if (config->backend() == "onnxruntime" && config->platform().empty()) config->set_platform("onnxruntime_onnx");
  if (config->default_model_filename().empty() && config->backend() == "onnxruntime") {
    config->set_default_model_filename("model.onnx");
  }
  if (backend != nullptr) {
    absl::Status s = backend->AutoComplete(config, version_dir);
    if (!s.ok()) return s;
  }
  if (!config->has_version_policy()) config->mutable_version_policy()->mutable_latest()->set_num_versions(1);
  if (config->has_version_policy() && config->version_policy().has_latest() &&
      config->version_policy().latest().num_versions() == 0) {
    config->mutable_version_policy()->mutable_latest()->set_num_versions(1);
  }
  if (config->platform() != "ensemble") {
    if (config->instance_group_size() == 0) config->add_instance_group();
    for (int i = 0; i < config->instance_group_size(); ++i) {
      auto* g = config->mutable_instance_group(i);
      if (g->name().empty()) g->set_name(absl::StrCat(config->name(), "_", i));
      if (g->count() == 0) g->set_count(1);
      if (g->kind() == inference::ModelInstanceGroup::KIND_AUTO) g->set_kind(inference::ModelInstanceGroup::KIND_CPU);
    }
  }
  if (config->has_dynamic_batching()) {
    auto* db = config->mutable_dynamic_batching();
    if (db->priority_levels() > 0 && db->default_priority_level() == 0) {
      db->set_default_priority_level(db->priority_levels());
    }
  }
  return ValidateModelConfig(*config);
}

absl::Status ValidateModelConfig(const inference::ModelConfig& c) {
  if (c.max_batch_size() < 0) return Invalid(c, "max_batch_size must be >= 0");
  for (const auto& in : c.input()) {
    if (in.name().empty()) return Invalid(c, "an input has no name");
    if (in.data_type() == inference::TYPE_INVALID)
      return Invalid(c, absl::StrCat("input '", in.name(), "' has no data_type"));
    absl::Status s = CheckDims(c, in.name(), in.dims());
    if (!s.ok()) return s;
  }
  for (const auto& in : c.input()) {
    if (!in.has_reshape()) continue;
    // dims and reshape must describe the same elements: equal products of
    // the fixed dimensions and as many variable (-1) dimensions.
    auto count = [](const auto& dims, int* variable) {
      int64_t n = 1;
      for (int64_t d : dims) {
        if (d == -1) {
          ++*variable;
        } else if (d < 0 || __builtin_mul_overflow(n, d, &n)) {
          return int64_t{-1};
        }
      }
      return n;
    };
    int var_dims = 0, var_reshape = 0;
    int64_t n_dims = count(in.dims(), &var_dims), n_reshape = count(in.reshape().shape(), &var_reshape);
    if (n_dims < 0 || n_reshape < 0 || n_dims != n_reshape || var_dims != var_reshape) {
      return Invalid(c, absl::StrCat("input '", in.name(), "': reshape does not have the elements of dims"));
    }
  }
  for (const auto& out : c.output()) {
    if (out.name().empty()) return Invalid(c, "an output has no name");
    if (out.data_type() == inference::TYPE_INVALID) {
      return Invalid(c, absl::StrCat("output '", out.name(), "' has no data_type"));
    }
    absl::Status s = CheckDims(c, out.name(), out.dims());
    if (!s.ok()) return s;
  }
  if (c.platform() != "ensemble" && (c.input_size() == 0 || c.output_size() == 0)) {
    return Invalid(c, "needs at least one input and one output");
  }
  for (const auto& g : c.instance_group()) {
    if (g.count() < 0) return Invalid(c, "instance_group count must be >= 1");
    if (g.kind() == inference::ModelInstanceGroup::KIND_GPU) {
      return Invalid(c, "instance_group kind KIND_GPU is not supported (no GPUs); use KIND_CPU");
    }
  }
  if (c.has_dynamic_batching()) {
    const auto& db = c.dynamic_batching();
    if (c.max_batch_size() == 0) return Invalid(c, "dynamic_batching requires max_batch_size > 0");
    for (int p : db.preferred_batch_size()) {
      if (p <= 0 || p > c.max_batch_size()) {
        return Invalid(c, absl::StrCat("preferred_batch_size ", p, " must be in [1, max_batch_size]"));
      }
    }
    if (db.priority_levels() > 0 &&
        (db.default_priority_level() < 1 || db.default_priority_level() > db.priority_levels())) {
      return Invalid(c, "default_priority_level must be in [1, priority_levels]");
    }
    for (const auto& [level, policy] : db.priority_queue_policy()) {
      if (level < 1 || level > db.priority_levels()) {
        return Invalid(c, absl::StrCat("priority_queue_policy for unknown priority level ", level));
      }
    }
  }
  if (c.platform() == "ensemble") {
    if (c.ensemble_scheduling().step_size() == 0) return Invalid(c, "ensemble has no ensemble_scheduling steps");
    for (const auto& step : c.ensemble_scheduling().step()) {
      if (step.model_name().empty()) return Invalid(c, "an ensemble step has no model_name");
    }
  }
  return absl::OkStatus();
}

}  // namespace imagen::serving
