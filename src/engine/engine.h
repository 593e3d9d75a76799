// Public API of the CPU inference engine, used by the inference server and
// the CLI: load a model file (.onnx, or ncnn .param with its .bin) into an
// immutable Model and run it. A Model is thread-safe: Run may be called from
// several threads at once (each run owns its scratch memory), and the batch
// size may change from run to run without reloading.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "engine/kernel.h"
#include "engine/tensor.h"

namespace imagen {
class Env;
}

namespace imagen::engine {

struct ModelOptions {
  // Threads used by one Run (0: all hardware threads).
  int threads = 0;
  Precision precision = Precision::kFast;
  // Backends tried in order for each node; the reference backend is always
  // appended as the last resort.
  std::vector<Backend> backends = {Backend::kDnnl, Backend::kReference};
  // Fold constant subgraphs at load.
  bool fold_constants = true;
  // File access (nullptr: Env::Default()).
  Env* env = nullptr;
  // Chooses the 3×3 convolution kernels by measurement, with its cache
  // (conv_tuning.h; not owned; nullptr: ConvTuner::Default(), configured by
  // IMAGEN_ENGINE_TUNING).
  ConvTuner* conv_tuner = nullptr;
};

// Name, element type and shape of a model input or output; dynamic
// dimensions (e.g. the batch) are -1.
struct TensorInfo {
  std::string name;
  DataType dtype = DataType::kFloat32;
  Shape shape;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const std::vector<TensorInfo>& inputs() const = 0;
  virtual const std::vector<TensorInfo>& outputs() const = 0;
  // Runs the model. Every input must be given once, by name, with the
  // declared dtype and a shape compatible with the declared one. Outputs come
  // back in outputs() order, as plain row-major tensors. Errors name the
  // offending input or node.
  virtual absl::StatusOr<std::vector<NamedTensor>> Run(const std::vector<NamedTensor>& inputs) const = 0;
  // The optimised graph the model runs (for tools and tests).
  virtual const Graph& graph() const = 0;
  // Which backend runs each node, "node_name op backend" lines (for tools).
  virtual std::vector<std::string> Describe() const = 0;
};

// Loads a model, detecting the format by extension: ".onnx", or ".param"
// (ncnn; the weights are the ".bin" beside it).
absl::StatusOr<std::shared_ptr<const Model>> LoadModel(const std::string& path, const ModelOptions& options = {});

// Compiles an already imported graph (used by importers and tests).
absl::StatusOr<std::shared_ptr<const Model>> CompileGraph(Graph graph, const ModelOptions& options = {});

}  // namespace imagen::engine
