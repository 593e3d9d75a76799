// conv_layers: times single 3×3 convolution layers (the shapes ISNet medium
// runs at 1024×1024) in the engine's fast precision (Winograd on AVX2) and
// exact precision (oneDNN direct), interleaved so machine load hits both.
//   conv_layers [--threads 2] [--runs 5] [--cpu]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/dnnl_conv.h"
#include "engine/kernel.h"

namespace {

using namespace imagen::engine;

struct Layer {
  int64_t ic, oc, hw;
};

bool cpu_time = false;  // --cpu: process CPU time (with OMP_WAIT_POLICY=passive, robust to machine load)

double Now() {
  if (!cpu_time)
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double TimeOne(const Kernel& k, const Tensor& x, const Tensor& w, const Tensor& b, int threads) {
  RunContext ctx(threads);
  std::vector<Tensor> in{x, w, b}, out(1);
  const double t0 = Now();
  absl::Status s = k.Forward(in, out, ctx);
  const double ms = Now() - t0;
  if (!s.ok()) {
    std::fprintf(stderr, "conv_layers: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, runs = 5;
  for (int i = 1; i < argc; ++i) cpu_time = cpu_time || !std::strcmp(argv[i], "--cpu");
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  const std::vector<Layer> layers = {{64, 64, 512},   {128, 64, 512},  {64, 128, 256}, {256, 64, 256},
                                     {128, 256, 128}, {512, 128, 128}, {256, 512, 64}, {1024, 256, 64},
                                     {512, 512, 32},  {1024, 512, 32}, {64, 32, 64}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::printf("layer                      fast_ms  exact_ms  speedup   (threads=%d, best of %d, %s)\n", threads, runs,
              cpu_time ? "CPU time" : "wall time");
  double fast_total = 0, exact_total = 0;
  for (const Layer& l : layers) {
    Tensor x(DataType::kFloat32, {1, l.ic, l.hw, l.hw}), w(DataType::kFloat32, {l.oc, l.ic, 3, 3}),
        b(DataType::kFloat32, {l.oc});
    for (Tensor* t : {&x, &w, &b})
      for (int64_t i = 0; i < t->size(); ++i) t->data<float>()[i] = d(rng) * 0.1f;
    Graph g;
    Node node;
    node.name = "conv";
    node.op_type = "Conv";
    node.attrs.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
    node.attrs.Set("kernel_shape", std::vector<int64_t>{3, 3});
    node.inputs = {g.AddValue("x"), g.AddValue("w"), g.AddValue("b")};
    node.outputs = {g.AddValue("y")};
    const std::vector<const Tensor*> consts = {nullptr, &w, &b};
    double best[2] = {1e30, 1e30};
    std::unique_ptr<Kernel> kernels[2];
    for (int p = 0; p < 2; ++p) {
      KernelInit init{node, g, consts, p == 0 ? Precision::kFast : Precision::kExact, threads};
      const Backend order[] = {Backend::kDnnl};
      auto k = KernelRegistry::Global().Create(init, order);
      if (!k.ok()) return 1;
      kernels[p] = *std::move(k);
      TimeOne(*kernels[p], x, w, b, threads);  // warm-up: primitive creation, weight transforms
    }
    for (int r = 0; r < runs; ++r)
      for (int p = 0; p < 2; ++p) best[p] = std::min(best[p], TimeOne(*kernels[p], x, w, b, threads));
    fast_total += best[0];
    exact_total += best[1];
    std::printf("ic%-5lld oc%-5lld %4lldx%-4lld %9.2f %9.2f %7.2fx\n", static_cast<long long>(l.ic),
                static_cast<long long>(l.oc), static_cast<long long>(l.hw), static_cast<long long>(l.hw), best[0],
                best[1], best[1] / best[0]);
  }
  std::printf("total                    %9.2f %9.2f %7.2fx\n", fast_total, exact_total, exact_total / fast_total);
  return 0;
}
