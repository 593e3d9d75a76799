// InferenceServer: the in-process inference server API in Triton's terms —
// model repository with control modes none/explicit/poll, load/unload,
// readiness, metadata, config, statistics, and asynchronous inference. The
// HTTP/gRPC frontends and the in-process InferenceClient are thin layers over
// it. No sockets. Thread-safe.
//
//   ServerOptions o;  o.model_repository = "models";
//   ASSIGN_OR_RETURN(auto server, InferenceServer::Create(o));
//   server->InferAsync(request, [](absl::StatusOr<InferResponse> r) { ... });
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "model_config.pb.h"
#include "serving/inference_request.h"
#include "serving/log_settings.h"
#include "serving/servable.h"
#include "serving/shared_memory.h"
#include "serving/statistics.h"
#include "serving/trace.h"

namespace imagen::serving {

enum class ModelControlMode { kNone, kExplicit, kPoll };
absl::StatusOr<ModelControlMode> ParseModelControlMode(const std::string& s);

struct ServerOptions {
  std::string model_repository;
  ModelControlMode control_mode = ModelControlMode::kNone;
  // explicit mode: models to load at start ("*" loads every model).
  std::vector<std::string> startup_models;
  int engine_threads = 0;  // shared by all instances of a model; 0: hardware threads
  absl::Duration poll_interval = absl::Seconds(15);
  Env* env = nullptr;  // nullptr: Env::Default()
};

struct TensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorMetadata> inputs, outputs;
};

// Triton's load parameters (repository extension): `config` is a ModelConfig
// in JSON that replaces config.pbtxt; `files` ("file:<path>" parameters,
// path relative to the model folder, e.g. "1/model.onnx") form the whole
// model folder, staged in a temp folder for the load (they need `config`).
struct ModelLoadOverrides {
  std::optional<std::string> config_json;
  std::map<std::string, std::string> files;
};

struct ModelIndexEntry {
  std::string name;
  std::string version;
  std::string state;  // READY, UNAVAILABLE, LOADING
  std::string reason;
};

class InferenceServer {
 public:
  // Scans the repository and loads models per the control mode. A model that
  // fails to load is reported in the index with its reason; the server
  // still starts. Errors only for an unreadable repository.
  static absl::StatusOr<std::unique_ptr<InferenceServer>> Create(ServerOptions options);
  ~InferenceServer();
  InferenceServer(const InferenceServer&) = delete;
  InferenceServer& operator=(const InferenceServer&) = delete;

  bool Live() const;
  bool Ready() const;
  absl::Status ModelReady(const std::string& name, const std::string& version) const;
  absl::StatusOr<ModelMetadata> Metadata(const std::string& name, const std::string& version) const;
  absl::StatusOr<inference::ModelConfig> Config(const std::string& name, const std::string& version) const;
  // Every version of `name` (all models when empty) that is loaded.
  absl::StatusOr<std::vector<ModelStatsSnapshot>> Statistics(const std::string& name, const std::string& version) const;
  std::vector<ModelIndexEntry> RepositoryIndex(bool ready_only) const;
  absl::Status LoadModel(const std::string& name);
  absl::Status LoadModel(const std::string& name, const ModelLoadOverrides& overrides);
  absl::Status UnloadModel(const std::string& name);
  // Poll mode: loads new and changed models, unloads removed ones.
  absl::Status PollRepository();

  // `done` runs exactly once, possibly on the calling thread (errors found
  // before queueing) or on a model instance thread.
  void InferAsync(InferRequest request, InferCallback done);
  absl::StatusOr<InferResponse> Infer(InferRequest request);

  // New requests are refused with Unavailable from now on.
  void BeginShutdown();
  // BeginShutdown, then finishes queued requests and stops every model.
  void Shutdown();
  const ServerOptions& options() const { return options_; }
  // The extensions' per-server state, shared by every frontend.
  SharedMemoryManager& shared_memory() { return shared_memory_; }
  Tracer& tracer() { return tracer_; }
  LogControl& log_control() { return log_control_; }

 private:
  struct Entry {
    std::string state = "UNAVAILABLE";
    std::string reason;
    std::string config_text;
    std::vector<std::string> version_dirs;
    std::map<int64_t, std::shared_ptr<Servable>> versions;
  };
  explicit InferenceServer(ServerOptions options);
  absl::StatusOr<std::shared_ptr<Servable>> Find(const std::string& name, const std::string& version) const;
  absl::StatusOr<std::vector<std::string>> ListModels() const;
  // `model_dir`: the model folder ("" for <repository>/<name>).
  absl::Status Load(const std::string& name, const ModelLoadOverrides& overrides, const std::string& model_dir);
  struct Staged {
    std::string root;       // temp folder, removed after the load
    std::string model_dir;  // root/<name>
  };
  absl::StatusOr<Staged> StageModelFiles(const std::string& name, const std::map<std::string, std::string>& files);
  void PollLoop();

  ServerOptions options_;
  Env* env_;
  Clock* clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> models_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex load_mu_;  // one load/unload at a time
  absl::CondVar poll_cv_;
  std::thread poller_;
  SharedMemoryManager shared_memory_;
  Tracer tracer_;
  LogControl log_control_;
};

}  // namespace imagen::serving
