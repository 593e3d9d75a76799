// `imagen engine`: run, benchmark and check models on the CPU engine
// (run: .npy in and out; bench: latency and peak RSS; conformance: ONNX
// backend node tests for the claimed ops).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

#include "absl/strings/str_split.h"
#include "cmd/commands.h"
#include "common/env.h"
#include "common/string_view.h"
#include "engine/conformance.h"
#include "engine/engine.h"
#include "engine/kernel.h"
#include "engine/npy.h"
#include "fmt/core.h"

namespace imagen {
namespace {

using engine::ModelOptions;
using engine::NamedTensor;

struct CommonFlags {
  int threads = 0;
  std::string precision = "fast";
  bool reference_only = false;
};

void AttachCommon(CLI::App* cmd, CommonFlags& f) {
  cmd->add_option("--threads", f.threads, "threads per run (0: all cores)");
  cmd->add_option("--precision", f.precision, "fast (default) or exact (fp32 everywhere)")
      ->check(CLI::IsMember({"fast", "exact"}));
  cmd->add_flag("--reference", f.reference_only, "use only the reference kernels");
}

ModelOptions ToOptions(const CommonFlags& f) {
  ModelOptions o;
  o.threads = f.threads;
  o.precision = f.precision == "exact" ? engine::Precision::kExact : engine::Precision::kFast;
  if (f.reference_only) o.backends = {engine::Backend::kReference};
  return o;
}

long PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// "NAME=VALUE" -> (NAME, VALUE).
absl::StatusOr<std::pair<std::string, std::string>> SplitAssignment(const std::string& s) {
  const size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return absl::InvalidArgumentError("expected NAME=VALUE, got '" + s + "'");
  return std::make_pair(s.substr(0, eq), s.substr(eq + 1));
}

std::string SafeFileName(std::string name) {
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') c = '_';
  }
  return name;
}

int RunModel(const std::string& path, const std::vector<std::string>& input_specs, const std::string& out_dir,
             const CommonFlags& flags) {
  Env* env = Env::Default();
  auto model = engine::LoadModel(path, ToOptions(flags));
  if (!model.ok()) {
    fmt::print(stderr, "imagen engine run: {}\n", model.status().message());
    return 1;
  }
  std::vector<NamedTensor> inputs;
  for (const std::string& spec : input_specs) {
    auto kv = SplitAssignment(spec);
    if (!kv.ok()) {
      fmt::print(stderr, "imagen engine run: --input: {}\n", kv.status().message());
      return 2;
    }
    auto bytes = env->ReadFile(kv->second);
    if (!bytes.ok()) {
      fmt::print(stderr, "imagen engine run: input '{}': {}\n", kv->first, bytes.status().message());
      return 1;
    }
    auto t = engine::ParseNpy(*bytes);
    if (!t.ok()) {
      fmt::print(stderr, "imagen engine run: input '{}' ({}): {}\n", kv->first, kv->second, t.status().message());
      return 1;
    }
    inputs.push_back(NamedTensor{kv->first, *std::move(t)});
  }
  const auto start = std::chrono::steady_clock::now();
  auto outputs = (*model)->Run(inputs);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!outputs.ok()) {
    fmt::print(stderr, "imagen engine run: {}\n", outputs.status().message());
    return 1;
  }
  if (auto st = env->CreateDirs(out_dir); !st.ok()) {
    fmt::print(stderr, "imagen engine run: {}\n", st.message());
    return 1;
  }
  for (const NamedTensor& o : *outputs) {
    auto bytes = engine::SerializeNpy(o.tensor);
    const std::string file = out_dir + "/" + SafeFileName(o.name) + ".npy";
    auto f = bytes.ok() ? env->NewWritableFile(file) : bytes.status();
    absl::Status st = f.ok() ? (*f)->Append(*bytes) : f.status();
    if (st.ok()) st = (*f)->Close();
    if (!st.ok()) {
      fmt::print(stderr, "imagen engine run: output '{}': {}\n", o.name, st.message());
      return 1;
    }
    fmt::print("{} {} {} -> {}\n", o.name, engine::DataTypeName(o.tensor.dtype()),
               engine::ShapeToString(o.tensor.shape()), file);
  }
  fmt::print("run: {:.1f} ms, peak RSS {} MB\n", ms, PeakRssMb());
  return 0;
}

int Bench(const std::string& path, const std::vector<std::string>& shape_specs, int runs, const CommonFlags& flags) {
  auto model = engine::LoadModel(path, ToOptions(flags));
  if (!model.ok()) {
    fmt::print(stderr, "imagen engine bench: {}\n", model.status().message());
    return 1;
  }
  std::map<std::string, engine::Shape> shapes;
  for (const std::string& spec : shape_specs) {
    auto kv = SplitAssignment(spec);
    auto shape = kv.ok() ? engine::ParseShape(kv->second) : kv.status();
    if (!shape.ok()) {
      fmt::print(stderr, "imagen engine bench: --shape: {}\n", shape.status().message());
      return 2;
    }
    shapes[kv->first] = *shape;
  }
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(0.f, 1.f);
  std::vector<NamedTensor> inputs;
  for (const engine::TensorInfo& info : (*model)->inputs()) {
    engine::Shape shape = info.shape;
    if (auto it = shapes.find(info.name); it != shapes.end()) shape = it->second;
    if (engine::NumElements(shape) < 0) {
      fmt::print(stderr, "imagen engine bench: input '{}' has dynamic shape {}: give --shape {}=...\n", info.name,
                 engine::ShapeToString(info.shape), info.name);
      return 2;
    }
    engine::Tensor t(info.dtype, shape);
    if (info.dtype == engine::DataType::kFloat32) {
      for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = dist(rng);
    }
    inputs.push_back(NamedTensor{info.name, std::move(t)});
  }
  std::vector<double> times;
  for (int i = 0; i <= runs; ++i) {  // the first run warms up and is not counted
    const auto start = std::chrono::steady_clock::now();
    auto out = (*model)->Run(inputs);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!out.ok()) {
      fmt::print(stderr, "imagen engine bench: {}\n", out.status().message());
      return 1;
    }
    if (i > 0) times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  const double median =
      times.size() % 2 ? times[times.size() / 2] : (times[times.size() / 2 - 1] + times[times.size() / 2]) / 2;
  fmt::print("{}: {} runs, threads {}, precision {}: median {:.1f} ms, min {:.1f} ms, peak RSS {} MB\n", path,
             times.size(), flags.threads, flags.precision, median, times.front(), PeakRssMb());
  return 0;
}

int Conformance(const std::string& dir, bool all, const std::string& filter, bool verbose, const CommonFlags& flags) {
  engine::ConformanceOptions o;
  o.model = ToOptions(flags);
  o.filter = filter;
  if (all) {
    o.claimed.clear();
    for (const std::string& op : engine::KernelRegistry::Global().Ops(engine::Backend::kReference))
      o.claimed.insert(op);
  }
  std::map<std::string, std::pair<int, int>> per_op;  // op -> (passed, failed) over the cases it appears in
  auto report = engine::RunConformance(dir, o, [&](const engine::CaseResult& r) {
    if (r.outcome == engine::CaseResult::kFailed) fmt::print("FAIL {}: {}\n", r.name, r.message);
    if (r.outcome == engine::CaseResult::kPassed && verbose) fmt::print("ok   {}\n", r.name);
    if (r.outcome == engine::CaseResult::kSkipped && verbose) fmt::print("skip {}: {}\n", r.name, r.message);
    for (const std::string& op : r.ops) {
      if (r.outcome == engine::CaseResult::kPassed) ++per_op[op].first;
      if (r.outcome == engine::CaseResult::kFailed) ++per_op[op].second;
    }
  });
  if (!report.ok()) {
    fmt::print(stderr, "imagen engine conformance: {}\n", report.status().message());
    return 1;
  }
  if (all) {
    for (const auto& [op, pf] : per_op) {
      fmt::print("op {:<24} {:>4} passed {:>4} failed{}\n", op, pf.first, pf.second,
                 pf.second == 0 ? "  (claimable)" : "");
    }
  }
  fmt::print("{} passed, {} failed, {} skipped\n", report->passed, report->failed, report->skipped);
  return report->failed == 0 ? 0 : 1;
}

}  // namespace

void AddEngineCommand(CLI::App& app, int* rc) {
  CLI::App* engine_cmd = app.add_subcommand("engine", "Run, benchmark and check models on the CPU engine");
  engine_cmd->require_subcommand(1);

  struct RunArgs {
    std::string model, out_dir = ".";
    std::vector<std::string> inputs;
    CommonFlags flags;
  };
  auto run = std::make_shared<RunArgs>();
  CLI::App* run_cmd = engine_cmd->add_subcommand("run", "Run a model on .npy inputs, write .npy outputs");
  run_cmd->add_option("model", run->model, "model file (.onnx, or ncnn .param)")->required();
  run_cmd->add_option("--input", run->inputs, "NAME=FILE.npy (repeat per input)");
  run_cmd->add_option("--output-dir", run->out_dir, "where NAME.npy outputs are written");
  AttachCommon(run_cmd, run->flags);
  run_cmd->callback([rc, run] { *rc = RunModel(run->model, run->inputs, run->out_dir, run->flags); });

  struct BenchArgs {
    std::string model;
    std::vector<std::string> shapes;
    int runs = 5;
    CommonFlags flags;
  };
  auto bench = std::make_shared<BenchArgs>();
  CLI::App* bench_cmd = engine_cmd->add_subcommand("bench", "Time a model on random inputs");
  bench_cmd->add_option("model", bench->model, "model file")->required();
  bench_cmd->add_option("--shape", bench->shapes, "NAME=1x3x1024x1024 (for inputs with dynamic dims)");
  bench_cmd->add_option("--runs", bench->runs, "timed runs after one warm-up")->check(CLI::PositiveNumber);
  AttachCommon(bench_cmd, bench->flags);
  bench_cmd->callback([rc, bench] { *rc = Bench(bench->model, bench->shapes, bench->runs, bench->flags); });

  struct ConfArgs {
    std::string dir = "/usr/share/libonnx-testdata/data/node", filter;
    bool all = false, verbose = false;
    CommonFlags flags;
  };
  auto conf = std::make_shared<ConfArgs>();
  CLI::App* conf_cmd = engine_cmd->add_subcommand("conformance", "Run ONNX backend node tests for the claimed ops");
  conf_cmd->add_option("dir", conf->dir, "node-test folder");
  conf_cmd->add_flag("--all", conf->all, "treat every op with a reference kernel as claimed; print per-op results");
  conf_cmd->add_option("--filter", conf->filter, "only cases whose name contains this");
  conf_cmd->add_flag("--verbose,-v", conf->verbose, "print every case");
  conf->flags.precision = "exact";  // the node tests' tolerance is fp32's
  AttachCommon(conf_cmd, conf->flags);
  conf_cmd->callback([rc, conf] { *rc = Conformance(conf->dir, conf->all, conf->filter, conf->verbose, conf->flags); });
}

}  // namespace imagen
