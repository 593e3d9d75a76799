#include "engine/engine.h"

#include "absl/strings/match.h"
#include "common/env.h"
#include "common/status_macros.h"
#include "common/string_view.h"
#include "engine/executor.h"
#include "engine/ncnn_importer.h"
#include "engine/onnx_importer.h"

namespace imagen::engine {

absl::StatusOr<std::shared_ptr<const Model>> CompileGraph(Graph graph, const ModelOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<const CompiledModel> model, CompiledModel::Compile(std::move(graph), options));
  return std::shared_ptr<const Model>(std::move(model));
}

absl::StatusOr<std::shared_ptr<const Model>> LoadModel(const std::string& path, const ModelOptions& options) {
  Env* env = options.env ? options.env : Env::Default();
  Graph graph;
  if (absl::EndsWith(path, ".onnx")) {
    ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(path));
    absl::StatusOr<Graph> g = ImportOnnx(bytes);
    if (!g.ok()) return absl::Status(g.status().code(), path + ": " + std::string(g.status().message()));
    graph = *std::move(g);
  } else if (absl::EndsWith(path, ".param")) {
    const std::string bin = path.substr(0, path.size() - 6) + ".bin";
    ASSIGN_OR_RETURN(NcnnModel ncnn, LoadNcnnModel(path, bin));
    absl::StatusOr<Graph> g = ImportNcnn(ncnn);
    if (!g.ok()) return absl::Status(g.status().code(), path + ": " + std::string(g.status().message()));
    graph = *std::move(g);
  } else {
    return absl::InvalidArgumentError(path + ": unknown model format (expected .onnx or .param)");
  }
  absl::StatusOr<std::shared_ptr<const Model>> model = CompileGraph(std::move(graph), options);
  if (!model.ok()) return absl::Status(model.status().code(), path + ": " + std::string(model.status().message()));
  return model;
}

}  // namespace imagen::engine
