#include "test_client.h"

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "common/check.h"
#include "frontends/http_frontend.h"
#include "grpcpp/grpcpp.h"

namespace imagen::testing_serving {

namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

HttpResult HttpCall(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
                    const std::map<std::string, std::string>& headers) {
  HttpResult out;
  try {
    boost::asio::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(socket, req);
    boost::beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1ull << 30);
    bhttp::read(socket, buffer, parser);
    auto& res = parser.get();
    out.status = res.result_int();
    out.body = res.body();
    for (const auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
  } catch (const std::exception&) {
    out.status = 0;
  }
  return out;
}

namespace {

std::unique_ptr<http::Server> Start(http::Router router, uint64_t body_limit, bool kserve) {
  auto shared = std::make_shared<http::Router>(std::move(router));
  http::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.body_limit = body_limit;
  if (kserve) frontends::UseKServeErrors(o, shared);
  auto s = std::make_unique<http::Server>(
      o, [shared](http::Request& req, http::RequestContext& ctx, http::ResponseStream& stream) {
        return shared->Route(req, ctx, stream);
      });
  IMAGEN_CHECK(s->Start().ok(), "http start");
  return s;
}

}  // namespace

Servers::Servers(uint64_t body_limit, const std::function<void(serving::TestRepository&)>& add_models,
                 Restrictions restrictions) {
  repo_.AddStandardModels();
  if (add_models) add_models(repo_);
  serving::ServerOptions o;
  o.model_repository = repo_.path();
  o.control_mode = serving::ModelControlMode::kExplicit;
  o.startup_models = {"*"};
  server_ = serving::InferenceServer::Create(o).value();
  http_ = Start(frontends::KServeHttpRouter(server_.get(), body_limit, std::move(restrictions.http)), body_limit,
                /*kserve=*/true);
  metrics_ = Start(frontends::MetricsRouter(server_.get()), 1 << 20, /*kserve=*/false);
  frontends::GrpcOptions g;
  g.port = 0;
  g.restricted = std::move(restrictions.grpc);
  grpc_ = std::make_unique<frontends::GrpcFrontend>(server_.get(), g);
  IMAGEN_CHECK(grpc_->Start().ok(), "grpc start");
  stub_ = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_->port()), grpc::InsecureChannelCredentials()));
}

Servers::~Servers() {
  grpc_->Stop(absl::Seconds(1));
  http_->Stop(absl::Seconds(1));
  metrics_->Stop(absl::Seconds(1));
  server_->Shutdown();
}

}  // namespace imagen::testing_serving
