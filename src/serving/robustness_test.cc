// Regression tests for issue 16 (one request must never kill the inference
// server): checked shape arithmetic, the queue policy's priority and
// timeout rules, ensembles kept alive across unload, ensemble cycles, and
// Triton's load parameters. Blocking is done with TestGate, never sleeps.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serving/batched_model.h"
#include "serving/ensemble_model.h"
#include "serving/request_validation.h"
#include "serving/server.h"
#include "serving/test_backend.h"
#include "serving/test_repository.h"

namespace imagen::serving {
namespace {

using ::testing::HasSubstr;

Tensor Floats(const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
  Tensor t{name, "FP32", std::move(shape), std::string(values.size() * 4, '\0')};
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

InferRequest Request(const std::string& model, Tensor input, uint64_t timeout_us = 0) {
  InferRequest r;
  r.model_name = model;
  r.inputs.push_back(std::move(input));
  r.timeout_us = timeout_us;
  return r;
}

std::unique_ptr<InferenceServer> Explicit(const TestRepository& repo, std::vector<std::string> load = {"*"}) {
  ServerOptions o;
  o.model_repository = repo.path();
  o.control_mode = ModelControlMode::kExplicit;
  o.startup_models = std::move(load);
  return InferenceServer::Create(o).value();
}

// ---- item 2: element-count overflow ----

TEST(ElementCountOverflow, CheckedProductsNeverWrap) {
  EXPECT_EQ(CheckedElementCount({1, 3, int64_t{1} << 62, 4}), std::nullopt);
  EXPECT_EQ(CheckedElementCount({4, int64_t{1} << 62}), std::nullopt);
  EXPECT_EQ(CheckedElementCount({2, -1}), std::nullopt);
  EXPECT_EQ(CheckedElementCount({2, 3, 0}), 0);
  EXPECT_EQ(CheckedElementCount({}), 1);
  EXPECT_EQ(CheckedByteSize({int64_t{1} << 61, 1}, 8), std::nullopt);
  EXPECT_EQ(CheckedByteSize({3, 5}, 4), 60u);
  EXPECT_EQ(ElementCount({4, int64_t{1} << 62}), -1);
}

TEST(ElementCountOverflow, HugeShapeWithEmptyDataIsRejected) {
  inference::ModelConfig c;
  c.set_name("image");
  auto* in = c.add_input();
  in->set_name("INPUT0");
  in->set_data_type(inference::TYPE_FP32);
  for (int64_t d : {1, 3, -1, -1}) in->add_dims(d);
  InferRequest r = Request("image", Tensor{"INPUT0", "FP32", {1, 3, int64_t{1} << 62, 4}, ""});
  auto v = ValidateRequest(c, &r);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("too many elements"));
  // [1,3,2^20,2^20] multiplies without overflow but exceeds the pixel cap.
  r = Request("image", Tensor{"INPUT0", "FP32", {1, 3, int64_t{1} << 20, int64_t{1} << 20}, ""});
  v = ValidateRequest(c, &r);
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("pixel cap"));
  (*c.mutable_parameters())["max_pixels"].set_string_value("16");
  r = Request("image", Floats("INPUT0", {1, 1, 4, 5}, std::vector<float>(20)));
  c.mutable_input(0)->set_dims(1, -1);
  EXPECT_THAT(std::string(ValidateRequest(c, &r).status().message()), HasSubstr("max_pixels 16"));
  r = Request("image", Floats("INPUT0", {1, 1, 4, 4}, std::vector<float>(16)));
  EXPECT_TRUE(ValidateRequest(c, &r).ok());
}

TEST(ElementCountOverflow, BytesElementCountMustMatchTheShape) {
  inference::ModelConfig c;
  c.set_name("strings");
  auto* in = c.add_input();
  in->set_name("S");
  in->set_data_type(inference::TYPE_STRING);
  in->add_dims(-1);
  InferRequest r = Request("strings", Tensor{"S", "BYTES", {int64_t{1} << 40}, std::string("\1\0\0\0a", 5)});
  EXPECT_FALSE(ValidateRequest(c, &r).ok());
  r = Request("strings", Tensor{"S", "BYTES", {1}, std::string("\1\0\0\0a", 5)});
  EXPECT_TRUE(ValidateRequest(c, &r).ok());
}

TEST(ElementCountOverflow, SplitBatchRefusesDataThatDoesNotMatchTheShape) {
  Tensor t{"O", "FP32", {2, 3}, std::string(8, '\0')};  // 2 floats for 6 elements
  EXPECT_FALSE(SplitBatch(t, {1, 1}).ok());
  Tensor b{"O", "BYTES", {2, 1}, std::string("\1\0\0\0a", 5)};  // 1 string for 2
  EXPECT_FALSE(SplitBatch(b, {1, 1}).ok());
}

TEST(BackendFailures, AThrowingBackendFailsTheRequestNotTheServer) {
  TestRepository repo;
  repo.AddModel("thrower", R"(
backend: "imagen_test"
max_batch_size: 4
parameters { key: "test_model" value { string_value: "identity" } }
parameters { key: "execute_throws" value { string_value: "boom" } }
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
)");
  auto server = Explicit(repo);
  for (int i = 0; i < 2; ++i) {
    auto r = server->Infer(Request("thrower", Floats("INPUT0", {1, 1}, {1})));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("boom"));
  }
}

TEST(BackendFailures, ReshapeMustKeepTheElementCount) {
  TestRepository repo;
  repo.AddModel("bad_reshape", R"(
backend: "imagen_test"
max_batch_size: 4
parameters { key: "test_model" value { string_value: "identity" } }
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] reshape { shape: [ 4096 ] } } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
)");
  auto server = Explicit(repo);
  EXPECT_EQ(server->ModelReady("bad_reshape", "").code(), absl::StatusCode::kUnavailable);
  bool reported = false;
  for (const auto& e : server->RepositoryIndex(false)) {
    if (e.name == "bad_reshape") reported = e.reason.find("reshape does not have the elements") != std::string::npos;
  }
  EXPECT_TRUE(reported);
}

// ---- item 4: queue policy ----

TEST(QueuePolicy, PriorityOf2To32GetsTheDefaultLevelNotLevelZero) {
  inference::ModelDynamicBatching db;
  db.set_priority_levels(3);
  db.set_default_priority_level(2);
  EXPECT_EQ(PriorityLevel(db, uint64_t{1} << 32), 2u);  // was truncated to 0, which outranks 1
  EXPECT_EQ(PriorityLevel(db, (uint64_t{1} << 32) + 1), 2u);
  EXPECT_EQ(PriorityLevel(db, 0), 2u);
  EXPECT_EQ(PriorityLevel(db, 1), 1u);
  EXPECT_EQ(PriorityLevel(db, 3), 3u);
  EXPECT_EQ(PriorityLevel(db, 4), 2u);
  inference::ModelDynamicBatching none;
  EXPECT_EQ(PriorityLevel(none, uint64_t{1} << 32), 1u);
}

TEST(QueuePolicy, TimeoutOverrideCannotExceedTheDefault) {
  inference::ModelQueuePolicy p;
  p.set_default_timeout_microseconds(1000);
  EXPECT_EQ(QueueTimeoutUs(p, 60'000'000), 1000u);  // not allowed to override at all
  p.set_allow_timeout_override(true);
  EXPECT_EQ(QueueTimeoutUs(p, 60'000'000), 1000u);  // may not increase it
  EXPECT_EQ(QueueTimeoutUs(p, 10), 10u);
  EXPECT_EQ(QueueTimeoutUs(p, 0), 1000u);
  p.set_default_timeout_microseconds(0);  // no timeout: any override shortens it
  EXPECT_EQ(QueueTimeoutUs(p, 500), 500u);
}

// A 1 ms default timeout with a 60 s override: the queued request must still
// expire after about 1 ms while the only instance is blocked at a gate.
TEST(QueuePolicy, LongTimeoutOverrideIsClampedEndToEnd) {
  TestRepository repo;
  repo.AddModel("gated", R"(
backend: "imagen_test"
max_batch_size: 4
parameters { key: "test_model" value { string_value: "identity" } }
parameters { key: "execute_gate" value { string_value: "queue_policy_gate" } }
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
dynamic_batching { default_queue_policy { default_timeout_microseconds: 1000 allow_timeout_override: true } }
)");
  auto server = Explicit(repo);
  TestGate* gate = TestGate::Get("queue_policy_gate");
  gate->Close();
  absl::Notification first, second;
  server->InferAsync(Request("gated", Floats("INPUT0", {1, 1}, {1})), [&](auto) { first.Notify(); });
  gate->AwaitWaiters(1);
  absl::Status status;
  server->InferAsync(Request("gated", Floats("INPUT0", {1, 2}, {1, 2}), /*timeout_us=*/60'000'000),
                     [&](absl::StatusOr<InferResponse> r) {
                       status = r.status();
                       second.Notify();
                     });
  bool expired = second.WaitForNotificationWithTimeout(absl::Seconds(10));
  gate->Open();
  first.WaitForNotification();
  second.WaitForNotification();
  EXPECT_TRUE(expired) << "the 60 s override was honoured over the 1 ms default";
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr("timeout"));
}

// ---- item 6: ensembles ----

const char* kGatedIdentity = R"(
backend: "imagen_test"
max_batch_size: 0
parameters { key: "test_model" value { string_value: "identity" } }
parameters { key: "execute_gate" value { string_value: "ensemble_gate" } }
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
)";

const char* kEnsembleOverGated = R"(
platform: "ensemble"
max_batch_size: 0
input [ { name: "A" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "B" data_type: TYPE_FP32 dims: [ 4 ] } ]
ensemble_scheduling { step [
  { model_name: "gated" model_version: -1 input_map { key: "INPUT0" value: "A" } output_map { key: "OUTPUT0" value: "T" } },
  { model_name: "gated" model_version: -1 input_map { key: "INPUT0" value: "T" } output_map { key: "OUTPUT0" value: "B" } }
] }
)";

// The ensemble is unloaded (its object freed, before the fix) while its first
// step is blocked; the step's callback then used the freed ensemble. Run
// under ASan to see the use-after-free; here the request must also finish.
TEST(EnsembleLifetime, UnloadWhileAStepIsBlockedIsSafe) {
  TestRepository repo;
  repo.AddModel("gated", kGatedIdentity);
  repo.AddModel("ens", kEnsembleOverGated);
  auto server = Explicit(repo);
  ASSERT_TRUE(server->ModelReady("ens", "").ok());
  TestGate* gate = TestGate::Get("ensemble_gate");
  gate->Close();
  absl::Notification done;
  absl::StatusOr<InferResponse> result;
  server->InferAsync(Request("ens", Floats("A", {4}, {1, 2, 3, 4})), [&](absl::StatusOr<InferResponse> r) {
    result = std::move(r);
    done.Notify();
  });
  gate->AwaitWaiters(1);
  ASSERT_TRUE(server->UnloadModel("ens").ok());
  ASSERT_TRUE(server->LoadModel("ens").ok());  // a re-poll replaces the object too
  ASSERT_TRUE(server->UnloadModel("ens").ok());
  gate->Open();
  done.WaitForNotification();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->outputs.size(), 1u);
  EXPECT_EQ(result->outputs[0].name, "B");
  EXPECT_EQ(result->outputs[0].data.size(), 16u);
  EXPECT_EQ(server->Infer(Request("ens", Floats("A", {4}, {1, 2, 3, 4}))).status().code(),
            absl::StatusCode::kUnavailable);
}

// Deterministic without ASan: the server drops its last reference to the
// ensemble (unload) while a step is outstanding; the ensemble must stay alive
// until that step answers, then go away.
TEST(EnsembleLifetime, RequestKeepsTheEnsembleAlive) {
  inference::ModelConfig c;
  c.set_name("e");
  c.set_platform("ensemble");
  auto* in = c.add_input();
  in->set_name("A");
  in->set_data_type(inference::TYPE_FP32);
  in->add_dims(1);
  auto* out = c.add_output();
  out->set_name("B");
  out->set_data_type(inference::TYPE_FP32);
  out->add_dims(1);
  auto* step = c.mutable_ensemble_scheduling()->add_step();
  step->set_model_name("m");
  (*step->mutable_input_map())["x"] = "A";
  (*step->mutable_output_map())["y"] = "B";
  std::vector<std::pair<InferRequest, InferCallback>> pending;
  auto ensemble = std::make_shared<EnsembleModel>(
      c, 1, [&](InferRequest r, InferCallback cb) { pending.emplace_back(std::move(r), std::move(cb)); },
      Clock::Real());
  std::weak_ptr<EnsembleModel> watch = ensemble;
  absl::StatusOr<InferResponse> result = absl::UnknownError("not called");
  InferRequest request = Request("e", Floats("A", {1}, {7}), /*timeout_us=*/1234);
  request.priority = 3;
  ensemble->Infer(std::move(request), [&](absl::StatusOr<InferResponse> r) { result = std::move(r); });
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].first.timeout_us, 1234u);  // steps inherit the timeout ...
  EXPECT_EQ(pending[0].first.priority, 3u);       // ... and the priority
  ensemble->Stop();
  ensemble.reset();  // the server's unload drops its reference
  EXPECT_FALSE(watch.expired()) << "the in-flight request does not hold the ensemble";
  InferResponse step_out;
  step_out.outputs.push_back(Floats("y", {1}, {7}));
  pending[0].second(std::move(step_out));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outputs[0].name, "B");
  pending.clear();
  EXPECT_TRUE(watch.expired());
}

TEST(EnsembleLifetime, StepsInheritTheRequestTimeout) {
  TestRepository repo;
  repo.AddModel("gated", R"(
backend: "imagen_test"
max_batch_size: 4
parameters { key: "test_model" value { string_value: "identity" } }
parameters { key: "execute_gate" value { string_value: "ensemble_gate" } }
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
dynamic_batching { default_queue_policy { allow_timeout_override: true } }
)");
  repo.AddModel("ens", R"(
platform: "ensemble"
max_batch_size: 0
input [ { name: "A" data_type: TYPE_FP32 dims: [ 1, 4 ] } ]
output [ { name: "B" data_type: TYPE_FP32 dims: [ 1, 4 ] } ]
ensemble_scheduling { step [
  { model_name: "gated" model_version: -1 input_map { key: "INPUT0" value: "A" } output_map { key: "OUTPUT0" value: "B" } }
] }
)");
  auto server = Explicit(repo);
  ASSERT_TRUE(server->ModelReady("gated", "").ok());
  ASSERT_TRUE(server->ModelReady("ens", "").ok());
  TestGate* gate = TestGate::Get("ensemble_gate");
  gate->Close();
  absl::Notification first, second;
  server->InferAsync(Request("gated", Floats("INPUT0", {1, 1}, {1})), [&](auto) { first.Notify(); });
  gate->AwaitWaiters(1);
  absl::Status status;
  server->InferAsync(Request("ens", Floats("A", {1, 4}, {1, 2, 3, 4}), /*timeout_us=*/1000),
                     [&](absl::StatusOr<InferResponse> r) {
                       status = r.status();
                       second.Notify();
                     });
  bool expired = second.WaitForNotificationWithTimeout(absl::Seconds(10));
  gate->Open();
  first.WaitForNotification();
  second.WaitForNotification();
  EXPECT_TRUE(expired) << "the ensemble step did not inherit the 1 ms timeout";
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

TEST(EnsembleCycles, CyclesAreRejectedAtLoad) {
  TestRepository repo;
  auto ensemble = [](const std::string& step) {
    return R"(platform: "ensemble"
max_batch_size: 0
input [ { name: "A" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "B" data_type: TYPE_FP32 dims: [ 4 ] } ]
ensemble_scheduling { step [ { model_name: ")" +
           step + R"(" model_version: -1 input_map { key: "A" value: "A" } output_map { key: "B" value: "B" } } ] }
)";
  };
  repo.AddModel("self", ensemble("self"));
  repo.AddModel("ping", ensemble("pong"));
  repo.AddModel("pong", ensemble("ping"));
  auto server = Explicit(repo, {});
  absl::Status self = server->LoadModel("self");
  EXPECT_EQ(self.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(self.message()), HasSubstr("cycle"));
  absl::Status ping = server->LoadModel("ping");
  EXPECT_THAT(std::string(ping.message()), HasSubstr("ping -> pong -> ping"));
}

TEST(EnsembleCycles, DataFlowCyclesAndMissingOutputsAreRejected) {
  inference::ModelConfig c;
  c.set_name("e");
  c.set_platform("ensemble");
  auto* in = c.add_input();
  in->set_name("A");
  auto* out = c.add_output();
  out->set_name("B");
  auto* s1 = c.mutable_ensemble_scheduling()->add_step();
  s1->set_model_name("m");
  (*s1->mutable_input_map())["x"] = "T2";
  (*s1->mutable_output_map())["y"] = "T1";
  auto* s2 = c.mutable_ensemble_scheduling()->add_step();
  s2->set_model_name("m");
  (*s2->mutable_input_map())["x"] = "T1";
  (*s2->mutable_output_map())["y"] = "B";
  auto none = [](const std::string&) { return std::optional<inference::ModelConfig>(); };
  EXPECT_THAT(std::string(CheckEnsembleGraph(c, none).message()), HasSubstr("needs tensor 'T2'"));
  (*s1->mutable_input_map())["x"] = "A";
  EXPECT_TRUE(CheckEnsembleGraph(c, none).ok());
  c.mutable_output(0)->set_name("C");
  EXPECT_THAT(std::string(CheckEnsembleGraph(c, none).message()), HasSubstr("no step produces"));
}

// ---- item 5: load parameters ----

TEST(LoadParameters, ConfigOverrideReplacesConfigPbtxt) {
  TestRepository repo;
  repo.AddStandardModels();
  auto server = Explicit(repo, {});
  ModelLoadOverrides o;
  o.config_json = R"({"backend":"imagen_test","max_batch_size":2,
    "parameters":{"test_model":{"string_value":"identity"}},
    "input":[{"name":"INPUT0","data_type":"TYPE_FP32","dims":[-1]}],
    "output":[{"name":"OUTPUT0","data_type":"TYPE_FP32","dims":[-1]}]})";
  ASSERT_TRUE(server->LoadModel("add_sub", o).ok());
  EXPECT_EQ(server->Config("add_sub", "")->max_batch_size(), 2);
  auto r = server->Infer(Request("add_sub", Floats("INPUT0", {1, 3}, {1, 2, 3})));
  ASSERT_TRUE(r.ok()) << r.status();
  o.config_json = R"({"bogus_field": 1})";
  EXPECT_EQ(server->LoadModel("add_sub", o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(server->ModelReady("add_sub", "").ok());  // a refused override keeps the loaded model
}

TEST(LoadParameters, FilesInTheRequestFormTheModelFolder) {
  TestRepository repo;
  auto server = Explicit(repo, {});
  ModelLoadOverrides o;
  o.files["1/notes.txt"] = "staged";
  EXPECT_THAT(std::string(server->LoadModel("fresh", o).message()), HasSubstr("needs a 'config'"));
  o.config_json = R"({"backend":"imagen_test","max_batch_size":1,
    "parameters":{"test_model":{"string_value":"identity"}},
    "input":[{"name":"INPUT0","data_type":"TYPE_FP32","dims":[-1]}],
    "output":[{"name":"OUTPUT0","data_type":"TYPE_FP32","dims":[-1]}]})";
  ASSERT_TRUE(server->LoadModel("fresh", o).ok());
  EXPECT_TRUE(server->ModelReady("fresh", "1").ok());
  o.files["../escape.txt"] = "x";
  EXPECT_THAT(std::string(server->LoadModel("fresh", o).message()), HasSubstr("invalid file path"));
}

}  // namespace
}  // namespace imagen::serving
