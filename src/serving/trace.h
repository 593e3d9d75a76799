// Triton's trace extension, protocol-neutral: trace settings (global and per
// model, in Triton's setting names and string values), request sampling by
// rate and count, and the trace file. A sampled request carries a
// RequestTrace; the frontends, the server and the model record Triton's
// timestamp names on it (REQUEST_START, QUEUE_START, COMPUTE_START, ...), and
// when the last holder lets go it is written as one JSON object
// {"id","model_name","model_version","timestamps":[{"name","ns"}]}.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace imagen::serving {

// Where finished traces go: log_frequency 0 appends each trace to `file` as
// one JSON line; N > 0 writes every N traces as one JSON array to
// `file.<k>` (k = 0, 1, ...), as Triton does.
class TraceSink {
 public:
  TraceSink(std::string file, int64_t log_frequency) : file_(std::move(file)), log_frequency_(log_frequency) {}
  ~TraceSink();  // writes what is buffered
  void Write(std::string trace_json);

 private:
  void FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const std::string file_;
  const int64_t log_frequency_;
  absl::Mutex mu_;
  std::vector<std::string> buffered_ ABSL_GUARDED_BY(mu_);
  int file_index_ ABSL_GUARDED_BY(mu_) = 0;
};

class RequestTrace {
 public:
  RequestTrace(uint64_t id, std::string model_name, std::shared_ptr<TraceSink> sink)
      : id_(id), model_name_(std::move(model_name)), sink_(std::move(sink)) {}
  ~RequestTrace();
  RequestTrace(const RequestTrace&) = delete;
  RequestTrace& operator=(const RequestTrace&) = delete;
  // Records `name` at the current time (ns since the Unix epoch).
  void Record(const char* name);
  void SetModelVersion(const std::string& version);
  uint64_t id() const { return id_; }

 private:
  const uint64_t id_;
  const std::string model_name_;
  std::shared_ptr<TraceSink> sink_;
  absl::Mutex mu_;
  std::string model_version_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, int64_t>> timestamps_ ABSL_GUARDED_BY(mu_);
};

// Setting name -> values, as the trace extension shows them:
// trace_file, trace_level (["OFF"] or ["TIMESTAMPS"]), trace_rate,
// trace_count, log_frequency (decimal strings).
using TraceSettingMap = std::map<std::string, std::vector<std::string>>;
// An update: a setting with no value (nullopt) clears a model's override.
using TraceUpdate = std::map<std::string, std::optional<std::vector<std::string>>>;

class Tracer {
 public:
  // `model` "": the global settings.
  TraceSettingMap Get(const std::string& model) const;
  // Applies all of `update` or nothing; InvalidArgument for an unknown
  // setting, a bad value or trace_level TENSORS (not supported).
  absl::StatusOr<TraceSettingMap> Update(const std::string& model, const TraceUpdate& update);
  // A trace for the next request to `model`, or nullptr when it is not
  // sampled (level OFF, not the rate's turn, or the count is used up).
  std::shared_ptr<RequestTrace> Sample(const std::string& model);

 private:
  struct Settings {
    std::string file;
    bool timestamps = false;
    int64_t rate = 1000;
    int64_t count = -1;  // traces left; -1: unlimited
    int64_t log_frequency = 0;
  };
  // A model's overrides; unset fields follow the global settings.
  struct Override {
    std::optional<std::string> file;
    std::optional<bool> timestamps;
    std::optional<int64_t> rate, count, log_frequency;
    uint64_t seen = 0;
  };
  Settings EffectiveLocked(const std::string& model) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static TraceSettingMap ToMap(const Settings& s);

  // False while no scope has TIMESTAMPS: Sample then takes no lock.
  std::atomic<bool> maybe_on_{false};
  mutable absl::Mutex mu_;
  Settings global_ ABSL_GUARDED_BY(mu_);
  uint64_t global_seen_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, Override> models_ ABSL_GUARDED_BY(mu_);
  // One sink per (file, log_frequency) in use; dropped when settings change
  // (traces still running keep theirs).
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<TraceSink>> sinks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace imagen::serving
