#include "engine/conv_tuning.h"

#include <cpuid.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/env.h"
#include "common/status_macros.h"
#include "common/string_view.h"

namespace imagen::engine {
namespace {

constexpr char kFileName[] = "conv-v1.tsv";

class WallClock : public ConvTimer {
 public:
  absl::StatusOr<double> TimeMs(ConvAlgo, const std::function<absl::Status()>& run) override {
    const auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(run());
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
};

std::string BuildCpuString() {
  unsigned regs[12] = {};
  std::string brand;
  unsigned max_ext = __get_cpuid_max(0x80000000, nullptr);
  if (max_ext >= 0x80000004) {
    for (unsigned i = 0; i < 3; ++i)
      __get_cpuid(0x80000002 + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    brand.assign(reinterpret_cast<const char*>(regs), sizeof(regs));
    brand = std::string(absl::StripAsciiWhitespace(brand.c_str()));
  }
  unsigned a = 0, b = 0, c = 0, d = 0;
  unsigned family = 0, model = 0, stepping = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    family = ((a >> 8) & 0xf) + ((a >> 20) & 0xff);
    model = ((a >> 4) & 0xf) | (((a >> 16) & 0xf) << 4);
    stepping = a & 0xf;
  }
  const char* isa = __builtin_cpu_supports("avx512f") ? "avx512" : __builtin_cpu_supports("avx2") ? "avx2" : "sse";
  std::string s = absl::StrCat(brand.empty() ? "unknown" : brand, " (family ", family, " model ", model, " stepping ",
                               stepping, ", ", isa, ")");
  std::replace(s.begin(), s.end(), '\t', ' ');
  return s;
}

std::string DefaultCacheDir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x == '/') {
    return std::string(x) + "/imagen/engine-tuning";
  }
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0')
    return std::string(h) + "/.cache/imagen/engine-tuning";
  return "";
}

}  // namespace

std::string_view ConvAlgoName(ConvAlgo algo) { return algo == ConvAlgo::kWinograd ? "winograd" : "onednn"; }

std::string_view SourceName(ConvDecision::Source source) {
  switch (source) {
    case ConvDecision::Source::kStatic:
      return "static rule";
    case ConvDecision::Source::kMeasured:
      return "measured";
    case ConvDecision::Source::kCached:
      return "cached";
  }
  return "?";
}

absl::StatusOr<TuningMode> ParseTuningMode(std::string_view text) {
  if (text == "off") return TuningMode::kOff;
  if (text == "cached") return TuningMode::kCached;
  if (text == "retune") return TuningMode::kRetune;
  return absl::InvalidArgumentError(
      absl::StrCat("IMAGEN_ENGINE_TUNING: '", ToAbsl(text), "' (expected off, cached or retune)"));
}

ConvAlgo FasterAlgo(std::span<const double> dnnl_ms, std::span<const double> winograd_ms) {
  if (winograd_ms.empty()) return ConvAlgo::kDnnl;
  if (dnnl_ms.empty()) return ConvAlgo::kWinograd;
  const double d = *std::min_element(dnnl_ms.begin(), dnnl_ms.end());
  const double w = *std::min_element(winograd_ms.begin(), winograd_ms.end());
  return w < d ? ConvAlgo::kWinograd : ConvAlgo::kDnnl;
}

ConvTimer* WallClockConvTimer() {
  static ConvTimer* timer = new WallClock();
  return timer;
}

const std::string& CpuModelString() {
  static const std::string* s = new std::string(BuildCpuString());
  return *s;
}

std::map<std::string, ConvDecision> ParseConvTuningFile(std::string_view text) {
  std::map<std::string, ConvDecision> out;
  for (absl::string_view line : absl::StrSplit(ToAbsl(text), '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    if (f.size() != 4 || f[0].empty()) continue;
    ConvDecision d;
    d.source = ConvDecision::Source::kCached;
    if (f[1] == "winograd") {
      d.algo = ConvAlgo::kWinograd;
    } else if (f[1] == "onednn") {
      d.algo = ConvAlgo::kDnnl;
    } else {
      continue;
    }
    if (!absl::SimpleAtod(f[2], &d.dnnl_ms) || !absl::SimpleAtod(f[3], &d.winograd_ms)) continue;
    out[std::string(f[0])] = d;
  }
  return out;
}

std::string FormatConvTuningFile(const std::map<std::string, ConvDecision>& decisions) {
  std::string s;
  for (const auto& [key, d] : decisions) {
    char times[64];
    std::snprintf(times, sizeof(times), "%.3f\t%.3f", d.dnnl_ms, d.winograd_ms);
    absl::StrAppend(&s, key, "\t", ToAbsl(ConvAlgoName(d.algo)), "\t", times, "\n");
  }
  return s;
}

ConvTuner::ConvTuner(ConvTuningOptions options) : options_(std::move(options)) {}

ConvTuner* ConvTuner::Default() {
  static ConvTuner* tuner = [] {
    ConvTuningOptions o;
    if (const char* m = std::getenv("IMAGEN_ENGINE_TUNING"); m != nullptr && *m != '\0') {
      absl::StatusOr<TuningMode> mode = ParseTuningMode(m);
      if (mode.ok()) {
        o.mode = *mode;
      } else {
        std::fprintf(stderr, "engine: %s; using cached\n", std::string(mode.status().message()).c_str());
      }
    }
    o.cache_dir = DefaultCacheDir();
    o.log = std::getenv("IMAGEN_ENGINE_PROFILE") != nullptr;
    return new ConvTuner(std::move(o));
  }();
  return tuner;
}

std::string ConvTuner::CacheFile() const {
  return options_.cache_dir.empty() ? "" : options_.cache_dir + "/" + kFileName;
}

std::string ConvTuner::Key(const std::string& shape, int threads, Precision precision) const {
  std::string k = absl::StrCat(options_.cpu.empty() ? CpuModelString() : options_.cpu, " | threads ", threads, " | ",
                               precision == Precision::kFast ? "fast" : "exact", " | ", shape);
  std::replace(k.begin(), k.end(), '\t', ' ');
  std::replace(k.begin(), k.end(), '\n', ' ');
  return k;
}

absl::StatusOr<ConvDecision> ConvTuner::Choose(const std::string& shape, int threads, Precision precision,
                                               ConvAlgo static_choice,
                                               const std::function<absl::Status(ConvAlgo)>& run) {
  if (options_.mode == TuningMode::kOff) return ConvDecision{static_choice, ConvDecision::Source::kStatic};
  const std::string key = Key(shape, threads, precision);
  absl::MutexLock lock(&mu_);
  if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  if (options_.mode == TuningMode::kCached) {
    LoadDiskLocked();
    if (auto it = disk_.find(key); it != disk_.end()) {
      memo_[key] = it->second;
      return it->second;
    }
  }
  ASSIGN_OR_RETURN(ConvDecision d, Measure(run));
  memo_[key] = d;
  SaveLocked(key, d);
  return d;
}

absl::StatusOr<ConvDecision> ConvTuner::Measure(const std::function<absl::Status(ConvAlgo)>& run) {
  ConvTimer* timer = options_.timer ? options_.timer : WallClockConvTimer();
  // One warm-up each (oneDNN creates its primitive and reorders the weights,
  // the Winograd kernel transforms its weights), then alternate so a change
  // in machine load hits both.
  for (ConvAlgo a : {ConvAlgo::kDnnl, ConvAlgo::kWinograd}) RETURN_IF_ERROR(run(a));
  std::vector<double> dnnl, wino;
  for (int i = 0; i < std::max(1, options_.timed_runs); ++i) {
    const ConvAlgo first = i % 2 ? ConvAlgo::kWinograd : ConvAlgo::kDnnl;
    for (ConvAlgo a : {first, first == ConvAlgo::kDnnl ? ConvAlgo::kWinograd : ConvAlgo::kDnnl}) {
      ASSIGN_OR_RETURN(double ms, timer->TimeMs(a, [&] { return run(a); }));
      (a == ConvAlgo::kDnnl ? dnnl : wino).push_back(ms);
    }
  }
  ConvDecision d;
  d.algo = FasterAlgo(dnnl, wino);
  d.source = ConvDecision::Source::kMeasured;
  d.dnnl_ms = *std::min_element(dnnl.begin(), dnnl.end());
  d.winograd_ms = *std::min_element(wino.begin(), wino.end());
  return d;
}

void ConvTuner::LoadDiskLocked() {
  if (disk_loaded_) return;
  disk_loaded_ = true;
  const std::string file = CacheFile();
  Env* env = options_.env ? options_.env : Env::Default();
  if (file.empty() || !env->FileExists(file)) return;
  absl::StatusOr<std::string> text = env->ReadFile(file);
  if (text.ok()) disk_ = ParseConvTuningFile(*text);
}

void ConvTuner::SaveLocked(const std::string& key, const ConvDecision& d) {
  const std::string file = CacheFile();
  if (file.empty()) return;
  Env* env = options_.env ? options_.env : Env::Default();
  std::map<std::string, ConvDecision> all;
  if (env->FileExists(file)) {
    if (absl::StatusOr<std::string> text = env->ReadFile(file); text.ok()) all = ParseConvTuningFile(*text);
  }
  all[key] = d;
  // A cache: a failure to write it costs a measurement next time, nothing else.
  const std::string tmp = absl::StrCat(file, ".tmp.", getpid());
  absl::Status st = env->CreateDirs(options_.cache_dir);
  absl::StatusOr<std::unique_ptr<WritableFile>> f = st.ok() ? env->NewWritableFile(tmp) : st;
  if (f.ok()) st = (*f)->Append(FormatConvTuningFile(all));
  if (f.ok() && st.ok()) st = (*f)->Close();
  if (f.ok() && st.ok()) st = env->RenameFile(tmp, file);
  if (!f.ok() || !st.ok()) {
    if (options_.log) {
      std::fprintf(stderr, "engine tuning: cannot write %s: %s\n", file.c_str(),
                   std::string((f.ok() ? st : f.status()).message()).c_str());
    }
    env->RemoveFile(tmp).IgnoreError();
    return;
  }
  disk_[key] = d;
}

}  // namespace imagen::engine
