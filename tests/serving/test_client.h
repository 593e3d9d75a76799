// Test fixture pieces: an InferenceServer over a TestRepository with the
// KServe HTTP, gRPC and metrics frontends on free ports of 127.0.0.1, and a
// minimal blocking HTTP client. Not thread-safe except HttpCall.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "frontends/grpc_frontend.h"
#include "frontends/restricted_api.h"
#include "grpc_service.grpc.pb.h"
#include "http/server.h"
#include "serving/server.h"
#include "serving/test_repository.h"

namespace imagen::testing_serving {

struct HttpResult {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

// One request on a fresh connection; status 0 when the connection failed.
HttpResult HttpCall(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
                    const std::map<std::string, std::string>& headers = {});

// Restricted protocol groups of the test servers' HTTP and gRPC frontends.
struct Restrictions {
  frontends::RestrictedApis http, grpc;
};

class Servers {
 public:
  // `add_models` may add models to the repository (beside the standard ones)
  // before the server starts.
  explicit Servers(uint64_t body_limit = 64ull << 20,
                   const std::function<void(serving::TestRepository&)>& add_models = nullptr,
                   Restrictions restrictions = {});
  ~Servers();
  serving::InferenceServer* server() { return server_.get(); }
  uint16_t http_port() const { return http_->port(); }
  uint16_t metrics_port() const { return metrics_->port(); }
  uint16_t grpc_port() const { return grpc_->port(); }
  inference::GRPCInferenceService::Stub* stub() { return stub_.get(); }

 private:
  serving::TestRepository repo_;
  std::unique_ptr<serving::InferenceServer> server_;
  std::unique_ptr<http::Server> http_, metrics_;
  std::unique_ptr<frontends::GrpcFrontend> grpc_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

}  // namespace imagen::testing_serving
