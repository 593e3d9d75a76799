// engine_compare: loads a model (.onnx or ncnn .param) and runs it on .npy
// inputs, printing one line of figures that the bench scripts parse:
//   imagen: median_ms=... min_ms=... peak_rss_mb=... runs=N threads=T precision=P
// and writing the first output to --output as .npy.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/npy.h"
#include "engine/tiling.h"

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int Fail(const std::string& msg) {
  std::fprintf(stderr, "engine_compare: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace imagen::engine;
  std::string model_path, output, describe;
  std::vector<std::pair<std::string, std::string>> inputs;
  int threads = 2, runs = 3, tile = 0, overlap = 16;
  Precision precision = Precision::kFast;
  bool reference_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--model")
      model_path = next();
    else if (a == "--input") {
      std::string kv = next();
      size_t eq = kv.find('=');
      if (eq == std::string::npos) return Fail("--input NAME=FILE.npy");
      inputs.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (a == "--output")
      output = next();
    else if (a == "--threads")
      threads = std::atoi(next().c_str());
    else if (a == "--runs")
      runs = std::max(0, std::atoi(next().c_str()));
    else if (a == "--tile")
      tile = std::atoi(next().c_str());
    else if (a == "--overlap")
      overlap = std::atoi(next().c_str());
    else if (a == "--precision")
      precision = next() == "exact" ? Precision::kExact : Precision::kFast;
    else if (a == "--reference")
      reference_only = true;
    else if (a == "--describe")
      describe = next();
    else
      return Fail("unknown flag " + a);
  }
  if (model_path.empty() || inputs.empty()) {
    return Fail(
        "usage: engine_compare --model M --input NAME=F.npy [--output O.npy] [--threads 2] [--runs 3] "
        "[--precision fast|exact] [--tile N --overlap N] [--reference] [--describe FILE]");
  }
  ModelOptions opts;
  opts.threads = threads;
  opts.precision = precision;
  if (reference_only) opts.backends = {Backend::kReference};
  auto t0 = std::chrono::steady_clock::now();
  auto model = LoadModel(model_path, opts);
  if (!model.ok()) return Fail(model.status().ToString());
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!describe.empty()) {
    std::ofstream f(describe);
    for (const std::string& line : (*model)->Describe()) f << line << "\n";
  }
  if (runs == 0) {
    std::printf("imagen: loaded in %.1f ms\n", load_ms);
    return 0;
  }
  std::vector<NamedTensor> feeds;
  for (const auto& [name, file] : inputs) {
    auto t = ParseNpy(ReadAll(file));
    if (!t.ok()) return Fail(file + ": " + t.status().ToString());
    feeds.push_back({name, *t});
  }
  std::vector<double> times;
  Tensor first;
  for (int r = 0; r < runs; ++r) {
    auto s = std::chrono::steady_clock::now();
    Tensor out;
    if (tile > 0) {
      auto res = RunTiled(**model, feeds[0].tensor, TileOptions{tile, overlap});
      if (!res.ok()) return Fail(res.status().ToString());
      out = *res;
    } else {
      auto res = (*model)->Run(feeds);
      if (!res.ok()) return Fail(res.status().ToString());
      out = (*res)[0].tensor;
    }
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    if (r == 0) first = out;
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "imagen: median_ms=%.1f min_ms=%.1f first_ms=%.1f load_ms=%.1f peak_rss_mb=%.1f runs=%d threads=%d "
      "precision=%s tile=%d\n",
      sorted[sorted.size() / 2], sorted[0], times[0], load_ms, ru.ru_maxrss / 1024.0, runs, threads,
      precision == Precision::kExact ? "exact" : "fast", tile);
  if (!output.empty()) {
    auto bytes = SerializeNpy(first);
    if (!bytes.ok()) return Fail(bytes.status().ToString());
    std::ofstream(output, std::ios::binary) << *bytes;
  }
  return 0;
}
