// Kernel choice by measurement for the 3×3 convolutions that both oneDNN and
// the engine's Winograd (winograd_conv.h) can run: at a layer's first run
// with a shape, each candidate is timed on the real input with the run's
// threads and the faster kept; decisions are cached in memory and on disk per
// (CPU, layer shape, threads, precision), so later loads decide instantly.
// IMAGEN_ENGINE_TUNING=off|cached|retune (default cached; off = the static
// CPU-flag rule). The timer and the file system are seams for tests.
// Thread-safe: Choose serialises measurements under one mutex (two at once
// would disturb each other's timings).
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/kernel.h"

namespace imagen {
class Env;
}

namespace imagen::engine {

enum class ConvAlgo { kDnnl, kWinograd };
std::string_view ConvAlgoName(ConvAlgo algo);  // "onednn" | "winograd"

enum class TuningMode { kOff, kCached, kRetune };
// "off" | "cached" | "retune".
absl::StatusOr<TuningMode> ParseTuningMode(std::string_view text);

// The decision itself, a pure function: the candidate with the smaller best
// time (the minimum is the least disturbed by other load); a tie keeps oneDNN.
ConvAlgo FasterAlgo(std::span<const double> dnnl_ms, std::span<const double> winograd_ms);

// Times one run of a candidate. The default measures the steady clock around
// `run`; tests script the figures.
class ConvTimer {
 public:
  virtual ~ConvTimer() = default;
  virtual absl::StatusOr<double> TimeMs(ConvAlgo algo, const std::function<absl::Status()>& run) = 0;
};
ConvTimer* WallClockConvTimer();

// This CPU, as the cache key names it: the brand string, family/model/stepping
// and the widest vector ISA (two "AMD EPYC" machines may differ in AVX-512).
const std::string& CpuModelString();

struct ConvTuningOptions {
  TuningMode mode = TuningMode::kCached;
  // Folder of the decision file (conv-v1.tsv); empty: no disk cache.
  std::string cache_dir;
  Env* env = nullptr;          // nullptr: Env::Default()
  ConvTimer* timer = nullptr;  // nullptr: WallClockConvTimer()
  std::string cpu;             // empty: CpuModelString()
  int timed_runs = 3;          // per candidate, after one warm-up run each
  bool log = false;            // one stderr line per decision (IMAGEN_ENGINE_PROFILE=1)
};

struct ConvDecision {
  ConvAlgo algo = ConvAlgo::kDnnl;
  enum class Source { kStatic, kMeasured, kCached } source = Source::kStatic;
  double dnnl_ms = -1, winograd_ms = -1;  // best times (measured now or when cached)
};
std::string_view SourceName(ConvDecision::Source source);

class ConvTuner {
 public:
  explicit ConvTuner(ConvTuningOptions options);

  // The process-wide tuner: mode from IMAGEN_ENGINE_TUNING, decisions under
  // $XDG_CACHE_HOME/imagen/engine-tuning (else ~/.cache/imagen/engine-tuning),
  // log from IMAGEN_ENGINE_PROFILE.
  static ConvTuner* Default();

  TuningMode mode() const { return options_.mode; }
  bool log() const { return options_.log; }
  // Path of the decision file ("" without a disk cache).
  std::string CacheFile() const;

  // The kernel for a layer described by `shape` (dims, pads, post-ops, input
  // layout). kOff: `static_choice`. kCached: a decision made earlier in this
  // process or found on disk, else measured. kRetune: measured once per
  // process, ignoring (and then replacing) what is on disk. `run` runs one
  // candidate on the real input; a failing candidate fails the choice.
  absl::StatusOr<ConvDecision> Choose(const std::string& shape, int threads, Precision precision,
                                      ConvAlgo static_choice, const std::function<absl::Status(ConvAlgo)>& run);

  // The full cache key of a layer on this tuner's CPU.
  std::string Key(const std::string& shape, int threads, Precision precision) const;

 private:
  absl::StatusOr<ConvDecision> Measure(const std::function<absl::Status(ConvAlgo)>& run);
  void LoadDiskLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rewrites the decision file with this process's decisions merged over
  // the file's current lines (write to a temporary, then rename).
  void SaveLocked(const std::string& key, const ConvDecision& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ConvTuningOptions options_;
  absl::Mutex mu_;
  bool disk_loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, ConvDecision> disk_ ABSL_GUARDED_BY(mu_);  // from the file at first use
  std::map<std::string, ConvDecision> memo_ ABSL_GUARDED_BY(mu_);  // decided in this process
};

// Parses / formats the decision file: "key\talgo\tdnnl_ms\twinograd_ms" lines;
// malformed lines are ignored, a later line wins.
std::map<std::string, ConvDecision> ParseConvTuningFile(std::string_view text);
std::string FormatConvTuningFile(const std::map<std::string, ConvDecision>& decisions);

}  // namespace imagen::engine
