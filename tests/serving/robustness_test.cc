// Issue 16 regression tests through the real KServe HTTP and gRPC frontends:
// single requests that crashed the server or got wrong answers, error bodies
// in the KServe shape, the repository extension's bodies and parameters, and
// a model load that must not freeze the gRPC server.
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "serving/test_backend.h"
#include "test_client.h"

namespace imagen::testing_serving {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class RobustnessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    servers_ = new Servers(1 << 20, [](serving::TestRepository& repo) {
      repo.AddModel("image", R"(
backend: "imagen_test"
max_batch_size: 0
parameters { key: "test_model" value { string_value: "identity" } }
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 1, 3, -1, -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 1, 3, -1, -1 ] } ]
)");
      repo.AddModel("slowload", R"(
backend: "imagen_test"
max_batch_size: 1
parameters { key: "test_model" value { string_value: "identity" } }
parameters { key: "load_gate" value { string_value: "robustness_load_gate" } }
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
)");
    });
  }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  static HttpResult Post(const std::string& target, const std::string& body) {
    return HttpCall(servers_->http_port(), "POST", target, body);
  }
  static void ExpectKServeError(const HttpResult& r, unsigned status, const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    ASSERT_TRUE(j.contains("error") && j["error"].is_string()) << "not {\"error\":\"<message>\"}: " << r.body;
    EXPECT_THAT(j["error"].get<std::string>(), HasSubstr(message));
  }
  static Servers* servers_;
};
Servers* RobustnessTest::servers_ = nullptr;

inference::ModelInferRequest GrpcRequest(const std::string& model, std::vector<int64_t> shape, std::string data) {
  inference::ModelInferRequest req;
  req.set_model_name(model);
  auto* in = req.add_inputs();
  in->set_name("INPUT0");
  in->set_datatype("FP32");
  for (int64_t d : shape) in->add_shape(d);
  req.add_raw_input_contents(std::move(data));
  return req;
}

// Item 1: 100,000 levels of "data" nesting killed the process (SIGSEGV).
TEST_F(RobustnessTest, DeeplyNestedDataIsRejectedOverHttp) {
  std::string body = R"({"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1],"data":)" +
                     std::string(100000, '[') + "1" + std::string(100000, ']') + "}]}";
  ExpectKServeError(Post("/v2/models/identity/infer", body), 400, "nesting deeper than 100");
  EXPECT_EQ(HttpCall(servers_->http_port(), "GET", "/v2/health/live", "").status, 200u);
}

// Item 2: the int64 product of [4, 2^62] wrapped to 0, so "data": [] passed
// validation and the identity model answered 200 echoing the shape.
TEST_F(RobustnessTest, ElementCountOverflowIsRejectedOverHttpAndGrpc) {
  ExpectKServeError(
      Post("/v2/models/identity/infer",
           R"({"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[4,4611686018427387904],"data":[]}]})"),
      400, "too many elements");
  ExpectKServeError(
      Post("/v2/models/image/infer",
           R"({"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,3,4611686018427387904,4],"data":[]}]})"),
      400, "too many elements");
  for (const auto& [model, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"identity", {4, int64_t{1} << 62}}, {"image", {1, 3, int64_t{1} << 62, 4}}}) {
    grpc::ClientContext ctx;
    inference::ModelInferResponse resp;
    grpc::Status s = servers_->stub()->ModelInfer(&ctx, GrpcRequest(model, shape, ""), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << model << ": " << s.error_message();
  }
  // The image model's pixel cap (default 2^26) with a shape that does not overflow.
  grpc::ClientContext ctx;
  inference::ModelInferResponse resp;
  grpc::Status s = servers_->stub()->ModelInfer(&ctx, GrpcRequest("image", {1, 3, 1 << 20, 1 << 20}, ""), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("pixel cap"));
}

// Item 3: the KServe port answered unrouted paths (and malformed requests)
// with {"error":{"code","message"}}; the official client crashed on it.
TEST_F(RobustnessTest, KServeErrorBodiesAreStrings) {
  ExpectKServeError(HttpCall(servers_->http_port(), "GET", "/v2/nope", ""), 404, "no such path: /v2/nope");
  ExpectKServeError(HttpCall(servers_->http_port(), "GET", "/", ""), 404, "no such path");
  ExpectKServeError(HttpCall(servers_->http_port(), "GET", "/v2/models/identity/versions/1/infer/x/y", ""), 404,
                    "no such path");
  ExpectKServeError(HttpCall(servers_->http_port(), "DELETE", "/v2/health/live", ""), 405, "method not allowed");
  ExpectKServeError(Post("/v2/models/identity/infer", "{not json"), 400, "failed to parse the request JSON");
  ExpectKServeError(Post("/v2/models/identity/infer", std::string(2 << 20, ' ')), 413, "");  // the server's own
  ExpectKServeError(Post("/v2/models/nope%FF/infer", R"({"inputs":[]})"), 404, "nope\xEF\xBF\xBD");
}

// Item 5: the index body was searched for the substring "ready":true.
TEST_F(RobustnessTest, RepositoryIndexParsesItsBody) {
  auto count = [](const HttpResult& r) {
    json j = json::parse(r.body, nullptr, false);
    return j.is_array() ? static_cast<int>(j.size()) : -1;
  };
  int all = count(Post("/v2/repository/index", ""));
  int ready = count(Post("/v2/repository/index", "{\"ready\":  true}"));  // two spaces
  EXPECT_GT(all, ready);
  EXPECT_GT(ready, 0);
  EXPECT_EQ(count(Post("/v2/repository/index", "{\"ready\": false}")), all);
  // A nested "ready":true is not the field.
  EXPECT_EQ(count(Post("/v2/repository/index", R"({"other":{"ready":true},"ready":false})")), all);
  ExpectKServeError(Post("/v2/repository/index", "{\"ready\":true"), 400, "failed to parse");
  ExpectKServeError(Post("/v2/repository/index", "{\"ready\":\"yes\"}"), 400, "'ready' must be a boolean");
}

// Item 5: load ignored its parameters.
TEST_F(RobustnessTest, LoadParametersAreAppliedOrRefused) {
  ExpectKServeError(Post("/v2/repository/models/add_sub/load", R"({"parameters":{"bogus":1}})"), 400,
                    "unsupported load parameter 'bogus'");
  ExpectKServeError(Post("/v2/repository/models/add_sub/load", R"({"parameters":{"file:1/m.onnx":"AAAA"}})"), 400,
                    "needs a 'config'");
  json config = {{"backend", "imagen_test"},
                 {"max_batch_size", 0},
                 {"parameters", {{"test_model", {{"string_value", "add_sub"}}}}},
                 {"input",
                  {{{"name", "INPUT0"}, {"data_type", "TYPE_FP32"}, {"dims", {2}}},
                   {{"name", "INPUT1"}, {"data_type", "TYPE_FP32"}, {"dims", {2}}}}},
                 {"output",
                  {{{"name", "OUTPUT0"}, {"data_type", "TYPE_FP32"}, {"dims", {2}}},
                   {{"name", "OUTPUT1"}, {"data_type", "TYPE_FP32"}, {"dims", {2}}}}}};
  json body = {{"parameters", {{"config", config.dump()}}}};
  HttpResult r = Post("/v2/repository/models/add_sub/load", body.dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  json cfg = json::parse(HttpCall(servers_->http_port(), "GET", "/v2/models/add_sub/config", "").body);
  EXPECT_EQ(cfg["input"][0]["dims"], json({2}));
  ExpectKServeError(Post("/v2/repository/models/add_sub/unload", R"({"parameters":{"unload_dependents":true}})"), 400,
                    "unsupported unload parameter");
  grpc::ClientContext ctx;
  inference::RepositoryModelLoadRequest load;
  load.set_model_name("add_sub");
  (*load.mutable_parameters())["bogus"].set_bool_param(true);
  inference::RepositoryModelLoadResponse resp;
  grpc::Status s = servers_->stub()->RepositoryModelLoad(&ctx, load, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("unsupported load parameter 'bogus'"));
  // Restore add_sub from its config.pbtxt for the other tests.
  ASSERT_EQ(Post("/v2/repository/models/add_sub/load", "").status, 200u);
}

// The raw binary request form of the binary tensor extension: the whole body
// is the model's one input, shaped from its config.
TEST_F(RobustnessTest, RawBinaryRequestForm) {
  std::vector<float> v = {1.5f, 2.5f, 3.5f};
  std::string raw(reinterpret_cast<const char*>(v.data()), 12);
  HttpResult r = HttpCall(servers_->http_port(), "POST", "/v2/models/identity/infer", raw,
                          {{"Inference-Header-Content-Length", "0"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["outputs"][0]["shape"], json({1, 3}));
  EXPECT_EQ(j["outputs"][0]["data"], json({1.5, 2.5, 3.5}));
  ExpectKServeError(HttpCall(servers_->http_port(), "POST", "/v2/models/add_sub/infer", raw,
                             {{"Inference-Header-Content-Length", "0"}}),
                    400, "exactly one input");
  ExpectKServeError(HttpCall(servers_->http_port(), "POST", "/v2/models/image/infer", raw,
                             {{"Inference-Header-Content-Length", "0"}}),
                    400, "more than one variable dimension");
}

// Item 7: RepositoryModelLoad ran the whole load on the completion-queue
// thread, so every gRPC call (health included) froze while a model loaded.
TEST_F(RobustnessTest, GrpcHealthAnswersWhileAModelLoadBlocks) {
  serving::TestGate* gate = serving::TestGate::Get("robustness_load_gate");
  gate->Close();
  grpc::Status load_status;
  std::thread loader([&] {
    grpc::ClientContext ctx;
    inference::RepositoryModelLoadRequest req;
    req.set_model_name("slowload");
    inference::RepositoryModelLoadResponse resp;
    load_status = servers_->stub()->RepositoryModelLoad(&ctx, req, &resp);
  });
  gate->AwaitWaiters(1);  // the load is now blocked inside the backend
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(servers_->grpc_port()), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext hctx;
  hctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest hreq;
  grpc::health::v1::HealthCheckResponse hresp;
  grpc::Status h = health->Check(&hctx, hreq, &hresp);
  grpc::ClientContext ictx;
  ictx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  inference::ModelInferResponse iresp;
  grpc::Status i = servers_->stub()->ModelInfer(&ictx, GrpcRequest("identity", {1, 1}, std::string(4, '\0')), &iresp);
  gate->Open();
  loader.join();
  EXPECT_TRUE(h.ok()) << h.error_message();
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(i.ok()) << i.error_message();
  EXPECT_TRUE(load_status.ok()) << load_status.error_message();
}

}  // namespace
}  // namespace imagen::testing_serving
