#include "serving/trace.h"

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace imagen::serving {
namespace {

absl::StatusOr<int64_t> OneInt(const std::string& key, const std::vector<std::string>& v, int64_t min) {
  int64_t n;
  if (v.size() != 1 || !absl::SimpleAtoi(v[0], &n) || n < min) {
    return absl::InvalidArgumentError(
        absl::StrCat("trace setting '", key, "' must be one integer >= ", min, ", got [", absl::StrJoin(v, ","), "]"));
  }
  return n;
}

absl::StatusOr<bool> Level(const std::vector<std::string>& v) {
  bool timestamps = false;
  for (const auto& l : v) {
    if (l == "TIMESTAMPS") {
      timestamps = true;
    } else if (l == "TENSORS") {
      return absl::InvalidArgumentError("trace_level TENSORS is not supported by imagen infer (only OFF, TIMESTAMPS)");
    } else if (l != "OFF") {
      return absl::InvalidArgumentError(absl::StrCat("unknown trace_level '", l, "' (supported: OFF, TIMESTAMPS)"));
    }
  }
  return timestamps;
}

}  // namespace

TraceSink::~TraceSink() {
  absl::MutexLock l(&mu_);
  FlushLocked();
}

void TraceSink::Write(std::string trace_json) {
  absl::MutexLock l(&mu_);
  buffered_.push_back(std::move(trace_json));
  if (log_frequency_ == 0 || static_cast<int64_t>(buffered_.size()) >= log_frequency_) FlushLocked();
}

void TraceSink::FlushLocked() {
  if (buffered_.empty() || file_.empty()) {
    buffered_.clear();
    return;
  }
  if (log_frequency_ == 0) {
    std::ofstream out(file_, std::ios::app);
    for (const auto& t : buffered_) out << t << '\n';
  } else {
    std::ofstream out(absl::StrCat(file_, ".", file_index_++), std::ios::trunc);
    out << '[' << absl::StrJoin(buffered_, ",") << "]\n";
  }
  buffered_.clear();
}

RequestTrace::~RequestTrace() {
  nlohmann::json j;
  j["id"] = id_;
  j["model_name"] = model_name_;
  absl::MutexLock l(&mu_);
  int64_t version = 0;
  j["model_version"] = absl::SimpleAtoi(model_version_, &version) ? nlohmann::json(version) : nlohmann::json(-1);
  j["timestamps"] = nlohmann::json::array();
  for (const auto& [name, ns] : timestamps_) j["timestamps"].push_back({{"name", name}, {"ns", ns}});
  sink_->Write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void RequestTrace::Record(const char* name) {
  int64_t now = absl::GetCurrentTimeNanos();
  absl::MutexLock l(&mu_);
  timestamps_.emplace_back(name, now);
}

void RequestTrace::SetModelVersion(const std::string& version) {
  absl::MutexLock l(&mu_);
  model_version_ = version;
}

TraceSettingMap Tracer::ToMap(const Settings& s) {
  return {{"trace_file", {s.file}},
          {"trace_level", {s.timestamps ? "TIMESTAMPS" : "OFF"}},
          {"trace_rate", {std::to_string(s.rate)}},
          {"trace_count", {std::to_string(s.count)}},
          {"log_frequency", {std::to_string(s.log_frequency)}},
          {"trace_mode", {"triton"}}};
}

Tracer::Settings Tracer::EffectiveLocked(const std::string& model) const {
  Settings s = global_;
  auto it = models_.find(model);
  if (model.empty() || it == models_.end()) return s;
  const Override& o = it->second;
  if (o.file) s.file = *o.file;
  if (o.timestamps) s.timestamps = *o.timestamps;
  if (o.rate) s.rate = *o.rate;
  if (o.count) s.count = *o.count;
  if (o.log_frequency) s.log_frequency = *o.log_frequency;
  return s;
}

TraceSettingMap Tracer::Get(const std::string& model) const {
  absl::MutexLock l(&mu_);
  return ToMap(EffectiveLocked(model));
}

absl::StatusOr<TraceSettingMap> Tracer::Update(const std::string& model, const TraceUpdate& update) {
  // Validate everything first: all or nothing.
  Settings parsed;
  for (const auto& [key, value] : update) {
    if (!value) {
      if (model.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("trace setting '", key, "' can only be cleared (null) for a model"));
      }
      continue;
    }
    const auto& v = *value;
    if (key == "trace_file") {
      if (v.size() != 1) return absl::InvalidArgumentError("trace setting 'trace_file' must be one string");
      parsed.file = v[0];
    } else if (key == "trace_level") {
      auto level = Level(v);
      if (!level.ok()) return level.status();
      parsed.timestamps = *level;
    } else if (key == "trace_rate") {
      auto n = OneInt(key, v, 1);
      if (!n.ok()) return n.status();
      parsed.rate = *n;
    } else if (key == "trace_count") {
      auto n = OneInt(key, v, -1);
      if (!n.ok()) return n.status();
      parsed.count = *n;
    } else if (key == "log_frequency") {
      auto n = OneInt(key, v, 0);
      if (!n.ok()) return n.status();
      parsed.log_frequency = *n;
    } else if (key == "trace_mode") {
      if (v.size() != 1 || v[0] != "triton") {
        return absl::InvalidArgumentError("trace setting 'trace_mode' supports only 'triton'");
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown trace setting '", key,
                       "' (supported: trace_file, trace_level, trace_rate, trace_count, log_frequency, trace_mode)"));
    }
  }
  absl::MutexLock l(&mu_);
  bool sink_changed = false;
  for (const auto& [key, value] : update) {
    if (key == "trace_file" || key == "log_frequency") sink_changed = true;
    if (model.empty()) {
      if (key == "trace_file") global_.file = parsed.file;
      if (key == "trace_level") global_.timestamps = parsed.timestamps;
      if (key == "trace_rate") global_.rate = parsed.rate;
      if (key == "trace_count") global_.count = parsed.count;
      if (key == "log_frequency") global_.log_frequency = parsed.log_frequency;
      continue;
    }
    Override& o = models_[model];
    if (key == "trace_file") o.file = value ? std::optional<std::string>(parsed.file) : std::nullopt;
    if (key == "trace_level") o.timestamps = value ? std::optional<bool>(parsed.timestamps) : std::nullopt;
    if (key == "trace_rate") o.rate = value ? std::optional<int64_t>(parsed.rate) : std::nullopt;
    if (key == "trace_count") o.count = value ? std::optional<int64_t>(parsed.count) : std::nullopt;
    if (key == "log_frequency") o.log_frequency = value ? std::optional<int64_t>(parsed.log_frequency) : std::nullopt;
  }
  if (sink_changed) sinks_.clear();  // running traces keep (and flush) theirs
  bool on = global_.timestamps;
  for (const auto& [name, o] : models_) on = on || o.timestamps.value_or(false);
  maybe_on_.store(on, std::memory_order_relaxed);
  return ToMap(EffectiveLocked(model));
}

std::shared_ptr<RequestTrace> Tracer::Sample(const std::string& model) {
  if (!maybe_on_.load(std::memory_order_relaxed)) return nullptr;
  absl::MutexLock l(&mu_);
  Settings s = EffectiveLocked(model);
  if (!s.timestamps || s.count == 0 || s.file.empty()) return nullptr;
  auto it = models_.find(model);
  bool own_rate = it != models_.end() && it->second.rate.has_value();
  uint64_t& seen = own_rate ? it->second.seen : global_seen_;
  bool turn = seen % static_cast<uint64_t>(s.rate) == 0;
  ++seen;
  if (!turn) return nullptr;
  if (s.count > 0) {
    if (it != models_.end() && it->second.count.has_value()) {
      --*it->second.count;
    } else {
      --global_.count;
    }
  }
  auto& sink = sinks_[{s.file, s.log_frequency}];
  if (sink == nullptr) sink = std::make_shared<TraceSink>(s.file, s.log_frequency);
  return std::make_shared<RequestTrace>(next_id_++, model, sink);
}

}  // namespace imagen::serving
