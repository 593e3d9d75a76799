#include "worker/grpc_inference_client.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "frontends/grpc_convert.h"
#include "frontends/status_map.h"
#include "grpc_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace imagen::worker {

struct GrpcInferenceClient::Impl {
  GrpcClientOptions options;
  Clock* clock;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub;
  CircuitBreaker breaker;
  absl::Mutex rng_mu;
  std::mt19937_64 rng ABSL_GUARDED_BY(rng_mu){std::random_device{}()};

  explicit Impl(GrpcClientOptions o)
      : options(std::move(o)),
        clock(options.clock != nullptr ? options.clock : Clock::Real()),
        breaker(options.breaker_failures, options.breaker_open_for, clock) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(options.max_message_bytes);
    args.SetMaxSendMessageSize(options.max_message_bytes);
    channel = grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
    stub = inference::GRPCInferenceService::NewStub(channel);
  }

  absl::Duration Backoff(int attempt) {
    absl::Duration d = options.initial_backoff * (1 << std::min(attempt, 16));
    d = std::min(d, options.max_backoff);
    absl::MutexLock l(&rng_mu);
    double jitter = std::uniform_real_distribution<double>(0.5, 1.0)(rng);
    return d * jitter;
  }

  // Runs `call(ctx)` with the deadline, retries and the breaker.
  template <typename Call>
  absl::Status Run(absl::Duration timeout, const Call& call) {
    absl::Time deadline = clock->Now() + (timeout == absl::InfiniteDuration() ? options.default_deadline : timeout);
    absl::Status last;
    for (int attempt = 0; attempt < std::max(1, options.max_attempts); ++attempt) {
      if (!breaker.Allow()) {
        return absl::UnavailableError(absl::StrCat("inference service ", options.target,
                                                   " is failing; circuit breaker open", last.ok() ? "" : ": ",
                                                   last.message()));
      }
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(deadline));
      absl::Status s = frontends::FromGrpcStatus(call(&ctx));
      bool transient = s.code() == absl::StatusCode::kUnavailable || s.code() == absl::StatusCode::kDeadlineExceeded;
      if (transient) {
        breaker.RecordFailure();
      } else {
        breaker.RecordSuccess();
      }
      if (s.code() != absl::StatusCode::kUnavailable) return s;
      last = s;
      absl::Duration wait = Backoff(attempt);
      if (attempt + 1 >= options.max_attempts || clock->Now() + wait >= deadline) break;
      clock->SleepFor(wait);
    }
    return last;
  }
};

GrpcInferenceClient::GrpcInferenceClient(GrpcClientOptions options) : impl_(new Impl(std::move(options))) {}
GrpcInferenceClient::~GrpcInferenceClient() = default;

absl::StatusOr<ops::InferResult> GrpcInferenceClient::Infer(const ops::InferRequest& request) {
  serving::InferRequest r;
  r.model_name = request.model_name;
  r.model_version = request.model_version;
  r.priority = request.priority;
  r.outputs = request.outputs;
  for (const auto& t : request.inputs) r.inputs.push_back({t.name, t.datatype, t.shape, t.data});
  inference::ModelInferRequest proto;
  frontends::ToProto(r, &proto);
  inference::ModelInferResponse response;
  absl::Status s = impl_->Run(request.timeout, [&](grpc::ClientContext* ctx) {
    response.Clear();
    return impl_->stub->ModelInfer(ctx, proto, &response);
  });
  if (!s.ok()) return s;
  auto converted = frontends::FromProto(&response);
  if (!converted.ok()) return converted.status();
  ops::InferResult out;
  for (auto& t : converted->outputs) {
    out.outputs.push_back({std::move(t.name), std::move(t.datatype), std::move(t.shape), std::move(t.data)});
  }
  return out;
}

absl::Status GrpcInferenceClient::ModelReady(const std::string& model) {
  inference::ModelReadyRequest req;
  req.set_name(model);
  inference::ModelReadyResponse resp;
  absl::Status s =
      impl_->Run(absl::Seconds(5), [&](grpc::ClientContext* ctx) { return impl_->stub->ModelReady(ctx, req, &resp); });
  if (!s.ok()) return s;
  if (!resp.ready()) return absl::UnavailableError(absl::StrCat("model '", model, "' is not ready"));
  return absl::OkStatus();
}

}  // namespace imagen::worker
