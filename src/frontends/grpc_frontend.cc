#include "frontends/grpc_frontend.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/thread_pool.h"
#include "common/utf8.h"
#include "common/version.h"
#include "frontends/grpc_async_call.h"
#include "frontends/grpc_busy_poll.h"
#include "frontends/grpc_convert.h"
#include "frontends/status_map.h"
#include "grpc_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "health.grpc.pb.h"

namespace imagen::frontends {
namespace {

// How long the queue thread polls before it sleeps (grpc_busy_poll.h).
constexpr int kBusyPollUs = 100;

using InferenceService = inference::GRPCInferenceService::AsyncService;

constexpr char kNoCuda[] = "CUDA shared memory is not supported by imagen infer (CPU only)";

// Triton's answer to a call of a restricted group without its header.
absl::Status Allowed(const grpc::ServerContext& ctx, ApiGroup group, const RestrictedApis& restricted) {
  const Restriction* r = restricted.Find(group);
  if (r == nullptr) return absl::OkStatus();
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(r->key));
  if (it != md.end() && std::string_view(it->second.data(), it->second.size()) == r->value) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("This protocol is restricted, expecting header '", r->key, "'"));
}
using HealthService = grpc::health::v1::Health::AsyncService;

// One ModelStreamInfer call: requests are read one after another and run
// concurrently; responses (or per-request errors in error_message) are
// written in completion order, one write at a time. Deleted when the final
// status is sent and no read, write or inference is outstanding.
class StreamCall {
 public:
  static void Arm(InferenceService* service, grpc::ServerCompletionQueue* cq, serving::InferenceServer* server,
                  LiveCalls* live, ThreadPool* executor, const RestrictedApis* restricted) {
    new StreamCall(service, cq, server, live, executor, restricted);
  }

 private:
  StreamCall(InferenceService* service, grpc::ServerCompletionQueue* cq, serving::InferenceServer* server,
             LiveCalls* live, ThreadPool* executor, const RestrictedApis* restricted)
      : service_(service),
        cq_(cq),
        server_(server),
        live_(live),
        executor_(executor),
        restricted_(restricted),
        stream_(&ctx_) {
    live_->Add();
    service_->RequestModelStreamInfer(&ctx_, &stream_, cq_, cq_, &started_op_);
  }

  void OnStarted(bool ok) {
    if (!ok) return Delete();
    Arm(service_, cq_, server_, live_, executor_, restricted_);
    absl::MutexLock l(&mu_);
    if (absl::Status a = Allowed(ctx_, ApiGroup::kInference, *restricted_); !a.ok()) {
      reads_done_ = true;
      finishing_ = true;
      stream_.Finish(ToGrpcStatus(a), &finish_op_);
      return;
    }
    reading_ = true;
    stream_.Read(&request_, &read_op_);
  }

  void OnRead(bool ok) {
    if (!ok) {
      bool done;
      {
        absl::MutexLock l(&mu_);
        reading_ = false;
        reads_done_ = true;
        MaybeFinishLocked();
        done = DoneLocked();
      }
      if (done) Delete();
      return;
    }
    auto shm_outputs = std::make_shared<serving::SharedMemoryOutputs>();
    auto r = FromProto(&request_, &server_->shared_memory(), shm_outputs.get());
    {
      absl::MutexLock l(&mu_);
      ++in_flight_;
    }
    if (!r.ok()) {
      Complete(r.status(), nullptr);
    } else {
      // The inference starts on the executor: a short model may run on the
      // thread that calls InferAsync, which must not be the queue's.
      auto request = std::make_shared<serving::InferRequest>(std::move(*r));
      bool queued = executor_->Submit([this, request, shm_outputs] {
        auto done = std::make_shared<std::atomic<bool>>(false);
        try {
          server_->InferAsync(std::move(*request),
                              [this, done, shm_outputs](absl::StatusOr<serving::InferResponse> result) {
                                done->store(true);
                                Complete(std::move(result), shm_outputs.get());
                              });
        } catch (const std::exception& e) {
          if (!done->load()) Complete(absl::InternalError(std::string("internal error: ") + e.what()), nullptr);
        }
      });
      if (!queued) Complete(absl::UnavailableError("the server is shutting down"), nullptr);
    }
    absl::MutexLock l(&mu_);
    request_.Clear();
    stream_.Read(&request_, &read_op_);
  }

  void OnWritten(bool ok) {
    bool done;
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      pending_.pop_front();
      if (!ok) {
        broken_ = true;
        pending_.clear();
      }
      WriteNextLocked();
      MaybeFinishLocked();
      done = DoneLocked();
    }
    if (done) Delete();
  }

  void OnFinished(bool) {
    bool done;
    {
      absl::MutexLock l(&mu_);
      finish_sent_ = true;
      done = DoneLocked();
    }
    if (done) Delete();
  }

  void Complete(absl::StatusOr<serving::InferResponse> result, const serving::SharedMemoryOutputs* shm_outputs) {
    inference::ModelStreamInferResponse out;
    if (result.ok() && shm_outputs != nullptr) {
      if (absl::Status w = serving::WriteSharedMemoryOutputs(*shm_outputs, *result); !w.ok()) result = w;
    }
    if (result.ok()) {
      ToProto(std::move(*result), out.mutable_infer_response(), shm_outputs);
    } else {
      out.set_error_message(ToValidUtf8(std::string(result.status().message())));  // proto3 strings are UTF-8
    }
    bool done;
    {
      absl::MutexLock l(&mu_);
      --in_flight_;
      if (!broken_) pending_.push_back(std::move(out));
      WriteNextLocked();
      MaybeFinishLocked();
      done = DoneLocked();
    }
    if (done) Delete();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || pending_.empty() || broken_) return;
    writing_ = true;
    stream_.Write(pending_.front(), &write_op_);
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_ || !reads_done_ || in_flight_ > 0 || writing_ || !pending_.empty()) return;
    finishing_ = true;
    stream_.Finish(grpc::Status::OK, &finish_op_);
  }

  bool DoneLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finish_sent_ && !reading_ && !writing_ && in_flight_ == 0;
  }

  void Delete() {
    LiveCalls* live = live_;
    delete this;
    live->Remove();
  }

  InferenceService* service_;
  grpc::ServerCompletionQueue* cq_;
  serving::InferenceServer* server_;
  LiveCalls* live_;
  ThreadPool* executor_;
  const RestrictedApis* restricted_;
  grpc::ServerContext ctx_;
  grpc::ServerAsyncReaderWriter<inference::ModelStreamInferResponse, inference::ModelInferRequest> stream_;
  OpTag<StreamCall> started_op_{this, &StreamCall::OnStarted};
  OpTag<StreamCall> read_op_{this, &StreamCall::OnRead};
  OpTag<StreamCall> write_op_{this, &StreamCall::OnWritten};
  OpTag<StreamCall> finish_op_{this, &StreamCall::OnFinished};
  inference::ModelInferRequest request_;  // owned by the outstanding read
  absl::Mutex mu_;
  std::deque<inference::ModelStreamInferResponse> pending_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_sent_ ABSL_GUARDED_BY(mu_) = false;
};

// Triton's load parameters over gRPC: "config" (string_param, JSON) and
// "file:<path>" (bytes_param); anything else is refused, never ignored.
absl::StatusOr<serving::ModelLoadOverrides> LoadOverridesFromProto(const inference::RepositoryModelLoadRequest& req) {
  serving::ModelLoadOverrides o;
  for (const auto& [key, p] : req.parameters()) {
    if (key == "config" && p.has_string_param()) {
      o.config_json = p.string_param();
    } else if (key.rfind("file:", 0) == 0 && p.has_bytes_param()) {
      o.files[key.substr(5)] = p.bytes_param();
    } else {
      return absl::InvalidArgumentError(
          ToValidUtf8(absl::StrCat("unsupported load parameter '", key,
                                   "' (supported: 'config' as string_param and 'file:<path>' as bytes_param)")));
    }
  }
  return o;
}

}  // namespace

// gRPC 1.51's callback API runs every callback on two "nexting" threads that
// hand the poller role to each other on every event (three context switches
// per unary call on the server); one thread draining one completion queue
// takes one, so the server uses the async API.
struct GrpcFrontend::Impl {
  serving::InferenceServer* server;
  GrpcOptions options;
  InferenceService inference;
  HealthService health;
  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<grpc::ServerCompletionQueue> cq;
  std::thread cq_thread;
  LiveCalls live;
  // Handlers run here, never on cq_thread: inference and metadata on
  // `handlers`, repository load/unload (which may take long) on `control`.
  std::unique_ptr<ThreadPool> handlers, control;
  std::vector<std::shared_ptr<const void>> methods;  // UnaryCall<...>::Method
  int port = 0;

  // Serves unary method `request` of `service` with `handle`, which replies
  // through the call.
  template <class Svc, class Base, class Req, class Resp>
  void Serve(Svc* service,
             void (Base::*request)(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                                   grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
             typename UnaryCall<Req, Resp>::Handler handle, ThreadPool* executor, ApiGroup group,
             bool watch_cancel = false) {
    using Call = UnaryCall<Req, Resp>;
    handle = [handle = std::move(handle), group, restricted = &options.restricted](Call* call) {
      if (absl::Status a = Allowed(*call->context(), group, *restricted); !a.ok()) return call->Reply(a);
      handle(call);
    };
    grpc::ServerCompletionQueue* q = cq.get();
    auto bound = [service, request, q](grpc::ServerContext* ctx, Req* req, grpc::ServerAsyncResponseWriter<Resp>* w,
                                       void* tag) { (service->*request)(ctx, req, w, q, q, tag); };
    auto m = std::make_shared<typename Call::Method>(
        typename Call::Method{bound, std::move(handle), &live, watch_cancel, executor});
    Call::Arm(m.get());
    methods.push_back(std::move(m));
  }

  // Serves a method whose reply is ready when `handle` returns.
  template <class Svc, class Base, class Req, class Resp>
  void ServeNow(Svc* service,
                void (Base::*request)(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                                      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
                std::function<absl::Status(const Req&, Resp*)> handle, ThreadPool* executor, ApiGroup group) {
    Serve(
        service, request,
        [handle = std::move(handle)](UnaryCall<Req, Resp>* call) {
          call->Reply(handle(*call->request(), call->response()));
        },
        executor, group);
  }

  void ServeAll();
  // Shared memory (CUDA refused), trace and log settings.
  void ServeExtensions();
};

void GrpcFrontend::Impl::ServeAll() {
  using S = InferenceService;
  namespace inf = inference;
  serving::InferenceServer* s = server;
  ServeNow(&inference, &S::RequestServerLive,
           std::function<absl::Status(const inf::ServerLiveRequest&, inf::ServerLiveResponse*)>(
               [s](const inf::ServerLiveRequest&, inf::ServerLiveResponse* resp) {
                 resp->set_live(s->Live());
                 return absl::OkStatus();
               }),
           nullptr, ApiGroup::kHealth);
  ServeNow(&inference, &S::RequestServerReady,
           std::function<absl::Status(const inf::ServerReadyRequest&, inf::ServerReadyResponse*)>(
               [s](const inf::ServerReadyRequest&, inf::ServerReadyResponse* resp) {
                 resp->set_ready(s->Ready());
                 return absl::OkStatus();
               }),
           nullptr, ApiGroup::kHealth);
  ServeNow(&inference, &S::RequestModelReady,
           std::function<absl::Status(const inf::ModelReadyRequest&, inf::ModelReadyResponse*)>(
               [s](const inf::ModelReadyRequest& req, inf::ModelReadyResponse* resp) {
                 resp->set_ready(s->ModelReady(req.name(), req.version()).ok());
                 return absl::OkStatus();
               }),
           handlers.get(), ApiGroup::kHealth);
  ServeNow(&inference, &S::RequestServerMetadata,
           std::function<absl::Status(const inf::ServerMetadataRequest&, inf::ServerMetadataResponse*)>(
               [](const inf::ServerMetadataRequest&, inf::ServerMetadataResponse* resp) {
                 resp->set_name("imagen");
                 resp->set_version(kVersion);
                 for (const char* e : {"binary_tensor_data", "statistics", "model_repository", "model_configuration",
                                       "system_shared_memory", "trace", "logging"}) {
                   resp->add_extensions(e);
                 }
                 return absl::OkStatus();
               }),
           handlers.get(), ApiGroup::kMetadata);
  ServeNow(&inference, &S::RequestModelMetadata,
           std::function<absl::Status(const inf::ModelMetadataRequest&, inf::ModelMetadataResponse*)>(
               [s](const inf::ModelMetadataRequest& req, inf::ModelMetadataResponse* resp) {
                 auto md = s->Metadata(req.name(), req.version());
                 if (md.ok()) ToProto(*md, resp);
                 return md.status();
               }),
           handlers.get(), ApiGroup::kMetadata);
  ServeNow(&inference, &S::RequestModelConfig,
           std::function<absl::Status(const inf::ModelConfigRequest&, inf::ModelConfigResponse*)>(
               [s](const inf::ModelConfigRequest& req, inf::ModelConfigResponse* resp) {
                 auto c = s->Config(req.name(), req.version());
                 if (c.ok()) *resp->mutable_config() = *c;
                 return c.status();
               }),
           handlers.get(), ApiGroup::kModelConfig);
  ServeNow(&inference, &S::RequestModelStatistics,
           std::function<absl::Status(const inf::ModelStatisticsRequest&, inf::ModelStatisticsResponse*)>(
               [s](const inf::ModelStatisticsRequest& req, inf::ModelStatisticsResponse* resp) {
                 auto stats = s->Statistics(req.name(), req.version());
                 if (stats.ok()) {
                   for (const auto& st : *stats) ToProto(st, resp->add_model_stats());
                 }
                 return stats.status();
               }),
           handlers.get(), ApiGroup::kStatistics);
  ServeNow(&inference, &S::RequestRepositoryIndex,
           std::function<absl::Status(const inf::RepositoryIndexRequest&, inf::RepositoryIndexResponse*)>(
               [s](const inf::RepositoryIndexRequest& req, inf::RepositoryIndexResponse* resp) {
                 for (const auto& e : s->RepositoryIndex(req.ready())) {
                   auto* m = resp->add_models();
                   m->set_name(ToValidUtf8(e.name));
                   m->set_version(e.version);
                   m->set_state(e.state);
                   m->set_reason(ToValidUtf8(e.reason));
                 }
                 return absl::OkStatus();
               }),
           handlers.get(), ApiGroup::kModelRepository);
  auto explicit_only = [s]() -> absl::Status {
    if (s->options().control_mode == serving::ModelControlMode::kExplicit) return absl::OkStatus();
    return absl::UnavailableError("explicit model load / unload is not allowed if polling is enabled");
  };
  ServeNow(&inference, &S::RequestRepositoryModelLoad,
           std::function<absl::Status(const inf::RepositoryModelLoadRequest&, inf::RepositoryModelLoadResponse*)>(
               [s, explicit_only](const inf::RepositoryModelLoadRequest& req, inf::RepositoryModelLoadResponse*) {
                 absl::Status allowed = explicit_only();
                 if (!allowed.ok()) return allowed;
                 auto overrides = LoadOverridesFromProto(req);
                 return overrides.ok() ? s->LoadModel(req.model_name(), *overrides) : overrides.status();
               }),
           control.get(), ApiGroup::kModelRepository);
  ServeNow(&inference, &S::RequestRepositoryModelUnload,
           std::function<absl::Status(const inf::RepositoryModelUnloadRequest&, inf::RepositoryModelUnloadResponse*)>(
               [s, explicit_only](const inf::RepositoryModelUnloadRequest& req, inf::RepositoryModelUnloadResponse*) {
                 absl::Status allowed = explicit_only();
                 if (!allowed.ok()) return allowed;
                 for (const auto& [key, p] : req.parameters()) {
                   if (key == "unload_dependents" && p.has_bool_param() && !p.bool_param()) continue;
                   return absl::InvalidArgumentError(ToValidUtf8(absl::StrCat(
                       "unsupported unload parameter '", key, "' (only unload_dependents: false is supported)")));
                 }
                 return s->UnloadModel(req.model_name());
               }),
           control.get(), ApiGroup::kModelRepository);
  using InferCall = UnaryCall<inf::ModelInferRequest, inf::ModelInferResponse>;
  Serve(&inference, &S::RequestModelInfer, InferCall::Handler([s](InferCall* call) {
    auto shm_outputs = std::make_shared<serving::SharedMemoryOutputs>();  // holds the regions until the reply
    auto r = FromProto(call->request(), &s->shared_memory(), shm_outputs.get());
    if (!r.ok()) return call->Reply(r.status());
    r->cancelled = call->cancelled();
    r->trace = s->tracer().Sample(r->model_name);
    r->trace_sampled = true;
    if (r->trace != nullptr) r->trace->Record("GRPC_WAITREAD_END");  // the request has been read
    auto trace = r->trace;
    s->InferAsync(std::move(*r), [call, shm_outputs, trace](absl::StatusOr<serving::InferResponse> result) {
      if (trace != nullptr) trace->Record("GRPC_SEND_START");
      if (result.ok()) {
        if (absl::Status w = serving::WriteSharedMemoryOutputs(*shm_outputs, *result); !w.ok()) result = w;
      }
      if (result.ok()) ToProto(std::move(*result), call->response(), shm_outputs.get());
      call->Reply(result.status());
    });
  }),
        handlers.get(), ApiGroup::kInference, /*watch_cancel=*/true);
  StreamCall::Arm(&inference, cq.get(), server, &live, handlers.get(), &options.restricted);

  ServeExtensions();

  namespace hv = grpc::health::v1;
  ServeNow(&health, &HealthService::RequestCheck,
           std::function<absl::Status(const hv::HealthCheckRequest&, hv::HealthCheckResponse*)>(
               [s](const hv::HealthCheckRequest& req, hv::HealthCheckResponse* resp) {
                 if (!req.service().empty() && req.service() != "inference.GRPCInferenceService") {
                   return absl::NotFoundError(absl::StrCat("unknown service '", req.service(), "'"));
                 }
                 resp->set_status(s->Ready() ? hv::HealthCheckResponse::SERVING : hv::HealthCheckResponse::NOT_SERVING);
                 return absl::OkStatus();
               }),
           nullptr, ApiGroup::kHealth);
}

void GrpcFrontend::Impl::ServeExtensions() {
  using S = InferenceService;
  namespace inf = inference;
  serving::InferenceServer* s = server;
  constexpr ApiGroup kShm = ApiGroup::kSharedMemory;
  ServeNow(
      &inference, &S::RequestSystemSharedMemoryStatus,
      std::function<absl::Status(const inf::SystemSharedMemoryStatusRequest&, inf::SystemSharedMemoryStatusResponse*)>(
          [s](const inf::SystemSharedMemoryStatusRequest& req, inf::SystemSharedMemoryStatusResponse* resp) {
            auto regions = s->shared_memory().Status(req.name());
            if (!regions.ok()) return regions.status();
            for (const auto& r : *regions) {
              auto& out = (*resp->mutable_regions())[ToValidUtf8(r->name())];
              out.set_name(ToValidUtf8(r->name()));
              out.set_key(ToValidUtf8(r->key()));
              out.set_offset(r->offset());
              out.set_byte_size(r->byte_size());
            }
            return absl::OkStatus();
          }),
      handlers.get(), kShm);
  ServeNow(&inference, &S::RequestSystemSharedMemoryRegister,
           std::function<absl::Status(const inf::SystemSharedMemoryRegisterRequest&,
                                      inf::SystemSharedMemoryRegisterResponse*)>(
               [s](const inf::SystemSharedMemoryRegisterRequest& req, inf::SystemSharedMemoryRegisterResponse*) {
                 return s->shared_memory().Register(req.name(), req.key(), req.offset(), req.byte_size());
               }),
           handlers.get(), kShm);
  ServeNow(&inference, &S::RequestSystemSharedMemoryUnregister,
           std::function<absl::Status(const inf::SystemSharedMemoryUnregisterRequest&,
                                      inf::SystemSharedMemoryUnregisterResponse*)>(
               [s](const inf::SystemSharedMemoryUnregisterRequest& req, inf::SystemSharedMemoryUnregisterResponse*) {
                 return s->shared_memory().Unregister(req.name());
               }),
           handlers.get(), kShm);
  ServeNow(&inference, &S::RequestCudaSharedMemoryStatus,
           std::function<absl::Status(const inf::CudaSharedMemoryStatusRequest&, inf::CudaSharedMemoryStatusResponse*)>(
               [](const inf::CudaSharedMemoryStatusRequest&, inf::CudaSharedMemoryStatusResponse*) {
                 return absl::UnimplementedError(kNoCuda);
               }),
           nullptr, kShm);
  ServeNow(
      &inference, &S::RequestCudaSharedMemoryRegister,
      std::function<absl::Status(const inf::CudaSharedMemoryRegisterRequest&, inf::CudaSharedMemoryRegisterResponse*)>(
          [](const inf::CudaSharedMemoryRegisterRequest&, inf::CudaSharedMemoryRegisterResponse*) {
            return absl::UnimplementedError(kNoCuda);
          }),
      nullptr, kShm);
  ServeNow(&inference, &S::RequestCudaSharedMemoryUnregister,
           std::function<absl::Status(const inf::CudaSharedMemoryUnregisterRequest&,
                                      inf::CudaSharedMemoryUnregisterResponse*)>(
               [](const inf::CudaSharedMemoryUnregisterRequest&, inf::CudaSharedMemoryUnregisterResponse*) {
                 return absl::UnimplementedError(kNoCuda);
               }),
           nullptr, kShm);
  ServeNow(&inference, &S::RequestTraceSetting,
           std::function<absl::Status(const inf::TraceSettingRequest&, inf::TraceSettingResponse*)>(
               [s](const inf::TraceSettingRequest& req, inf::TraceSettingResponse* resp) {
                 if (!req.model_name().empty()) {
                   if (auto c = s->Config(req.model_name(), ""); !c.ok()) return c.status();
                 }
                 serving::TraceSettingMap current;
                 if (req.settings().empty()) {
                   current = s->tracer().Get(req.model_name());
                 } else {
                   serving::TraceUpdate update;
                   for (const auto& [key, v] : req.settings()) {
                     // An empty value clears a model's setting (Triton's rule).
                     if (v.value().empty()) {
                       update[key] = std::nullopt;
                     } else {
                       update[key] = std::vector<std::string>(v.value().begin(), v.value().end());
                     }
                   }
                   auto updated = s->tracer().Update(req.model_name(), update);
                   if (!updated.ok()) return updated.status();
                   current = std::move(*updated);
                 }
                 for (const auto& [key, values] : current) {
                   auto& out = (*resp->mutable_settings())[key];
                   for (const auto& v : values) out.add_value(ToValidUtf8(v));
                 }
                 return absl::OkStatus();
               }),
           handlers.get(), ApiGroup::kTrace);
  ServeNow(
      &inference, &S::RequestLogSettings,
      std::function<absl::Status(const inf::LogSettingsRequest&, inf::LogSettingsResponse*)>(
          [s](const inf::LogSettingsRequest& req, inf::LogSettingsResponse* resp) {
            serving::LogSettingMap current;
            if (req.settings().empty()) {
              current = s->log_control().Get();
            } else {
              serving::LogSettingMap update;
              for (const auto& [key, v] : req.settings()) {
                if (v.has_bool_param()) {
                  update[key] = v.bool_param();
                } else if (v.has_uint32_param()) {
                  update[key] = v.uint32_param();
                } else if (v.has_string_param()) {
                  update[key] = v.string_param();
                } else {
                  return absl::InvalidArgumentError(ToValidUtf8(absl::StrCat("log setting '", key, "' has no value")));
                }
              }
              auto updated = s->log_control().Update(update);
              if (!updated.ok()) return updated.status();
              current = std::move(*updated);
            }
            for (const auto& [key, value] : current) {
              auto& out = (*resp->mutable_settings())[key];
              if (const bool* b = std::get_if<bool>(&value)) out.set_bool_param(*b);
              if (const uint32_t* u = std::get_if<uint32_t>(&value)) out.set_uint32_param(*u);
              if (const std::string* str = std::get_if<std::string>(&value)) out.set_string_param(*str);
            }
            return absl::OkStatus();
          }),
      handlers.get(), ApiGroup::kLogging);
}

GrpcFrontend::GrpcFrontend(serving::InferenceServer* server, GrpcOptions options) : impl_(new Impl) {
  impl_->server = server;
  impl_->options = std::move(options);
  impl_->options.restricted = impl_->options.restricted.ForGrpc();
}

GrpcFrontend::~GrpcFrontend() { Stop(absl::ZeroDuration()); }

absl::Status GrpcFrontend::Start() {
  grpc::ServerBuilder builder;
  std::string address = absl::StrCat(impl_->options.host, ":", impl_->options.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(&impl_->inference);
  builder.RegisterService(&impl_->health);
  builder.SetMaxReceiveMessageSize(impl_->options.max_message_bytes);
  builder.SetMaxSendMessageSize(impl_->options.max_message_bytes);
  // No census or server-side deadline filter (clients enforce their own
  // deadlines): ~10 us less per call. Explicit message size limits still apply.
  builder.AddChannelArgument(GRPC_ARG_MINIMAL_STACK, 1);
  impl_->cq = builder.AddCompletionQueue();
  impl_->grpc_server = builder.BuildAndStart();
  if (impl_->grpc_server == nullptr || impl_->port == 0) {
    impl_->grpc_server.reset();
    impl_->cq->Shutdown();
    void* tag;
    bool ok;
    while (impl_->cq->Next(&tag, &ok)) {
    }
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", address, " (port in use?)"));
  }
  int threads = impl_->options.handler_threads > 0 ? impl_->options.handler_threads
                                                   : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  impl_->handlers = std::make_unique<ThreadPool>(threads, "grpc-handlers");
  impl_->control = std::make_unique<ThreadPool>(2, "grpc-control");
  impl_->ServeAll();
  impl_->cq_thread = std::thread([cq = impl_->cq.get()] {
    void* tag;
    bool ok;
    while (NextWithBusyPoll(*cq, &tag, &ok, kBusyPollUs)) static_cast<CqTag*>(tag)->Proceed(ok);
  });
  return absl::OkStatus();
}

uint16_t GrpcFrontend::port() const { return static_cast<uint16_t>(impl_->port); }

void GrpcFrontend::Stop(absl::Duration grace) {
  if (impl_->grpc_server == nullptr) return;
  impl_->grpc_server->Shutdown(std::chrono::system_clock::now() +
                               std::chrono::microseconds(absl::ToInt64Microseconds(grace)));
  // Requested calls come back cancelled; running ones finish when their
  // inference answers. Only then may the queue shut down.
  impl_->live.WaitForNone();
  impl_->cq->Shutdown();
  impl_->cq_thread.join();
  impl_->grpc_server.reset();
  impl_->handlers->Shutdown();
  impl_->control->Shutdown();
}

}  // namespace imagen::frontends
