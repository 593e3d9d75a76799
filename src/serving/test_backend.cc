#include "serving/test_backend.h"

#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace imagen::serving {
namespace {

enum class Kind { kIdentity, kAddSub, kDelay };

std::string Param(const inference::ModelConfig& config, const std::string& key) {
  auto it = config.parameters().find(key);
  return it == config.parameters().end() ? std::string() : it->second.string_value();
}

absl::StatusOr<Kind> KindOf(const inference::ModelConfig& config) {
  std::string name = Param(config, "test_model");
  if (name.empty()) name = config.name();
  if (name == "identity") return Kind::kIdentity;
  if (name == "add_sub") return Kind::kAddSub;
  if (name == "delay") return Kind::kDelay;
  return absl::InvalidArgumentError(
      absl::StrCat("imagen_test backend: unknown test_model '", name, "' (identity, add_sub or delay)"));
}

int64_t IntParam(const inference::ModelConfig& config, const std::string& key) {
  int64_t v = 0;
  std::string s = Param(config, key);
  if (!s.empty() && !absl::SimpleAtoi(s, &v)) return -1;
  return v;
}

class TestInstance final : public ModelInstance {
 public:
  TestInstance(Kind kind, const inference::ModelConfig& config, Clock* clock)
      : kind_(kind),
        config_(config),
        clock_(clock),
        delay_us_(IntParam(config, "execute_delay_us")),
        per_item_us_(IntParam(config, "execute_delay_per_item_us")) {}

  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    if (std::string gate = Param(config_, "execute_gate"); !gate.empty()) TestGate::Get(gate)->Pass();
    if (!Param(config_, "execute_throws").empty()) throw std::runtime_error(Param(config_, "execute_throws"));
    std::vector<Tensor> out;
    if (kind_ == Kind::kAddSub) return AddSub(inputs);
    if (kind_ == Kind::kDelay) {
      int64_t rows = inputs.empty() || inputs[0].shape.empty() ? 1 : inputs[0].shape[0];
      int64_t us = delay_us_ + per_item_us_ * (config_.max_batch_size() > 0 ? rows : 1);
      if (us > 0) clock_->SleepFor(absl::Microseconds(us));
    }
    for (int i = 0; i < config_.output_size() && i < static_cast<int>(inputs.size()); ++i) {
      Tensor t = inputs[static_cast<size_t>(i)];
      t.name = config_.output(i).name();
      out.push_back(std::move(t));
    }
    return out;
  }

 private:
  template <typename T>
  static void Combine(const Tensor& a, const Tensor& b, Tensor* sum, Tensor* diff) {
    size_t n = a.data.size() / sizeof(T);
    sum->data.resize(a.data.size());
    diff->data.resize(a.data.size());
    for (size_t i = 0; i < n; ++i) {
      T x, y;
      std::memcpy(&x, a.data.data() + i * sizeof(T), sizeof(T));
      std::memcpy(&y, b.data.data() + i * sizeof(T), sizeof(T));
      T s = static_cast<T>(x + y), d = static_cast<T>(x - y);
      std::memcpy(sum->data.data() + i * sizeof(T), &s, sizeof(T));
      std::memcpy(diff->data.data() + i * sizeof(T), &d, sizeof(T));
    }
  }

  absl::StatusOr<std::vector<Tensor>> AddSub(const std::vector<Tensor>& in) {
    if (in.size() != 2 || config_.output_size() != 2) return absl::InternalError("add_sub needs 2 inputs, 2 outputs");
    if (in[0].data.size() != in[1].data.size() || in[0].datatype != in[1].datatype) {
      return absl::InvalidArgumentError("add_sub: INPUT0 and INPUT1 must have the same shape and datatype");
    }
    Tensor sum{config_.output(0).name(), in[0].datatype, in[0].shape, {}};
    Tensor diff{config_.output(1).name(), in[0].datatype, in[0].shape, {}};
    if (in[0].datatype == "FP32") {
      Combine<float>(in[0], in[1], &sum, &diff);
    } else if (in[0].datatype == "INT32") {
      Combine<int32_t>(in[0], in[1], &sum, &diff);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("add_sub: unsupported datatype ", in[0].datatype));
    }
    return std::vector<Tensor>{std::move(sum), std::move(diff)};
  }

  Kind kind_;
  inference::ModelConfig config_;
  Clock* clock_;
  int64_t delay_us_;
  int64_t per_item_us_;
};

void AddInput(inference::ModelConfig* c, const std::string& name, std::vector<int64_t> dims) {
  auto* in = c->add_input();
  in->set_name(name);
  in->set_data_type(inference::TYPE_FP32);
  for (int64_t d : dims) in->add_dims(d);
}

void AddOutput(inference::ModelConfig* c, const std::string& name, std::vector<int64_t> dims) {
  auto* out = c->add_output();
  out->set_name(name);
  out->set_data_type(inference::TYPE_FP32);
  for (int64_t d : dims) out->add_dims(d);
}

class ImagenTestBackend final : public Backend {
 public:
  absl::Status AutoComplete(inference::ModelConfig* config, const std::string&) override {
    auto kind = KindOf(*config);
    if (!kind.ok()) return kind.status();
    if (IntParam(*config, "execute_delay_us") < 0 || IntParam(*config, "execute_delay_per_item_us") < 0) {
      return absl::InvalidArgumentError("imagen_test backend: execute_delay_us must be a non-negative integer");
    }
    if (config->input_size() > 0 || config->output_size() > 0) return absl::OkStatus();
    if (*kind == Kind::kAddSub) {
      AddInput(config, "INPUT0", {16});
      AddInput(config, "INPUT1", {16});
      AddOutput(config, "OUTPUT0", {16});
      AddOutput(config, "OUTPUT1", {16});
    } else {
      AddInput(config, "INPUT0", {-1});
      AddOutput(config, "OUTPUT0", {-1});
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(const inference::ModelConfig& config,
                                                                const InstanceOptions& options) override {
    auto kind = KindOf(config);
    if (!kind.ok()) return kind.status();
    if (*kind == Kind::kAddSub && (config.input_size() != 2 || config.output_size() != 2)) {
      return absl::InvalidArgumentError("add_sub needs exactly 2 inputs and 2 outputs");
    }
    if (std::string gate = Param(config, "load_gate"); !gate.empty()) TestGate::Get(gate)->Pass();
    return std::unique_ptr<ModelInstance>(
        new TestInstance(*kind, config, options.clock != nullptr ? options.clock : Clock::Real()));
  }
};

}  // namespace

TestGate* TestGate::Get(const std::string& name) {
  static absl::Mutex mu;
  static auto* gates = new std::map<std::string, std::unique_ptr<TestGate>>();
  absl::MutexLock l(&mu);
  auto& g = (*gates)[name];
  if (g == nullptr) g = std::make_unique<TestGate>();
  return g.get();
}

void TestGate::Close() {
  absl::MutexLock l(&mu_);
  open_ = false;
}

void TestGate::Open() {
  absl::MutexLock l(&mu_);
  open_ = true;
}

void TestGate::AwaitWaiters(int n) {
  absl::MutexLock l(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiting_ >= n; };
  mu_.Await(absl::Condition(&enough));
}

void TestGate::Pass() {
  absl::MutexLock l(&mu_);
  ++waiting_;
  auto open = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_; };
  mu_.Await(absl::Condition(&open));
  --waiting_;
}

Backend* TestBackend() {
  static ImagenTestBackend* backend = new ImagenTestBackend();
  return backend;
}

}  // namespace imagen::serving
