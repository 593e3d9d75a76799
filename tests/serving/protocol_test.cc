// One table of KServe v2 protocol cases, each run over HTTP and over gRPC:
// the same request must give the same outcome (HTTP status and gRPC code
// that Triton returns, message naming the problem, or the right outputs).
// Then protocol details of each transport.
#include <cstring>
#include <future>
#include <thread>

#include "absl/time/clock.h"
#include "frontends/compression.h"
#include "frontends/status_map.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "test_client.h"

namespace imagen::testing_serving {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

serving::Tensor Floats(const std::string& name, std::vector<int64_t> shape, std::vector<float> v) {
  serving::Tensor t{name, "FP32", std::move(shape), std::string(v.size() * 4, '\0')};
  std::memcpy(t.data.data(), v.data(), t.data.size());
  return t;
}

struct Case {
  std::string name;
  std::string model;
  std::string version;
  std::vector<serving::Tensor> inputs;
  std::vector<std::string> outputs;
  absl::StatusCode code;
  std::string message;      // substring of the error
  std::string output_name;  // on success: one output to check
  std::vector<float> output_values;
};

// Test names and failure messages show the case name, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> Cases() {
  return {
      {"identity_ok",
       "identity",
       "",
       {Floats("INPUT0", {1, 3}, {1, 2, 3})},
       {},
       absl::StatusCode::kOk,
       "",
       "OUTPUT0",
       {1, 2, 3}},
      {"identity_version_ok",
       "identity",
       "1",
       {Floats("INPUT0", {2, 1}, {4, 5})},
       {},
       absl::StatusCode::kOk,
       "",
       "OUTPUT0",
       {4, 5}},
      {"add_sub_ok",
       "add_sub",
       "",
       {Floats("INPUT0", {4}, {1, 2, 3, 4}), Floats("INPUT1", {4}, {1, 1, 1, 1})},
       {"OUTPUT1"},
       absl::StatusCode::kOk,
       "",
       "OUTPUT1",
       {0, 1, 2, 3}},
      {"unknown_model",
       "nope",
       "",
       {Floats("INPUT0", {1, 1}, {1})},
       {},
       absl::StatusCode::kNotFound,
       "unknown model: 'nope'",
       "",
       {}},
      {"unknown_version",
       "identity",
       "9",
       {Floats("INPUT0", {1, 1}, {1})},
       {},
       absl::StatusCode::kNotFound,
       "version 9",
       "",
       {}},
      {"model_failed_to_load",
       "broken",
       "",
       {Floats("INPUT0", {1, 1}, {1})},
       {},
       absl::StatusCode::kUnavailable,
       "has no available versions",
       "",
       {}},
      {"wrong_shape",
       "add_sub",
       "",
       {Floats("INPUT0", {3}, {1, 2, 3}), Floats("INPUT1", {4}, {1, 1, 1, 1})},
       {},
       absl::StatusCode::kInvalidArgument,
       "unexpected shape for input 'INPUT0'",
       "",
       {}},
      {"missing_input",
       "add_sub",
       "",
       {Floats("INPUT0", {4}, {1, 2, 3, 4})},
       {},
       absl::StatusCode::kInvalidArgument,
       "missing input 'INPUT1'",
       "",
       {}},
      {"unknown_input",
       "identity",
       "",
       {Floats("INPUT0", {1, 1}, {1}), Floats("EXTRA", {1, 1}, {1})},
       {},
       absl::StatusCode::kInvalidArgument,
       "unexpected inference input 'EXTRA'",
       "",
       {}},
      {"wrong_dtype",
       "identity",
       "",
       {{"INPUT0", "INT32", {1, 1}, std::string(4, '\0')}},
       {},
       absl::StatusCode::kInvalidArgument,
       "data-type is 'INT32'",
       "",
       {}},
      {"unknown_dtype",
       "identity",
       "",
       {{"INPUT0", "FP33", {1, 1}, std::string(4, '\0')}},
       {},
       absl::StatusCode::kInvalidArgument,
       "FP33",
       "",
       {}},
      {"batch_too_large",
       "identity",
       "",
       {Floats("INPUT0", {9, 1}, std::vector<float>(9))},
       {},
       absl::StatusCode::kInvalidArgument,
       "batch-size must be <= 8",
       "",
       {}},
      {"byte_size_mismatch",
       "identity",
       "",
       {{"INPUT0", "FP32", {1, 2}, std::string(4, '\0')}},
       {},
       absl::StatusCode::kInvalidArgument,
       "byte size",
       "",
       {}},
      {"unknown_output",
       "identity",
       "",
       {Floats("INPUT0", {1, 1}, {1})},
       {"NOPE"},
       absl::StatusCode::kInvalidArgument,
       "unexpected inference output 'NOPE'",
       "",
       {}},
      {"ensemble_ok",
       "pipeline",
       "",
       {Floats("A", {4}, {1, 2, 3, 4}), Floats("B", {4}, {5, 5, 5, 5})},
       {},
       absl::StatusCode::kOk,
       "",
       "SUM",
       {1, 2, 3, 4}},
  };
}

class ProtocolTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() { servers_ = new Servers(1 << 20); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  static Servers* servers_;
};
Servers* ProtocolTest::servers_ = nullptr;

std::vector<float> AsFloats(const std::string& raw) {
  std::vector<float> v(raw.size() / 4);
  std::memcpy(v.data(), raw.data(), v.size() * 4);
  return v;
}

TEST_P(ProtocolTest, Http) {
  const Case& c = GetParam();
  json j;
  j["id"] = "case-" + c.name;
  j["inputs"] = json::array();
  std::string binary;
  for (const auto& t : c.inputs) {
    j["inputs"].push_back({{"name", t.name},
                           {"datatype", t.datatype},
                           {"shape", t.shape},
                           {"parameters", {{"binary_data_size", t.data.size()}}}});
    binary += t.data;
  }
  for (const auto& o : c.outputs) j["outputs"].push_back({{"name", o}});
  std::string header = j.dump();
  std::string target = "/v2/models/" + c.model + (c.version.empty() ? "" : "/versions/" + c.version) + "/infer";
  HttpResult r = HttpCall(servers_->http_port(), "POST", target, header + binary,
                          {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  ASSERT_EQ(r.status, frontends::HttpCodeFor(c.code)) << r.body;
  json body = json::parse(r.body);
  if (c.code != absl::StatusCode::kOk) {
    EXPECT_THAT(body["error"].get<std::string>(), HasSubstr(c.message));
    return;
  }
  EXPECT_EQ(body["id"], "case-" + c.name);
  bool found = false;
  for (const auto& o : body["outputs"]) {
    if (o["name"] != c.output_name) continue;
    found = true;
    EXPECT_EQ(o["data"].get<std::vector<float>>(), c.output_values);
  }
  EXPECT_TRUE(found) << r.body;
}

TEST_P(ProtocolTest, Grpc) {
  const Case& c = GetParam();
  inference::ModelInferRequest req;
  req.set_model_name(c.model);
  req.set_model_version(c.version);
  req.set_id("case-" + c.name);
  for (const auto& t : c.inputs) {
    auto* in = req.add_inputs();
    in->set_name(t.name);
    in->set_datatype(t.datatype);
    for (int64_t d : t.shape) in->add_shape(d);
    req.add_raw_input_contents(t.data);
  }
  for (const auto& o : c.outputs) req.add_outputs()->set_name(o);
  grpc::ClientContext ctx;
  inference::ModelInferResponse resp;
  grpc::Status s = servers_->stub()->ModelInfer(&ctx, req, &resp);
  ASSERT_EQ(static_cast<int>(s.error_code()), static_cast<int>(c.code)) << s.error_message();
  if (c.code != absl::StatusCode::kOk) {
    EXPECT_THAT(s.error_message(), HasSubstr(c.message));
    return;
  }
  EXPECT_EQ(resp.id(), "case-" + c.name);
  bool found = false;
  for (int i = 0; i < resp.outputs_size(); ++i) {
    if (resp.outputs(i).name() != c.output_name) continue;
    found = true;
    EXPECT_EQ(AsFloats(resp.raw_output_contents(i)), c.output_values);
  }
  EXPECT_TRUE(found);
}

INSTANTIATE_TEST_SUITE_P(Cases, ProtocolTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

class TransportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new Servers(1 << 20); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  static Servers* servers_;
};
Servers* TransportTest::servers_ = nullptr;

TEST_F(TransportTest, HttpHealthMetadataAndConfigWithDefaults) {
  EXPECT_EQ(HttpCall(servers_->http_port(), "GET", "/v2/health/live", "").status, 200u);
  EXPECT_EQ(HttpCall(servers_->http_port(), "GET", "/v2/health/ready", "").status, 200u);
  EXPECT_EQ(HttpCall(servers_->http_port(), "GET", "/v2/models/identity/ready", "").status, 200u);
  EXPECT_EQ(HttpCall(servers_->http_port(), "GET", "/v2/models/broken/ready", "").status, 400u);
  auto md = json::parse(HttpCall(servers_->http_port(), "GET", "/v2/models/identity", "").body);
  EXPECT_EQ(md["inputs"][0]["shape"], json({-1, -1}));
  auto cfg = json::parse(HttpCall(servers_->http_port(), "GET", "/v2/models/identity/config", "").body);
  EXPECT_EQ(cfg["max_batch_size"], 8);
  EXPECT_EQ(cfg["input"][0]["dims"], json({-1}));
  EXPECT_EQ(cfg["instance_group"][0]["kind"], "KIND_CPU");
  EXPECT_EQ(cfg["instance_group"][0]["count"], 1);
  EXPECT_TRUE(cfg["dynamic_batching"].contains("max_queue_delay_microseconds"));
  EXPECT_EQ(cfg["version_policy"]["latest"]["num_versions"], 1);
  EXPECT_EQ(HttpCall(servers_->http_port(), "GET", "/v2/models/nope/config", "").status, 404u);
}

TEST_F(TransportTest, HttpJsonDataGzipAndBinaryOutput) {
  std::string body = R"({"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,2],"data":[[1.5,2.5]]}],)"
                     R"("outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]})";
  auto gz = frontends::Compress(body, "gzip").value();
  HttpResult r =
      HttpCall(servers_->http_port(), "POST", "/v2/models/identity/infer", gz, {{"Content-Encoding", "gzip"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  size_t header_len = std::stoul(r.headers["Inference-Header-Content-Length"]);
  json head = json::parse(r.body.substr(0, header_len));
  EXPECT_EQ(head["outputs"][0]["parameters"]["binary_data_size"], 8);
  EXPECT_EQ(AsFloats(r.body.substr(header_len)), (std::vector<float>{1.5, 2.5}));
}

TEST_F(TransportTest, HttpMalformedAndOversizedBodies) {
  HttpResult r = HttpCall(servers_->http_port(), "POST", "/v2/models/identity/infer", "{not json");
  EXPECT_EQ(r.status, 400u);
  EXPECT_THAT(r.body, HasSubstr("failed to parse the request JSON"));
  r = HttpCall(servers_->http_port(), "POST", "/v2/models/identity/infer", "{}", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.status, 400u);
  r = HttpCall(servers_->http_port(), "POST", "/v2/models/identity/infer", std::string(2 << 20, ' '));
  EXPECT_EQ(r.status, 413u);
  // The server still serves after all of that.
  EXPECT_EQ(HttpCall(servers_->http_port(), "GET", "/v2/health/live", "").status, 200u);
}

TEST_F(TransportTest, RepositoryIndexLoadUnloadOverBothProtocols) {
  auto index = json::parse(HttpCall(servers_->http_port(), "POST", "/v2/repository/index", "{}").body);
  bool broken_reported = false;
  for (const auto& m : index) {
    if (m["name"] == "broken") broken_reported = m["state"] == "UNAVAILABLE" && m.contains("reason");
  }
  EXPECT_TRUE(broken_reported) << index.dump();
  EXPECT_EQ(HttpCall(servers_->http_port(), "POST", "/v2/repository/models/add_sub/unload", "").status, 200u);
  EXPECT_EQ(HttpCall(servers_->http_port(), "GET", "/v2/models/add_sub/ready", "").status, 400u);
  grpc::ClientContext ctx;
  inference::RepositoryModelLoadRequest load;
  load.set_model_name("add_sub");
  inference::RepositoryModelLoadResponse resp;
  ASSERT_TRUE(servers_->stub()->RepositoryModelLoad(&ctx, load, &resp).ok());
  EXPECT_EQ(HttpCall(servers_->http_port(), "GET", "/v2/models/add_sub/ready", "").status, 200u);
  EXPECT_EQ(HttpCall(servers_->http_port(), "POST", "/v2/repository/models/nope/load", "").status, 404u);
}

TEST_F(TransportTest, GrpcMetadataConfigStatisticsAndStream) {
  {
    grpc::ClientContext ctx;
    inference::ModelConfigRequest req;
    req.set_name("delay");
    inference::ModelConfigResponse resp;
    ASSERT_TRUE(servers_->stub()->ModelConfig(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.config().dynamic_batching().preferred_batch_size(0), 4);
  }
  {
    grpc::ClientContext ctx;
    auto stream = servers_->stub()->ModelStreamInfer(&ctx);
    for (int i = 0; i < 3; ++i) {
      inference::ModelInferRequest req;
      req.set_model_name(i == 1 ? "nope" : "identity");
      auto* in = req.add_inputs();
      in->set_name("INPUT0");
      in->set_datatype("FP32");
      in->add_shape(1);
      in->add_shape(1);
      req.add_raw_input_contents(std::string(4, '\0'));
      ASSERT_TRUE(stream->Write(req));
    }
    stream->WritesDone();
    int ok = 0, errors = 0;
    inference::ModelStreamInferResponse resp;
    while (stream->Read(&resp)) (resp.error_message().empty() ? ok : errors)++;
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(errors, 1);
  }
  {
    grpc::ClientContext ctx;
    inference::ModelStatisticsRequest req;
    req.set_name("identity");
    inference::ModelStatisticsResponse resp;
    ASSERT_TRUE(servers_->stub()->ModelStatistics(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.model_stats_size(), 1);
    EXPECT_GE(resp.model_stats(0).inference_stats().success().count(), 2u);
  }
  {
    grpc::ClientContext ctx;
    inference::ServerLiveRequest req;
    inference::ServerLiveResponse resp;
    ASSERT_TRUE(servers_->stub()->ServerLive(&ctx, req, &resp).ok());
    EXPECT_TRUE(resp.live());
  }
}

TEST_F(TransportTest, QueueFullIs503AndUnavailable) {
  // slow: one instance, 300 ms per execution, at most 2 queued.
  std::string header =
      R"({"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1],"parameters":{"binary_data_size":4}}]})";
  std::atomic<int> ok{0}, full{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      HttpResult r = HttpCall(servers_->http_port(), "POST", "/v2/models/slow/infer", header + std::string(4, '\0'),
                              {{"Inference-Header-Content-Length", std::to_string(header.size())}});
      if (r.status == 200) ok++;
      if (r.status == 503 && r.body.find("Exceeds maximum queue size") != std::string::npos) full++;
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok + full, 8);
  EXPECT_GT(full.load(), 0);
}

TEST_F(TransportTest, ShutdownRefusesNewRequestsWithUnavailable) {
  Servers own(1 << 20);
  own.server()->BeginShutdown();
  EXPECT_EQ(HttpCall(own.http_port(), "GET", "/v2/health/ready", "").status, 400u);
  grpc::ClientContext ctx;
  inference::ModelInferRequest req;
  req.set_model_name("identity");
  inference::ModelInferResponse resp;
  grpc::Status s = own.stub()->ModelInfer(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("shutting down"));
}

TEST_F(TransportTest, GrpcHealthCheck) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(servers_->grpc_port()), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  auto check = [&](const std::string& service, grpc::health::v1::HealthCheckResponse* resp) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    return health->Check(&ctx, req, resp);
  };
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(check("", &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  ASSERT_TRUE(check("inference.GRPCInferenceService", &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(check("nope", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  // Watch is not served.
  grpc::ClientContext ctx;
  grpc::GenericStub generic(channel);
  grpc::Slice empty("");  // an empty HealthCheckRequest
  grpc::ByteBuffer in(&empty, 1), out;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Watch", {}, &in, &out,
                    [&done](grpc::Status st) { done.set_value(std::move(st)); });
  grpc::Status s = done.get_future().get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

inference::ModelInferRequest SlowRequest() {
  inference::ModelInferRequest req;
  req.set_model_name("slow");  // 300 ms per execution
  auto* in = req.add_inputs();
  in->set_name("INPUT0");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(1);
  req.add_raw_input_contents(std::string(4, '\0'));
  return req;
}

TEST_F(TransportTest, GrpcCancelledQueuedRequestFailsAsCanceledWithoutRunning) {
  Servers own(1 << 20);
  auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(own.grpc_port()), grpc::InsecureChannelCredentials()));
  grpc::Status first, second;
  grpc::ClientContext second_ctx;
  std::thread a([&] {
    grpc::ClientContext ctx;
    inference::ModelInferResponse resp;
    first = stub->ModelInfer(&ctx, SlowRequest(), &resp);
  });
  absl::SleepFor(absl::Milliseconds(50));  // the first one runs, the second queues
  std::thread b([&] {
    inference::ModelInferResponse resp;
    second = stub->ModelInfer(&second_ctx, SlowRequest(), &resp);
  });
  absl::SleepFor(absl::Milliseconds(50));
  second_ctx.TryCancel();
  a.join();
  b.join();
  EXPECT_TRUE(first.ok()) << first.error_message();
  EXPECT_EQ(second.error_code(), grpc::StatusCode::CANCELLED);
  const std::string canceled = "nv_inference_request_failure{model=\"slow\",version=\"1\",reason=\"CANCELED\"} 1";
  std::string metrics;
  for (int i = 0; i < 100 && metrics.find(canceled) == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    metrics = HttpCall(own.metrics_port(), "GET", "/metrics", "").body;
  }
  EXPECT_THAT(metrics, HasSubstr(canceled));
  EXPECT_THAT(metrics, HasSubstr("nv_inference_exec_count{model=\"slow\",version=\"1\"} 1"));
}

TEST_F(TransportTest, GrpcStopLetsAnInFlightInferenceFinish) {
  auto own = std::make_unique<Servers>(1 << 20);
  auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(own->grpc_port()), grpc::InsecureChannelCredentials()));
  grpc::Status status;
  inference::ModelInferResponse resp;
  std::thread client([&] {
    grpc::ClientContext ctx;
    status = stub->ModelInfer(&ctx, SlowRequest(), &resp);
  });
  absl::SleepFor(absl::Milliseconds(100));
  own.reset();  // stops the gRPC frontend with 1 s of grace
  client.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.outputs_size(), 1);
}

}  // namespace
}  // namespace imagen::testing_serving
