#include "serving/server.h"

#include <cstring>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serving/model_config.h"
#include "serving/test_repository.h"

namespace imagen::serving {
namespace {

using ::testing::HasSubstr;

Tensor Floats(const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
  Tensor t{name, "FP32", std::move(shape), std::string(values.size() * 4, '\0')};
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

std::vector<float> Values(const Tensor& t) {
  std::vector<float> v(t.data.size() / 4);
  std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_.AddStandardModels();
    ServerOptions o;
    o.model_repository = repo_.path();
    o.control_mode = ModelControlMode::kExplicit;
    o.startup_models = {"*"};
    server_ = InferenceServer::Create(o).value();
  }
  TestRepository repo_;
  std::unique_ptr<InferenceServer> server_;
};

TEST(ModelConfigTest, UnknownFieldNamesFileAndLine) {
  auto c = ParseModelConfig("name: \"m\"\nmax_batch_size: 1\nbogus: 3\n", "/r/m/config.pbtxt");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("/r/m/config.pbtxt:3:"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("bogus"));
}

TEST_F(ServerTest, BrokenModelIsReportedAndOthersServe) {
  bool saw_broken = false;
  for (const auto& e : server_->RepositoryIndex(false)) {
    if (e.name == "broken") {
      saw_broken = true;
      EXPECT_EQ(e.state, "UNAVAILABLE");
      EXPECT_THAT(e.reason, HasSubstr("config.pbtxt:3"));
    }
  }
  EXPECT_TRUE(saw_broken);
  EXPECT_TRUE(server_->ModelReady("identity", "").ok());
  EXPECT_EQ(server_->ModelReady("broken", "").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server_->ModelReady("nope", "").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(server_->ModelReady("identity", "7").code(), absl::StatusCode::kNotFound);
}

TEST_F(ServerTest, IdentityRoundTrip) {
  InferRequest r{"identity", "", "req-1", {Floats("INPUT0", {1, 3}, {1, 2, 3})}, {}, 0, 0};
  auto resp = server_->Infer(r);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->id, "req-1");
  ASSERT_EQ(resp->outputs.size(), 1u);
  EXPECT_EQ(resp->outputs[0].name, "OUTPUT0");
  EXPECT_EQ(resp->outputs[0].shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(Values(resp->outputs[0]), (std::vector<float>{1, 2, 3}));
}

TEST_F(ServerTest, BadRequestsGetClearErrors) {
  auto err = [&](InferRequest r) { return server_->Infer(std::move(r)).status(); };
  EXPECT_THAT(std::string(err({"add_sub", "", "", {Floats("INPUT0", {4}, {1, 2, 3, 4})}, {}, 0, 0}).message()),
              HasSubstr("missing input 'INPUT1'"));
  EXPECT_THAT(
      std::string(
          err({"add_sub", "", "", {Floats("INPUT0", {3}, {1, 2, 3}), Floats("INPUT1", {4}, {1, 2, 3, 4})}, {}, 0, 0})
              .message()),
      HasSubstr("unexpected shape for input 'INPUT0'"));
  Tensor wrong = Floats("INPUT0", {1, 1}, {1});
  wrong.datatype = "INT32";
  EXPECT_THAT(std::string(err({"identity", "", "", {wrong}, {}, 0, 0}).message()), HasSubstr("data-type"));
  EXPECT_EQ(err({"identity", "", "", {Floats("INPUT0", {9, 1}, std::vector<float>(9))}, {}, 0, 0}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(err({"missing", "", "", {}, {}, 0, 0}).code(), absl::StatusCode::kNotFound);
}

TEST_F(ServerTest, EnsembleWiresSteps) {
  // SUM = (A + B) - B = A
  auto resp = server_->Infer(
      {"pipeline", "", "", {Floats("A", {4}, {1, 2, 3, 4}), Floats("B", {4}, {10, 10, 10, 10})}, {}, 0, 0});
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->outputs.size(), 1u);
  EXPECT_EQ(resp->outputs[0].name, "SUM");
  EXPECT_EQ(Values(resp->outputs[0]), (std::vector<float>{1, 2, 3, 4}));
}

TEST_F(ServerTest, UnloadAndLoad) {
  ASSERT_TRUE(server_->UnloadModel("add_sub").ok());
  EXPECT_EQ(server_->ModelReady("add_sub", "").code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(server_->LoadModel("add_sub").ok());
  EXPECT_TRUE(server_->ModelReady("add_sub", "").ok());
  EXPECT_EQ(server_->LoadModel("nope").code(), absl::StatusCode::kNotFound);
}

TEST_F(ServerTest, FullQueueIsRejectedAndBatchesFormAtPreferredSize) {
  // delay: 20 ms per execution, preferred batch 4, queue of at most 16.
  std::atomic<int> ok{0}, full{0};
  absl::Mutex mu;
  int done = 0;
  for (int i = 0; i < 24; ++i) {
    server_->InferAsync({"delay", "", "", {Floats("INPUT0", {1, 1}, {1})}, {}, 0, 0},
                        [&](absl::StatusOr<InferResponse> r) {
                          if (r.ok()) {
                            ++ok;
                          } else if (r.status().message() == "Exceeds maximum queue size") {
                            EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
                            ++full;
                          }
                          absl::MutexLock l(&mu);
                          ++done;
                        });
  }
  absl::MutexLock l(&mu);
  mu.Await(absl::Condition(
      +[](int* d) { return *d == 24; }, &done));
  EXPECT_GT(full.load(), 0);
  EXPECT_EQ(ok.load() + full.load(), 24);
  auto stats = server_->Statistics("delay", "").value();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].inference_count, static_cast<uint64_t>(ok.load()));
  EXPECT_LT(stats[0].execution_count, stats[0].inference_count);
  EXPECT_GT(stats[0].failures_by_reason["REJECTED"], 0u);
}

TEST_F(ServerTest, QueueTimeoutRejectsWhenItExpires) {
  // The first request occupies the single instance for 20 ms; the second has a
  // 1 ms queue timeout and is rejected long before the first finishes.
  absl::Notification first_done;
  server_->InferAsync({"delay", "", "", {Floats("INPUT0", {4, 1}, {1, 2, 3, 4})}, {}, 0, 0},
                      [&](absl::StatusOr<InferResponse>) { first_done.Notify(); });
  auto r = server_->Infer({"delay", "", "", {Floats("INPUT0", {1, 2}, {1, 2})}, {}, 0, 1000});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("timeout"));
  EXPECT_FALSE(first_done.HasBeenNotified());
  first_done.WaitForNotification();
}

TEST_F(ServerTest, ShutdownRefusesNewRequests) {
  server_->BeginShutdown();
  auto r = server_->Infer({"identity", "", "", {Floats("INPUT0", {1, 1}, {1})}, {}, 0, 0});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(server_->Ready());
}

}  // namespace
}  // namespace imagen::serving

namespace imagen::serving {
namespace {

TEST(PollModeTest, RescanLoadsNewChangedAndUnloadsRemovedModels) {
  TestRepository repo;
  const std::string identity = R"(
backend: "imagen_test"
max_batch_size: 4
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
)";
  repo.AddModel("identity", identity);
  ServerOptions o;
  o.model_repository = repo.path();
  o.control_mode = ModelControlMode::kPoll;
  o.poll_interval = absl::Hours(1);  // the test rescans by hand
  auto server = InferenceServer::Create(o).value();
  EXPECT_TRUE(server->ModelReady("identity", "").ok());
  EXPECT_EQ(server->ModelReady("second", "").code(), absl::StatusCode::kNotFound);

  repo.AddModel("second", identity + "parameters { key: \"test_model\" value { string_value: \"identity\" } }\n");
  repo.AddModel("identity", identity, /*version=*/2);
  ASSERT_TRUE(server->PollRepository().ok());
  EXPECT_TRUE(server->ModelReady("second", "").ok());
  EXPECT_TRUE(server->ModelReady("identity", "2").ok());  // new version folder picked up

  repo.Remove("second");
  ASSERT_TRUE(server->PollRepository().ok());
  EXPECT_EQ(server->ModelReady("second", "").code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace imagen::serving

namespace imagen::serving {
namespace {

TEST(WarmupTest, WarmupRunsAtLoadAndBadWarmupFailsTheLoad) {
  TestRepository repo;
  const std::string base = R"(
backend: "imagen_test"
max_batch_size: 4
parameters { key: "test_model" value { string_value: "add_sub" } }
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
)";
  repo.AddModel("good", base + R"(model_warmup [ { name: "w" batch_size: 2 count: 2
  inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } }
  inputs { key: "INPUT1" value { data_type: TYPE_FP32 dims: [ 4 ] random_data: true } } } ])");
  repo.AddModel("bad", base + R"(model_warmup [ { name: "w" batch_size: 1
  inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } } } ])");
  ServerOptions o;
  o.model_repository = repo.path();
  auto server = InferenceServer::Create(o).value();
  EXPECT_TRUE(server->ModelReady("good", "").ok());
  EXPECT_EQ(server->ModelReady("bad", "").code(), absl::StatusCode::kUnavailable);
  bool reported = false;
  for (const auto& e : server->RepositoryIndex(false)) {
    if (e.name == "bad") reported = e.reason.find("lacks input 'INPUT1'") != std::string::npos;
  }
  EXPECT_TRUE(reported);
}

}  // namespace
}  // namespace imagen::serving
