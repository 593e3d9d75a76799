// Concurrent clients produce batches of the preferred size: read back from
// nv_inference_exec_count against nv_inference_count on the metrics port.
#include <regex>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "test_client.h"

namespace imagen::testing_serving {
namespace {

double Metric(const std::string& text, const std::string& name, const std::string& model) {
  std::regex re(name + "\\{model=\"" + model + "\",version=\"1\"\\} ([0-9.e+]+)");
  std::smatch m;
  if (!std::regex_search(text, m, re)) return -1;
  return std::stod(m[1]);
}

TEST(BatchingTest, ConcurrentClientsFormPreferredBatches) {
  Servers servers;
  // delay: preferred_batch_size 4, max_queue_delay 50 ms, 20 ms per execution.
  constexpr int kClients = 8, kPerClient = 3;
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < kPerClient; ++i) {
        inference::ModelInferRequest req;
        req.set_model_name("delay");
        auto* in = req.add_inputs();
        in->set_name("INPUT0");
        in->set_datatype("FP32");
        in->add_shape(1);
        in->add_shape(2);
        req.add_raw_input_contents(std::string(8, '\0'));
        grpc::ClientContext ctx;
        inference::ModelInferResponse resp;
        if (!servers.stub()->ModelInfer(&ctx, req, &resp).ok()) failures++;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(failures.load(), 0);
  HttpResult m = HttpCall(servers.metrics_port(), "GET", "/metrics", "");
  ASSERT_EQ(m.status, 200u);
  double count = Metric(m.body, "nv_inference_count", "delay");
  double execs = Metric(m.body, "nv_inference_exec_count", "delay");
  EXPECT_EQ(count, kClients * kPerClient);
  // Preferred batches of 4 → about 6 executions for 24 inferences.
  EXPECT_LE(execs, count / 2) << m.body;
  grpc::ClientContext ctx;
  inference::ModelStatisticsRequest req;
  req.set_name("delay");
  inference::ModelStatisticsResponse stats;
  ASSERT_TRUE(servers.stub()->ModelStatistics(&ctx, req, &stats).ok());
  uint64_t preferred_batches = 0;
  for (const auto& b : stats.model_stats(0).batch_stats()) {
    if (b.batch_size() == 4) preferred_batches = b.compute_infer().count();
  }
  EXPECT_GE(preferred_batches, 3u) << stats.DebugString();
  EXPECT_GE(Metric(m.body, "nv_inference_request_success", "delay"), kClients * kPerClient);
  EXPECT_THAT(m.body,
              ::testing::HasSubstr("nv_inference_request_failure{model=\"delay\",version=\"1\",reason=\"REJECTED\"}"));
  EXPECT_THAT(m.body, ::testing::HasSubstr("imagen_inference_request_duration_us_bucket"));
  EXPECT_GE(Metric(m.body, "nv_inference_queue_duration_us", "delay"), 0);
}

}  // namespace
}  // namespace imagen::testing_serving
