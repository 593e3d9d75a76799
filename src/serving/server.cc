#include "serving/server.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "serving/backend.h"
#include "serving/batched_model.h"
#include "serving/ensemble_model.h"
#include "serving/model_config.h"
#include "spdlog/spdlog.h"

namespace imagen::serving {
namespace {

std::string Join(const std::string& a, const std::string& b) { return a + "/" + b; }

absl::Status NotFound(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("Request for unknown model: '", name, "' is not found"));
}

// Numeric version folders of a model, ascending.
std::vector<int64_t> VersionsOf(const std::vector<std::string>& children) {
  std::vector<int64_t> out;
  for (const auto& c : children) {
    int64_t v;
    if (!c.empty() && c[0] != '0' && absl::SimpleAtoi(c, &v) && v > 0) out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> ApplyPolicy(const inference::ModelVersionPolicy& policy, const std::vector<int64_t>& available) {
  if (policy.has_all()) return available;
  if (policy.has_specific()) {
    std::vector<int64_t> out;
    for (int64_t v : policy.specific().versions()) {
      if (std::find(available.begin(), available.end(), v) != available.end()) out.push_back(v);
    }
    return out;
  }
  size_t n = policy.has_latest() ? std::max<uint32_t>(1, policy.latest().num_versions()) : 1;
  size_t skip = available.size() > n ? available.size() - n : 0;
  return std::vector<int64_t>(available.begin() + static_cast<std::ptrdiff_t>(skip), available.end());
}

}  // namespace

absl::StatusOr<ModelControlMode> ParseModelControlMode(const std::string& s) {
  if (s == "none") return ModelControlMode::kNone;
  if (s == "explicit") return ModelControlMode::kExplicit;
  if (s == "poll") return ModelControlMode::kPoll;
  return absl::InvalidArgumentError(absl::StrCat("unknown model control mode '", s, "' (none, explicit or poll)"));
}

InferenceServer::InferenceServer(ServerOptions options)
    : options_(std::move(options)),
      env_(options_.env != nullptr ? options_.env : Env::Default()),
      clock_(env_->clock()) {
  if (options_.engine_threads <= 0) {
    options_.engine_threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
}

absl::StatusOr<std::unique_ptr<InferenceServer>> InferenceServer::Create(ServerOptions options) {
  std::unique_ptr<InferenceServer> server(new InferenceServer(std::move(options)));
  auto names = server->ListModels();
  if (!names.ok()) return names.status();
  std::set<std::string> to_load;
  if (server->options_.control_mode == ModelControlMode::kExplicit) {
    for (const auto& m : server->options_.startup_models) {
      if (m == "*") {
        to_load.insert(names->begin(), names->end());
      } else {
        to_load.insert(m);
      }
    }
  } else {
    to_load.insert(names->begin(), names->end());
  }
  for (const auto& name : to_load) {
    absl::Status s = server->LoadModel(name);
    if (!s.ok()) spdlog::error("model '{}' failed to load: {}", name, std::string(s.message()));
  }
  if (server->options_.control_mode == ModelControlMode::kPoll) {
    server->poller_ = std::thread([s = server.get()] { s->PollLoop(); });
  }
  return server;
}

InferenceServer::~InferenceServer() { Shutdown(); }

absl::StatusOr<std::vector<std::string>> InferenceServer::ListModels() const {
  auto children = env_->GetChildren(options_.model_repository);
  if (!children.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read model repository '", options_.model_repository, "': ", children.status().message()));
  }
  std::vector<std::string> out;
  for (const auto& c : *children) {
    if (!c.empty() && c[0] != '.' && env_->FileExists(Join(Join(options_.model_repository, c), "config.pbtxt"))) {
      out.push_back(c);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool InferenceServer::Live() const { return true; }

bool InferenceServer::Ready() const {
  absl::MutexLock l(&mu_);
  return !shutting_down_;
}

absl::Status InferenceServer::LoadModel(const std::string& name) { return LoadModel(name, ModelLoadOverrides{}); }

absl::Status InferenceServer::LoadModel(const std::string& name, const ModelLoadOverrides& overrides) {
  absl::MutexLock load(&load_mu_);
  {
    absl::MutexLock l(&mu_);
    if (shutting_down_) return absl::UnavailableError("Server is shutting down");
  }
  if (!overrides.files.empty() && !overrides.config_json) {
    return absl::InvalidArgumentError(
        absl::StrCat("loading model '", name, "' from files in the request needs a 'config' parameter too"));
  }
  if (overrides.files.empty()) return Load(name, overrides, "");
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return absl::InvalidArgumentError(absl::StrCat("invalid model name '", name, "'"));
  }
  auto staged = StageModelFiles(name, overrides.files);
  if (!staged.ok()) return staged.status();
  absl::Status s = Load(name, overrides, staged->model_dir);
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(staged->root), ec);  // the instances have read their files
  return s;
}

absl::StatusOr<InferenceServer::Staged> InferenceServer::StageModelFiles(
    const std::string& name, const std::map<std::string, std::string>& files) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "imagen-load-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("cannot create a temp folder for the model files");
  Staged staged{tmpl, Join(tmpl, name)};
  auto fail = [&](absl::Status s) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(staged.root), ec);
    return s;
  };
  if (absl::Status s = env_->CreateDirs(staged.model_dir); !s.ok()) return fail(s);
  for (const auto& [path, contents] : files) {
    std::filesystem::path rel(path);
    bool bad = path.empty() || rel.is_absolute();
    for (const auto& part : rel) bad = bad || part == ".." || part == ".";
    if (bad) return fail(absl::InvalidArgumentError(absl::StrCat("invalid file path '", path, "' in load parameters")));
    std::string full = Join(staged.model_dir, path);
    if (absl::Status s = env_->CreateDirs(std::filesystem::path(full).parent_path().string()); !s.ok()) return fail(s);
    auto f = env_->NewWritableFile(full);
    if (!f.ok()) return fail(f.status());
    if (absl::Status s = (*f)->Append(contents); !s.ok()) return fail(s);
    if (absl::Status s = (*f)->Close(); !s.ok()) return fail(s);
  }
  return staged;
}

absl::Status InferenceServer::Load(const std::string& name, const ModelLoadOverrides& overrides,
                                   const std::string& model_dir) {
  int64_t t0 = clock_->NowMicros();
  const std::string dir = model_dir.empty() ? Join(options_.model_repository, name) : model_dir;
  Entry fresh;
  fresh.state = "READY";
  auto fail = [&](const absl::Status& s) {
    std::vector<std::shared_ptr<Servable>> old;
    {
      absl::MutexLock l(&mu_);
      Entry& e = models_[name];
      for (auto& [v, m] : e.versions) old.push_back(m);
      e.versions.clear();
      e.state = "UNAVAILABLE";
      e.reason = std::string(s.message());
      e.config_text = fresh.config_text;
      e.version_dirs = fresh.version_dirs;
    }
    for (auto& m : old) m->Stop();
    return s;
  };
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return absl::InvalidArgumentError(absl::StrCat("invalid model name '", name, "'"));
  }
  const std::string config_path = Join(dir, "config.pbtxt");
  const bool exists = overrides.config_json ? env_->GetChildren(dir).ok() : env_->FileExists(config_path);
  if (!exists) {
    bool known;
    {
      absl::MutexLock l(&mu_);
      known = models_.count(name) > 0;
    }
    if (!known) return NotFound(name);
    return fail(absl::NotFoundError(absl::StrCat("failed to load '", name, "': no config.pbtxt in ", dir)));
  }
  absl::StatusOr<inference::ModelConfig> config;
  if (overrides.config_json) {
    // Like Triton: the override replaces config.pbtxt (which is not read).
    config = ParseModelConfigJson(*overrides.config_json, absl::StrCat("the 'config' load parameter of '", name, "'"));
    if (!config.ok()) return config.status();  // the loaded model (if any) stays
    fresh.config_text = *overrides.config_json;
  } else {
    auto text = env_->ReadFile(config_path);
    if (!text.ok()) return fail(text.status());
    fresh.config_text = *text;
    config = ParseModelConfig(*text, config_path);
    if (!config.ok()) return fail(config.status());
  }
  auto children = env_->GetChildren(dir);
  if (!children.ok()) return fail(children.status());
  fresh.version_dirs = *children;
  std::sort(fresh.version_dirs.begin(), fresh.version_dirs.end());
  std::vector<int64_t> available = VersionsOf(*children);
  bool ensemble = config->platform() == "ensemble";
  if (available.empty() && ensemble) available.push_back(1);
  Backend* backend = nullptr;
  if (!ensemble) {
    auto b = BackendFor(*config);
    if (!b.ok()) return fail(b.status());
    backend = *b;
  }
  std::string first_dir = available.empty() ? dir : Join(dir, std::to_string(available.back()));
  absl::Status completed = CompleteModelConfig(&*config, name, backend, first_dir);
  if (!completed.ok()) return fail(completed);
  if (ensemble) {
    absl::Status graph =
        CheckEnsembleGraph(*config, [&](const std::string& m) -> std::optional<inference::ModelConfig> {
          if (m == name) return *config;
          if (m.empty() || m.find('/') != std::string::npos || m[0] == '.') return std::nullopt;
          const std::string path = Join(Join(options_.model_repository, m), "config.pbtxt");
          auto t = env_->ReadFile(path);
          if (!t.ok()) return std::nullopt;
          auto c = ParseModelConfig(*t, path);
          if (!c.ok()) return std::nullopt;
          return *c;
        });
    if (!graph.ok()) return fail(graph);
  }
  std::vector<int64_t> chosen = ApplyPolicy(config->version_policy(), available);
  if (chosen.empty()) {
    return fail(absl::NotFoundError(
        absl::StrCat("at least one version must be available under the version policy of model '", name, "'")));
  }
  for (int64_t v : chosen) {
    if (ensemble) {
      fresh.versions[v] = std::make_shared<EnsembleModel>(
          *config, v, [this](InferRequest r, InferCallback cb) { InferAsync(std::move(r), std::move(cb)); }, clock_);
      continue;
    }
    auto m = BatchedModel::Create(*config, v, Join(dir, std::to_string(v)), backend, options_.engine_threads, clock_);
    if (!m.ok()) {
      for (auto& [ver, made] : fresh.versions) made->Stop();
      return fail(absl::Status(m.status().code(),
                               absl::StrCat("failed to load '", name, "' version ", v, ": ", m.status().message())));
    }
    fresh.versions[v] = std::shared_ptr<Servable>(std::move(*m));
  }
  double secs = static_cast<double>(clock_->NowMicros() - t0) / 1e6;
  for (auto& [v, m] : fresh.versions) m->stats().SetLoadDuration(secs);
  std::vector<std::shared_ptr<Servable>> old;
  {
    absl::MutexLock l(&mu_);
    Entry& e = models_[name];
    for (auto& [v, m] : e.versions) old.push_back(m);
    e = std::move(fresh);
  }
  for (auto& m : old) m->Stop();
  spdlog::info("loaded model '{}' ({} version(s)) in {:.3f}s", name, chosen.size(), secs);
  return absl::OkStatus();
}

absl::Status InferenceServer::UnloadModel(const std::string& name) {
  absl::MutexLock load(&load_mu_);
  std::vector<std::shared_ptr<Servable>> old;
  {
    absl::MutexLock l(&mu_);
    auto it = models_.find(name);
    if (it == models_.end()) return NotFound(name);
    for (auto& [v, m] : it->second.versions) old.push_back(m);
    it->second.versions.clear();
    it->second.state = "UNAVAILABLE";
    it->second.reason = "unloaded";
  }
  for (auto& m : old) m->Stop();
  return absl::OkStatus();
}

absl::Status InferenceServer::PollRepository() {
  auto names = ListModels();
  if (!names.ok()) return names.status();
  std::vector<std::string> changed, removed;
  {
    absl::MutexLock l(&mu_);
    for (const auto& n : *names) {
      auto it = models_.find(n);
      if (it == models_.end()) {
        changed.push_back(n);
        continue;
      }
      auto text = env_->ReadFile(Join(Join(options_.model_repository, n), "config.pbtxt"));
      auto children = env_->GetChildren(Join(options_.model_repository, n));
      std::vector<std::string> dirs = children.ok() ? *children : std::vector<std::string>{};
      std::sort(dirs.begin(), dirs.end());
      if (!text.ok() || *text != it->second.config_text || dirs != it->second.version_dirs) changed.push_back(n);
    }
    for (const auto& [n, e] : models_) {
      if (std::find(names->begin(), names->end(), n) == names->end() && !e.versions.empty()) removed.push_back(n);
    }
  }
  for (const auto& n : changed) {
    absl::Status s = LoadModel(n);
    if (!s.ok()) spdlog::error("poll: model '{}' failed to load: {}", n, std::string(s.message()));
  }
  for (const auto& n : removed) (void)UnloadModel(n);
  return absl::OkStatus();
}

void InferenceServer::PollLoop() {
  absl::MutexLock l(&mu_);
  while (!shutting_down_) {
    poll_cv_.WaitWithTimeout(&mu_, options_.poll_interval);
    if (shutting_down_) break;
    mu_.Unlock();
    (void)PollRepository();
    mu_.Lock();
  }
}

absl::StatusOr<std::shared_ptr<Servable>> InferenceServer::Find(const std::string& name,
                                                                const std::string& version) const {
  absl::MutexLock l(&mu_);
  auto it = models_.find(name);
  if (it == models_.end()) return NotFound(name);
  const Entry& e = it->second;
  if (e.versions.empty()) {
    return absl::UnavailableError(absl::StrCat("Request for unknown model: '", name, "' has no available versions",
                                               e.reason.empty() ? "" : " (" + e.reason + ")"));
  }
  if (version.empty()) return e.versions.rbegin()->second;
  int64_t v;
  if (!absl::SimpleAtoi(version, &v) || e.versions.count(v) == 0) {
    return absl::NotFoundError(
        absl::StrCat("Request for unknown model: '", name, "' version ", version, " is not found"));
  }
  return e.versions.at(v);
}

absl::Status InferenceServer::ModelReady(const std::string& name, const std::string& version) const {
  {
    absl::MutexLock l(&mu_);
    if (shutting_down_) return absl::UnavailableError("Server is shutting down");
  }
  return Find(name, version).status();
}

absl::StatusOr<ModelMetadata> InferenceServer::Metadata(const std::string& name, const std::string& version) const {
  auto m = Find(name, version);
  if (!m.ok()) return m.status();
  const auto& c = (*m)->config();
  ModelMetadata md;
  md.name = c.name();
  md.platform = c.platform().empty() ? c.backend() : c.platform();
  {
    absl::MutexLock l(&mu_);
    for (const auto& [v, s] : models_.at(name).versions) md.versions.push_back(std::to_string(v));
  }
  auto shape = [&](const auto& dims) {
    std::vector<int64_t> s;
    if (c.max_batch_size() > 0) s.push_back(-1);
    s.insert(s.end(), dims.begin(), dims.end());
    return s;
  };
  for (const auto& in : c.input()) md.inputs.push_back({in.name(), DataTypeName(in.data_type()), shape(in.dims())});
  for (const auto& out : c.output()) {
    md.outputs.push_back({out.name(), DataTypeName(out.data_type()), shape(out.dims())});
  }
  return md;
}

absl::StatusOr<inference::ModelConfig> InferenceServer::Config(const std::string& name,
                                                               const std::string& version) const {
  auto m = Find(name, version);
  if (!m.ok()) return m.status();
  return (*m)->config();
}

absl::StatusOr<std::vector<ModelStatsSnapshot>> InferenceServer::Statistics(const std::string& name,
                                                                            const std::string& version) const {
  std::vector<ModelStatsSnapshot> out;
  if (!name.empty()) {
    if (!version.empty()) {
      auto m = Find(name, version);
      if (!m.ok()) return m.status();
      out.push_back((*m)->stats().Snapshot());
      return out;
    }
    absl::MutexLock l(&mu_);
    auto it = models_.find(name);
    if (it == models_.end()) return NotFound(name);
    for (const auto& [v, m] : it->second.versions) out.push_back(m->stats().Snapshot());
    return out;
  }
  absl::MutexLock l(&mu_);
  for (const auto& [n, e] : models_) {
    for (const auto& [v, m] : e.versions) out.push_back(m->stats().Snapshot());
  }
  return out;
}

std::vector<ModelIndexEntry> InferenceServer::RepositoryIndex(bool ready_only) const {
  std::vector<ModelIndexEntry> out;
  auto names = ListModels();
  absl::MutexLock l(&mu_);
  std::set<std::string> all(names.ok() ? names->begin() : std::vector<std::string>::const_iterator(),
                            names.ok() ? names->end() : std::vector<std::string>::const_iterator());
  for (const auto& [n, e] : models_) all.insert(n);
  for (const auto& n : all) {
    auto it = models_.find(n);
    if (it == models_.end()) {
      if (!ready_only) out.push_back({n, "", "", ""});
      continue;
    }
    if (it->second.versions.empty()) {
      if (!ready_only) out.push_back({n, "", it->second.state, it->second.reason});
      continue;
    }
    for (const auto& [v, m] : it->second.versions) out.push_back({n, std::to_string(v), "READY", ""});
  }
  return out;
}

void InferenceServer::InferAsync(InferRequest request, InferCallback done) {
  {
    absl::MutexLock l(&mu_);
    if (shutting_down_) {
      done(absl::UnavailableError("Server is shutting down"));
      return;
    }
  }
  auto m = Find(request.model_name, request.model_version);
  if (!m.ok()) {
    done(m.status());
    return;
  }
  if (!request.trace_sampled && request.ensemble_depth == 0) request.trace = tracer_.Sample(request.model_name);
  if (request.trace != nullptr) {
    request.trace->Record("REQUEST_START");
    done = [trace = request.trace, done = std::move(done)](absl::StatusOr<InferResponse> r) {
      if (r.ok()) trace->SetModelVersion(r->model_version);
      trace->Record("REQUEST_END");
      done(std::move(r));
    };
  }
  (*m)->Infer(std::move(request), std::move(done));
}

absl::StatusOr<InferResponse> InferenceServer::Infer(InferRequest request) {
  std::promise<absl::StatusOr<InferResponse>> promise;
  auto future = promise.get_future();
  InferAsync(std::move(request), [&promise](absl::StatusOr<InferResponse> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void InferenceServer::BeginShutdown() {
  absl::MutexLock l(&mu_);
  shutting_down_ = true;
  poll_cv_.SignalAll();
}

void InferenceServer::Shutdown() {
  BeginShutdown();
  if (poller_.joinable()) poller_.join();
  absl::MutexLock load(&load_mu_);
  std::vector<std::shared_ptr<Servable>> all;
  {
    absl::MutexLock l(&mu_);
    for (auto& [n, e] : models_) {
      for (auto& [v, m] : e.versions) all.push_back(m);
    }
  }
  for (auto& m : all) m->Stop();
}

}  // namespace imagen::serving
