// The worker-side InferenceClients against a real server: the gRPC client
// over KServe v2 (and its retries/circuit breaker against a dead port), and
// the in-process client.
#include <cstring>

#include "gtest/gtest.h"
#include "test_client.h"
#include "worker/grpc_inference_client.h"
#include "worker/inprocess_inference_client.h"

namespace imagen::testing_serving {
namespace {

ops::InferRequest Identity() {
  ops::InferRequest r;
  r.model_name = "identity";
  float v[2] = {3, 4};
  r.inputs.push_back({"INPUT0", "FP32", {1, 2}, std::string(reinterpret_cast<char*>(v), 8)});
  return r;
}

TEST(ClientsTest, GrpcClientTalksKServe) {
  Servers servers;
  worker::GrpcClientOptions o;
  o.target = "127.0.0.1:" + std::to_string(servers.grpc_port());
  worker::GrpcInferenceClient client(o);
  EXPECT_TRUE(client.ModelReady("identity").ok());
  auto r = client.Infer(Identity());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_NE(r->Find("OUTPUT0"), nullptr);
  EXPECT_EQ(r->Find("OUTPUT0")->data, Identity().inputs[0].data);
  auto bad = Identity();
  bad.model_name = "nope";
  EXPECT_EQ(client.Infer(bad).status().code(), absl::StatusCode::kNotFound);
}

TEST(ClientsTest, GrpcClientRetriesThenOpensBreakerOnDeadServer) {
  worker::GrpcClientOptions o;
  o.target = "127.0.0.1:1";  // nothing listens there
  o.max_attempts = 2;
  o.initial_backoff = absl::Milliseconds(1);
  o.breaker_failures = 2;
  o.default_deadline = absl::Seconds(2);
  worker::GrpcInferenceClient client(o);
  auto r = client.Infer(Identity());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  r = client.Infer(Identity());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(r.status().message()).find("circuit breaker open"), std::string::npos) << r.status();
}

TEST(ClientsTest, InProcessClient) {
  Servers servers;
  worker::InProcessInferenceClient client(servers.server());
  auto r = client.Infer(Identity());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Find("OUTPUT0")->shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(client.ModelReady("broken").code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace imagen::testing_serving
