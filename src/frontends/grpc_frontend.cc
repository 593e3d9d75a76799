#include "frontends/grpc_frontend.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/version.h"
#include "frontends/grpc_convert.h"
#include "frontends/status_map.h"
#include "grpc_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace imagen::frontends {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

ServerUnaryReactor* Done(CallbackServerContext* ctx, const absl::Status& s) {
  auto* r = ctx->DefaultReactor();
  r->Finish(ToGrpcStatus(s));
  return r;
}

// One ModelStreamInfer call: requests are read one after another and run
// concurrently; responses (or per-request errors in error_message) are
// written in completion order, one write at a time.
class StreamReactor final
    : public grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse> {
 public:
  explicit StreamReactor(serving::InferenceServer* server) : server_(server) { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock l(&mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    auto r = FromProto(request_);
    {
      absl::MutexLock l(&mu_);
      ++in_flight_;
    }
    if (!r.ok()) {
      Complete(r.status());
    } else {
      server_->InferAsync(std::move(*r),
                          [this](absl::StatusOr<serving::InferResponse> result) { Complete(std::move(result)); });
    }
    request_.Clear();
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    pending_.pop_front();
    if (!ok) broken_ = true;
    WriteNextLocked();
    MaybeFinishLocked();
  }

  void OnDone() override { delete this; }

 private:
  void Complete(absl::StatusOr<serving::InferResponse> result) {
    inference::ModelStreamInferResponse out;
    if (result.ok()) {
      ToProto(std::move(*result), out.mutable_infer_response());
    } else {
      out.set_error_message(std::string(result.status().message()));
    }
    absl::MutexLock l(&mu_);
    --in_flight_;
    if (!broken_) pending_.push_back(std::move(out));
    WriteNextLocked();
    MaybeFinishLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || pending_.empty() || broken_) return;
    writing_ = true;
    StartWrite(&pending_.front());
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || !reads_done_ || in_flight_ > 0 || writing_) return;
    if (!pending_.empty() && !broken_) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  serving::InferenceServer* server_;
  inference::ModelInferRequest request_;
  absl::Mutex mu_;
  std::deque<inference::ModelStreamInferResponse> pending_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class Service final : public inference::GRPCInferenceService::CallbackService {
 public:
  explicit Service(serving::InferenceServer* server) : server_(server) {}

  ServerUnaryReactor* ServerLive(CallbackServerContext* ctx, const inference::ServerLiveRequest*,
                                 inference::ServerLiveResponse* resp) override {
    resp->set_live(server_->Live());
    return Done(ctx, absl::OkStatus());
  }
  ServerUnaryReactor* ServerReady(CallbackServerContext* ctx, const inference::ServerReadyRequest*,
                                  inference::ServerReadyResponse* resp) override {
    resp->set_ready(server_->Ready());
    return Done(ctx, absl::OkStatus());
  }
  ServerUnaryReactor* ModelReady(CallbackServerContext* ctx, const inference::ModelReadyRequest* req,
                                 inference::ModelReadyResponse* resp) override {
    resp->set_ready(server_->ModelReady(req->name(), req->version()).ok());
    return Done(ctx, absl::OkStatus());
  }
  ServerUnaryReactor* ServerMetadata(CallbackServerContext* ctx, const inference::ServerMetadataRequest*,
                                     inference::ServerMetadataResponse* resp) override {
    resp->set_name("imagen");
    resp->set_version(kVersion);
    for (const char* e : {"binary_tensor_data", "statistics", "model_repository", "model_configuration"}) {
      resp->add_extensions(e);
    }
    return Done(ctx, absl::OkStatus());
  }
  ServerUnaryReactor* ModelMetadata(CallbackServerContext* ctx, const inference::ModelMetadataRequest* req,
                                    inference::ModelMetadataResponse* resp) override {
    auto md = server_->Metadata(req->name(), req->version());
    if (md.ok()) ToProto(*md, resp);
    return Done(ctx, md.status());
  }
  ServerUnaryReactor* ModelConfig(CallbackServerContext* ctx, const inference::ModelConfigRequest* req,
                                  inference::ModelConfigResponse* resp) override {
    auto c = server_->Config(req->name(), req->version());
    if (c.ok()) *resp->mutable_config() = *c;
    return Done(ctx, c.status());
  }
  ServerUnaryReactor* ModelStatistics(CallbackServerContext* ctx, const inference::ModelStatisticsRequest* req,
                                      inference::ModelStatisticsResponse* resp) override {
    auto stats = server_->Statistics(req->name(), req->version());
    if (stats.ok()) {
      for (const auto& s : *stats) ToProto(s, resp->add_model_stats());
    }
    return Done(ctx, stats.status());
  }
  ServerUnaryReactor* RepositoryIndex(CallbackServerContext* ctx, const inference::RepositoryIndexRequest* req,
                                      inference::RepositoryIndexResponse* resp) override {
    for (const auto& e : server_->RepositoryIndex(req->ready())) {
      auto* m = resp->add_models();
      m->set_name(e.name);
      m->set_version(e.version);
      m->set_state(e.state);
      m->set_reason(e.reason);
    }
    return Done(ctx, absl::OkStatus());
  }
  ServerUnaryReactor* RepositoryModelLoad(CallbackServerContext* ctx, const inference::RepositoryModelLoadRequest* req,
                                          inference::RepositoryModelLoadResponse*) override {
    if (server_->options().control_mode != serving::ModelControlMode::kExplicit) {
      return Done(ctx, absl::UnavailableError("explicit model load / unload is not allowed if polling is enabled"));
    }
    return Done(ctx, server_->LoadModel(req->model_name()));
  }
  ServerUnaryReactor* RepositoryModelUnload(CallbackServerContext* ctx,
                                            const inference::RepositoryModelUnloadRequest* req,
                                            inference::RepositoryModelUnloadResponse*) override {
    if (server_->options().control_mode != serving::ModelControlMode::kExplicit) {
      return Done(ctx, absl::UnavailableError("explicit model load / unload is not allowed if polling is enabled"));
    }
    return Done(ctx, server_->UnloadModel(req->model_name()));
  }
  ServerUnaryReactor* ModelInfer(CallbackServerContext* ctx, const inference::ModelInferRequest* req,
                                 inference::ModelInferResponse* resp) override {
    auto r = FromProto(*req);
    if (!r.ok()) return Done(ctx, r.status());
    auto* reactor = ctx->DefaultReactor();
    server_->InferAsync(std::move(*r), [reactor, resp](absl::StatusOr<serving::InferResponse> result) {
      if (result.ok()) ToProto(std::move(*result), resp);
      reactor->Finish(ToGrpcStatus(result.status()));
    });
    return reactor;
  }
  grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>* ModelStreamInfer(
      CallbackServerContext*) override {
    return new StreamReactor(server_);
  }

 private:
  serving::InferenceServer* server_;
};

}  // namespace

struct GrpcFrontend::Impl {
  serving::InferenceServer* server;
  GrpcOptions options;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> grpc_server;
  int port = 0;
};

GrpcFrontend::GrpcFrontend(serving::InferenceServer* server, GrpcOptions options) : impl_(new Impl) {
  impl_->server = server;
  impl_->options = std::move(options);
}

GrpcFrontend::~GrpcFrontend() { Stop(absl::ZeroDuration()); }

absl::Status GrpcFrontend::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  impl_->service = std::make_unique<Service>(impl_->server);
  grpc::ServerBuilder builder;
  std::string address = absl::StrCat(impl_->options.host, ":", impl_->options.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(impl_->service.get());
  builder.SetMaxReceiveMessageSize(impl_->options.max_message_bytes);
  builder.SetMaxSendMessageSize(impl_->options.max_message_bytes);
  impl_->grpc_server = builder.BuildAndStart();
  if (impl_->grpc_server == nullptr || impl_->port == 0) {
    impl_->grpc_server.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", address, " (port in use?)"));
  }
  return absl::OkStatus();
}

uint16_t GrpcFrontend::port() const { return static_cast<uint16_t>(impl_->port); }

void GrpcFrontend::Stop(absl::Duration grace) {
  if (impl_->grpc_server == nullptr) return;
  impl_->grpc_server->Shutdown(std::chrono::system_clock::now() +
                               std::chrono::microseconds(absl::ToInt64Microseconds(grace)));
  impl_->grpc_server->Wait();
  impl_->grpc_server.reset();
}

}  // namespace imagen::frontends
