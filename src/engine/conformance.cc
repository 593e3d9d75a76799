#include "engine/conformance.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "common/env.h"
#include "common/status_macros.h"
#include "common/string_view.h"
#include "engine/half.h"
#include "engine/onnx_importer.h"

namespace imagen::engine {
namespace {

double FloatAt(const Tensor& t, int64_t i) {
  if (t.dtype() == DataType::kFloat32) return t.data<float>()[i];
  return HalfToFloat(t.data<uint16_t>()[i]);
}

// Files named prefix_<n>.pb in index order.
std::vector<std::string> Numbered(const std::vector<std::string>& names, const std::string& prefix) {
  std::vector<std::pair<int, std::string>> found;
  for (const std::string& n : names) {
    if (absl::StartsWith(n, prefix) && absl::EndsWith(n, ".pb")) {
      found.emplace_back(std::atoi(n.c_str() + prefix.size()), n);
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [i, n] : found) out.push_back(n);
  return out;
}

absl::Status RunCase(Env* env, const std::string& dir, const ConformanceOptions& o, CaseResult& r) {
  ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(dir + "/model.onnx"));
  ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, [&]() -> absl::StatusOr<std::shared_ptr<const Model>> {
    ASSIGN_OR_RETURN(Graph g, ImportOnnx(bytes));
    return CompileGraph(std::move(g), o.model);
  }());
  ASSIGN_OR_RETURN(std::vector<std::string> children, env->GetChildren(dir));
  std::sort(children.begin(), children.end());
  int sets = 0;
  for (const std::string& set : children) {
    if (!absl::StartsWith(set, "test_data_set_")) continue;
    ++sets;
    const std::string sd = dir + "/" + set;
    ASSIGN_OR_RETURN(std::vector<std::string> files, env->GetChildren(sd));
    std::vector<NamedTensor> inputs;
    const std::vector<std::string> in_files = Numbered(files, "input_");
    if (in_files.size() != model->inputs().size()) {
      return absl::InvalidArgumentError(set + ": " + std::to_string(in_files.size()) + " inputs for a model with " +
                                        std::to_string(model->inputs().size()));
    }
    for (size_t i = 0; i < in_files.size(); ++i) {
      ASSIGN_OR_RETURN(std::string tb, env->ReadFile(sd + "/" + in_files[i]));
      ASSIGN_OR_RETURN(Tensor t, ParseOnnxTensor(tb));
      inputs.push_back(NamedTensor{model->inputs()[i].name, std::move(t)});
    }
    ASSIGN_OR_RETURN(std::vector<NamedTensor> outputs, model->Run(inputs));
    const std::vector<std::string> out_files = Numbered(files, "output_");
    if (out_files.size() != outputs.size()) return absl::InvalidArgumentError(set + ": output count differs");
    for (size_t i = 0; i < out_files.size(); ++i) {
      ASSIGN_OR_RETURN(std::string tb, env->ReadFile(sd + "/" + out_files[i]));
      ASSIGN_OR_RETURN(Tensor expected, ParseOnnxTensor(tb));
      absl::Status st = CompareTensors(outputs[i].tensor, expected, o.rtol, o.atol);
      if (!st.ok())
        return absl::Status(st.code(), set + " output '" + outputs[i].name + "': " + std::string(st.message()));
    }
  }
  if (sets == 0) return absl::NotFoundError("no test_data_set_* folder");
  return absl::OkStatus();
}

}  // namespace

const std::set<std::string>& ClaimedOps() {
  // Every node-test case (libonnx-testdata 1.13) of each op here passes; see
  // docs/engine.md. Add an op only after `imagen engine conformance --all`
  // shows all of its cases passing.
  // Not claimed: Cast (DOUBLE/STRING/BFLOAT16 cases), Identity (sequence and
  // optional cases), Max/Min (16/64-bit and FP16 cases).
  static const std::set<std::string> ops = {"Abs",
                                            "Add",
                                            "AveragePool",
                                            "BatchNormalization",
                                            "Ceil",
                                            "Clip",
                                            "Concat",
                                            "Constant",
                                            "ConstantOfShape",
                                            "Conv",
                                            "ConvInteger",
                                            "ConvTranspose",
                                            "DepthToSpace",
                                            "DequantizeLinear",
                                            "Div",
                                            "DynamicQuantizeLinear",
                                            "Elu",
                                            "Equal",
                                            "Erf",
                                            "Exp",
                                            "Flatten",
                                            "Floor",
                                            "Gather",
                                            "Gemm",
                                            "GlobalAveragePool",
                                            "GlobalMaxPool",
                                            "Greater",
                                            "HardSigmoid",
                                            "InstanceNormalization",
                                            "LeakyRelu",
                                            "Less",
                                            "Log",
                                            "LogSoftmax",
                                            "MatMul",
                                            "MaxPool",
                                            "Mul",
                                            "Neg",
                                            "PRelu",
                                            "Pad",
                                            "QuantizeLinear",
                                            "Reciprocal",
                                            "ReduceMax",
                                            "ReduceMean",
                                            "ReduceMin",
                                            "ReduceSum",
                                            "Relu",
                                            "Reshape",
                                            "Resize",
                                            "Shape",
                                            "Sigmoid",
                                            "Size",
                                            "Slice",
                                            "Softmax",
                                            "Split",
                                            "Sqrt",
                                            "Squeeze",
                                            "Sub",
                                            "Tanh",
                                            "Transpose",
                                            "Unsqueeze",
                                            "Upsample"};
  return ops;
}

absl::Status CompareTensors(const Tensor& a, const Tensor& e, double rtol, double atol) {
  if (a.dtype() != e.dtype()) {
    return absl::InvalidArgumentError("dtype " + std::string(DataTypeName(a.dtype())) + ", expected " +
                                      std::string(DataTypeName(e.dtype())));
  }
  if (a.shape() != e.shape()) {
    return absl::InvalidArgumentError("shape " + ShapeToString(a.shape()) + ", expected " + ShapeToString(e.shape()));
  }
  const int64_t n = e.size();
  for (int64_t i = 0; i < n; ++i) {
    if (e.dtype() == DataType::kFloat32 || e.dtype() == DataType::kFloat16) {
      const double x = FloatAt(a, i), y = FloatAt(e, i);
      if (std::isnan(x) && std::isnan(y)) continue;
      if (x == y) continue;
      if (!(std::fabs(x - y) <= atol + rtol * std::fabs(y))) {
        return absl::InvalidArgumentError("element " + std::to_string(i) + " is " + std::to_string(x) + ", expected " +
                                          std::to_string(y));
      }
    } else if (IntAt(a, i) != IntAt(e, i)) {
      return absl::InvalidArgumentError("element " + std::to_string(i) + " is " + std::to_string(IntAt(a, i)) +
                                        ", expected " + std::to_string(IntAt(e, i)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ConformanceReport> RunConformance(const std::string& dir, const ConformanceOptions& options,
                                                 const std::function<void(const CaseResult&)>& progress) {
  Env* env = options.env ? options.env : Env::Default();
  ASSIGN_OR_RETURN(std::vector<std::string> cases, env->GetChildren(dir));
  std::sort(cases.begin(), cases.end());
  ConformanceReport report;
  for (const std::string& name : cases) {
    if (!options.filter.empty() && !absl::StrContains(name, options.filter)) continue;
    const std::string cdir = dir + "/" + name;
    if (!env->FileExists(cdir + "/model.onnx")) continue;
    CaseResult r;
    r.name = name;
    absl::StatusOr<std::string> bytes = env->ReadFile(cdir + "/model.onnx");
    absl::StatusOr<std::vector<std::string>> ops = bytes.ok() ? OnnxOpTypes(*bytes) : bytes.status();
    if (!ops.ok()) {
      r.outcome = CaseResult::kFailed;
      r.message = std::string(ops.status().message());
    } else {
      r.ops.insert(ops->begin(), ops->end());
      std::string unclaimed;
      for (const std::string& op : r.ops) {
        if (!options.claimed.count(op)) unclaimed += (unclaimed.empty() ? "" : ",") + op;
      }
      if (!unclaimed.empty()) {
        r.outcome = CaseResult::kSkipped;
        r.message = "not claimed: " + unclaimed;
      } else {
        absl::Status st;
        try {
          st = RunCase(env, cdir, options, r);
        } catch (const std::exception& e) {
          st = absl::InternalError(e.what());
        }
        r.outcome = st.ok() ? CaseResult::kPassed : CaseResult::kFailed;
        r.message = std::string(st.message());
      }
    }
    (r.outcome == CaseResult::kPassed   ? report.passed
     : r.outcome == CaseResult::kFailed ? report.failed
                                        : report.skipped)++;
    if (progress) progress(r);
    report.cases.push_back(std::move(r));
  }
  return report;
}

}  // namespace imagen::engine
