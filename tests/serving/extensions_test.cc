// Triton's extensions over real sockets, HTTP and gRPC: system shared memory
// (register / status / unregister, inference with inputs and outputs in
// shm, bounds, unregister while a request uses the region, CUDA refused
// clearly), logging and trace settings (the trace file read back), and the
// restricted protocol groups.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/str_split.h"
#include "frontends/restricted_api.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "test_client.h"

namespace imagen::testing_serving {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

// A POSIX shm object the test creates (as a client would) and removes.
class ShmObject {
 public:
  explicit ShmObject(size_t size) : size_(size) {
    static std::atomic<int> n{0};
    key_ = "/imagen_ext_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
    int fd = shm_open(key_.c_str(), O_CREAT | O_RDWR | O_EXCL, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    data_ = static_cast<char*>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
  }
  ~ShmObject() {
    munmap(data_, size_);
    shm_unlink(key_.c_str());
  }
  const std::string& key() const { return key_; }
  void PutFloats(size_t offset, const std::vector<float>& v) { std::memcpy(data_ + offset, v.data(), v.size() * 4); }
  std::vector<float> Floats(size_t offset, size_t n) const {
    std::vector<float> v(n);
    std::memcpy(v.data(), data_ + offset, n * 4);
    return v;
  }

 private:
  std::string key_;
  size_t size_;
  char* data_;
};

HttpResult Post(uint16_t port, const std::string& target, const json& body) {
  return HttpCall(port, "POST", target, body.dump());
}

json RegisterBody(const ShmObject& shm, uint64_t offset, uint64_t size) {
  return {{"key", shm.key()}, {"offset", offset}, {"byte_size", size}};
}

json ShmParams(const std::string& region, uint64_t offset, uint64_t size) {
  return {{"shared_memory_region", region}, {"shared_memory_offset", offset}, {"shared_memory_byte_size", size}};
}

void SetShmParams(google::protobuf::Map<std::string, inference::InferParameter>* p, const std::string& region,
                  int64_t offset, int64_t size) {
  (*p)["shared_memory_region"].set_string_param(region);
  (*p)["shared_memory_offset"].set_int64_param(offset);
  (*p)["shared_memory_byte_size"].set_int64_param(size);
}

class ExtensionsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new Servers(1 << 20); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  void TearDown() override { servers_->server()->shared_memory().Unregister("").IgnoreError(); }
  static uint16_t port() { return servers_->http_port(); }
  static Servers* servers_;
};
Servers* ExtensionsTest::servers_ = nullptr;

TEST_F(ExtensionsTest, SharedMemoryRegisterStatusUnregisterOverHttp) {
  ShmObject shm(4096);
  EXPECT_EQ(Post(port(), "/v2/systemsharedmemory/region/r1/register", RegisterBody(shm, 0, 64)).status, 200u);
  EXPECT_EQ(Post(port(), "/v2/systemsharedmemory/region/r2/register", RegisterBody(shm, 128, 256)).status, 200u);
  HttpResult dup = Post(port(), "/v2/systemsharedmemory/region/r1/register", RegisterBody(shm, 0, 64));
  EXPECT_EQ(dup.status, 400u);
  EXPECT_THAT(dup.body, HasSubstr("already in manager"));

  auto all = json::parse(HttpCall(port(), "GET", "/v2/systemsharedmemory/status", "").body);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1], json({{"name", "r2"}, {"key", shm.key()}, {"offset", 128}, {"byte_size", 256}}));
  auto one = json::parse(HttpCall(port(), "GET", "/v2/systemsharedmemory/region/r1/status", "").body);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0]["byte_size"], 64);

  EXPECT_EQ(Post(port(), "/v2/systemsharedmemory/region/r1/unregister", json::object()).status, 200u);
  HttpResult gone = HttpCall(port(), "GET", "/v2/systemsharedmemory/region/r1/status", "");
  EXPECT_EQ(gone.status, 404u);
  EXPECT_THAT(json::parse(gone.body)["error"].get<std::string>(), HasSubstr("Unable to find"));
  EXPECT_EQ(Post(port(), "/v2/systemsharedmemory/unregister", json::object()).status, 200u);
  EXPECT_EQ(json::parse(HttpCall(port(), "GET", "/v2/systemsharedmemory/status", "").body), json::array());
}

TEST_F(ExtensionsTest, SharedMemoryRegisterStatusUnregisterOverGrpc) {
  ShmObject shm(4096);
  auto* stub = servers_->stub();
  {
    grpc::ClientContext ctx;
    inference::SystemSharedMemoryRegisterRequest req;
    req.set_name("g1");
    req.set_key(shm.key());
    req.set_offset(64);
    req.set_byte_size(128);
    inference::SystemSharedMemoryRegisterResponse resp;
    ASSERT_TRUE(stub->SystemSharedMemoryRegister(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    inference::SystemSharedMemoryStatusResponse resp;
    ASSERT_TRUE(stub->SystemSharedMemoryStatus(&ctx, {}, &resp).ok());
    ASSERT_EQ(resp.regions().count("g1"), 1u);
    EXPECT_EQ(resp.regions().at("g1").key(), shm.key());
    EXPECT_EQ(resp.regions().at("g1").offset(), 64u);
    EXPECT_EQ(resp.regions().at("g1").byte_size(), 128u);
  }
  {
    grpc::ClientContext ctx;
    inference::SystemSharedMemoryUnregisterRequest req;
    req.set_name("g1");
    inference::SystemSharedMemoryUnregisterResponse resp;
    ASSERT_TRUE(stub->SystemSharedMemoryUnregister(&ctx, req, &resp).ok());
  }
  grpc::ClientContext ctx;
  inference::SystemSharedMemoryStatusRequest req;
  req.set_name("g1");
  inference::SystemSharedMemoryStatusResponse resp;
  grpc::Status s = stub->SystemSharedMemoryStatus(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ExtensionsTest, HttpInferWithSharedMemoryInputsAndOutputs) {
  ShmObject shm(4096);
  // One region for the inputs (at offsets 0 and 16), one for the outputs.
  ASSERT_EQ(Post(port(), "/v2/systemsharedmemory/region/in/register", RegisterBody(shm, 0, 32)).status, 200u);
  ASSERT_EQ(Post(port(), "/v2/systemsharedmemory/region/out/register", RegisterBody(shm, 1024, 64)).status, 200u);
  shm.PutFloats(0, {1, 2, 3, 4});
  shm.PutFloats(16, {10, 20, 30, 40});
  json req = {{"inputs",
               {{{"name", "INPUT0"}, {"datatype", "FP32"}, {"shape", {4}}, {"parameters", ShmParams("in", 0, 16)}},
                {{"name", "INPUT1"}, {"datatype", "FP32"}, {"shape", {4}}, {"parameters", ShmParams("in", 16, 16)}}}},
              {"outputs",
               {{{"name", "OUTPUT0"}, {"parameters", ShmParams("out", 0, 16)}},
                {{"name", "OUTPUT1"}, {"parameters", ShmParams("out", 32, 16)}}}}};
  HttpResult r = Post(port(), "/v2/models/add_sub/infer", req);
  ASSERT_EQ(r.status, 200u) << r.body;
  auto body = json::parse(r.body);
  ASSERT_EQ(body["outputs"].size(), 2u);
  for (const auto& o : body["outputs"]) {
    EXPECT_FALSE(o.contains("data")) << o.dump();
    EXPECT_EQ(o["parameters"]["shared_memory_region"], "out");
    EXPECT_EQ(o["parameters"]["shared_memory_byte_size"], 16);
  }
  // Region "out" starts at object offset 1024.
  EXPECT_EQ(shm.Floats(1024, 4), (std::vector<float>{11, 22, 33, 44}));
  EXPECT_EQ(shm.Floats(1024 + 32, 4), (std::vector<float>{-9, -18, -27, -36}));

  // Mixed: shm input, JSON output.
  json mixed = {
      {"inputs",
       {{{"name", "INPUT0"}, {"datatype", "FP32"}, {"shape", {1, 4}}, {"parameters", ShmParams("in", 16, 16)}}}}};
  HttpResult m = Post(port(), "/v2/models/identity/infer", mixed);
  ASSERT_EQ(m.status, 200u) << m.body;
  EXPECT_EQ(json::parse(m.body)["outputs"][0]["data"], json({10, 20, 30, 40}));
}

TEST_F(ExtensionsTest, GrpcInferWithSharedMemoryInputsAndOutputs) {
  ShmObject shm(4096);
  ASSERT_EQ(Post(port(), "/v2/systemsharedmemory/region/gin/register", RegisterBody(shm, 0, 16)).status, 200u);
  ASSERT_EQ(Post(port(), "/v2/systemsharedmemory/region/gout/register", RegisterBody(shm, 2048, 16)).status, 200u);
  shm.PutFloats(0, {5, 6, 7, 8});
  inference::ModelInferRequest req;
  req.set_model_name("add_sub");
  auto* in0 = req.add_inputs();
  in0->set_name("INPUT0");
  in0->set_datatype("FP32");
  in0->add_shape(4);
  SetShmParams(in0->mutable_parameters(), "gin", 0, 16);
  auto* in1 = req.add_inputs();  // this one travels in raw_input_contents
  in1->set_name("INPUT1");
  in1->set_datatype("FP32");
  in1->add_shape(4);
  std::vector<float> ones = {1, 1, 1, 1};
  req.add_raw_input_contents(std::string(reinterpret_cast<const char*>(ones.data()), 16));
  auto* out = req.add_outputs();
  out->set_name("OUTPUT0");
  SetShmParams(out->mutable_parameters(), "gout", 0, 16);
  req.add_outputs()->set_name("OUTPUT1");
  grpc::ClientContext ctx;
  inference::ModelInferResponse resp;
  grpc::Status s = servers_->stub()->ModelInfer(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.outputs_size(), 2);
  ASSERT_EQ(resp.raw_output_contents_size(), 2);
  for (int i = 0; i < 2; ++i) {
    const auto& o = resp.outputs(i);
    if (o.name() == "OUTPUT0") {
      EXPECT_EQ(o.parameters().at("shared_memory_region").string_param(), "gout");
      EXPECT_EQ(o.parameters().at("shared_memory_byte_size").int64_param(), 16);
      EXPECT_TRUE(resp.raw_output_contents(i).empty());
    } else {
      EXPECT_EQ(resp.raw_output_contents(i).size(), 16u);
    }
  }
  EXPECT_EQ(shm.Floats(2048, 4), (std::vector<float>{6, 7, 8, 9}));
}

TEST_F(ExtensionsTest, SharedMemoryOutOfBoundsIsRefused) {
  ShmObject shm(4096);
  // The registered range must lie within the object.
  HttpResult big = Post(port(), "/v2/systemsharedmemory/region/big/register", RegisterBody(shm, 4000, 100));
  EXPECT_EQ(big.status, 400u);
  EXPECT_THAT(big.body, HasSubstr("exceeds the shared memory object's size 4096"));
  HttpResult nokey = Post(port(), "/v2/systemsharedmemory/region/x/register",
                          {{"key", "/imagen_no_such_key"}, {"offset", 0}, {"byte_size", 4}});
  EXPECT_EQ(nokey.status, 400u);
  EXPECT_THAT(nokey.body, HasSubstr("Unable to open shared memory region"));
  {
    grpc::ClientContext ctx;
    inference::SystemSharedMemoryRegisterRequest req;
    req.set_name("big");
    req.set_key(shm.key());
    req.set_offset(1);
    req.set_byte_size(4096);
    inference::SystemSharedMemoryRegisterResponse resp;
    EXPECT_EQ(servers_->stub()->SystemSharedMemoryRegister(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  ASSERT_EQ(Post(port(), "/v2/systemsharedmemory/region/small/register", RegisterBody(shm, 0, 16)).status, 200u);
  auto infer = [&](json params, std::vector<int64_t> shape = {1, 4}) {
    json req = {{"inputs", {{{"name", "INPUT0"}, {"datatype", "FP32"}, {"shape", shape}, {"parameters", params}}}}};
    return Post(port(), "/v2/models/identity/infer", req);
  };
  HttpResult past = infer(ShmParams("small", 8, 16));
  EXPECT_EQ(past.status, 400u);
  EXPECT_THAT(past.body, HasSubstr("exceeds the byte_size 16"));
  HttpResult huge_offset = infer(ShmParams("small", UINT64_MAX, 16));
  EXPECT_EQ(huge_offset.status, 400u);
  HttpResult mismatch = infer(ShmParams("small", 0, 12));
  EXPECT_EQ(mismatch.status, 400u);
  EXPECT_THAT(mismatch.body, HasSubstr("does not match the 16 bytes"));
  HttpResult unknown = infer(ShmParams("nope", 0, 16));
  EXPECT_EQ(unknown.status, 400u);
  EXPECT_THAT(unknown.body, HasSubstr("Unable to find shared memory region: 'nope'"));
  HttpResult half = infer({{"shared_memory_region", "small"}});
  EXPECT_EQ(half.status, 400u);
  EXPECT_THAT(half.body, HasSubstr("needs both"));
  // An output region too small for the output.
  shm.PutFloats(0, {1, 2, 3, 4});
  json small_out = {
      {"inputs",
       {{{"name", "INPUT0"}, {"datatype", "FP32"}, {"shape", {1, 4}}, {"parameters", ShmParams("small", 0, 16)}}}},
      {"outputs", {{{"name", "OUTPUT0"}, {"parameters", ShmParams("small", 8, 8)}}}}};
  HttpResult tight = Post(port(), "/v2/models/identity/infer", small_out);
  EXPECT_EQ(tight.status, 400u);
  EXPECT_THAT(tight.body, HasSubstr("needs 16 bytes"));
  // Over gRPC too.
  inference::ModelInferRequest req;
  req.set_model_name("identity");
  auto* in = req.add_inputs();
  in->set_name("INPUT0");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(4);
  SetShmParams(in->mutable_parameters(), "small", 4, 16);
  grpc::ClientContext ctx;
  inference::ModelInferResponse resp;
  grpc::Status s = servers_->stub()->ModelInfer(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("exceeds the byte_size 16"));
}

TEST_F(ExtensionsTest, UnregisterWhileARequestUsesTheRegionIsSafe) {
  ShmObject shm(4096);
  ASSERT_EQ(Post(port(), "/v2/systemsharedmemory/region/busy/register", RegisterBody(shm, 0, 64)).status, 200u);
  shm.PutFloats(0, {1, 2, 3, 4});
  // "slow" runs 300 ms: the region is unregistered while the request runs.
  json req = {
      {"inputs",
       {{{"name", "INPUT0"}, {"datatype", "FP32"}, {"shape", {1, 4}}, {"parameters", ShmParams("busy", 0, 16)}}}},
      {"outputs", {{{"name", "OUTPUT0"}, {"parameters", ShmParams("busy", 32, 16)}}}}};
  auto pending = std::async(std::launch::async, [&] { return Post(port(), "/v2/models/slow/infer", req); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Post(port(), "/v2/systemsharedmemory/region/busy/unregister", json::object()).status, 200u);
  EXPECT_EQ(HttpCall(port(), "GET", "/v2/systemsharedmemory/region/busy/status", "").status, 404u);
  HttpResult r = pending.get();
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(shm.Floats(32, 4), (std::vector<float>{1, 2, 3, 4}));  // written into the still-mapped region
  // The name is free again; a new request cannot use the old region.
  HttpResult after = Post(port(), "/v2/models/slow/infer", req);
  EXPECT_EQ(after.status, 400u);
  EXPECT_EQ(Post(port(), "/v2/systemsharedmemory/region/busy/register", RegisterBody(shm, 0, 64)).status, 200u);
}

TEST_F(ExtensionsTest, CudaSharedMemoryAnswersAClearError) {
  const std::string msg = "CUDA shared memory is not supported by imagen infer (CPU only)";
  HttpResult st = HttpCall(port(), "GET", "/v2/cudasharedmemory/status", "");
  EXPECT_EQ(st.status, 400u);
  EXPECT_EQ(json::parse(st.body), json({{"error", msg}}));
  EXPECT_EQ(Post(port(), "/v2/cudasharedmemory/region/c/register", json::object()).status, 400u);
  EXPECT_EQ(Post(port(), "/v2/cudasharedmemory/unregister", json::object()).status, 400u);
  grpc::ClientContext ctx;
  inference::CudaSharedMemoryRegisterRequest req;
  req.set_name("c");
  inference::CudaSharedMemoryRegisterResponse resp;
  grpc::Status s = servers_->stub()->CudaSharedMemoryRegister(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(s.error_message(), msg);
  grpc::ClientContext ctx2;
  inference::CudaSharedMemoryStatusResponse sresp;
  EXPECT_EQ(servers_->stub()->CudaSharedMemoryStatus(&ctx2, {}, &sresp).error_message(), msg);
}

TEST_F(ExtensionsTest, ServerMetadataListsTheExtensions) {
  auto md = json::parse(HttpCall(port(), "GET", "/v2", "").body);
  for (const char* e : {"system_shared_memory", "trace", "logging"}) {
    EXPECT_NE(std::find(md["extensions"].begin(), md["extensions"].end(), e), md["extensions"].end()) << e;
  }
}

TEST_F(ExtensionsTest, LogSettingsOverHttpAndGrpc) {
  auto saved = spdlog::get_level();
  auto get = json::parse(HttpCall(port(), "GET", "/v2/logging", "").body);
  for (const char* k : {"log_file", "log_info", "log_warning", "log_error", "log_verbose_level", "log_format"}) {
    EXPECT_TRUE(get.contains(k)) << k;
  }
  HttpResult set = Post(port(), "/v2/logging", {{"log_info", false}, {"log_verbose_level", 0}});
  ASSERT_EQ(set.status, 200u) << set.body;
  EXPECT_EQ(json::parse(set.body)["log_info"], false);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
  ASSERT_EQ(Post(port(), "/v2/logging", {{"log_verbose_level", 1}}).status, 200u);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  HttpResult file = Post(port(), "/v2/logging", {{"log_file", "/tmp/x.log"}});
  EXPECT_EQ(file.status, 400u);
  EXPECT_THAT(file.body, HasSubstr("log_file is not supported"));
  EXPECT_EQ(Post(port(), "/v2/logging", {{"log_info", "yes"}}).status, 400u);
  EXPECT_EQ(Post(port(), "/v2/logging", {{"log_bogus", true}}).status, 400u);
  EXPECT_EQ(Post(port(), "/v2/logging", {{"log_format", "xml"}}).status, 400u);

  grpc::ClientContext ctx;
  inference::LogSettingsRequest req;
  (*req.mutable_settings())["log_verbose_level"].set_uint32_param(0);
  (*req.mutable_settings())["log_info"].set_bool_param(true);
  inference::LogSettingsResponse resp;
  ASSERT_TRUE(servers_->stub()->LogSettings(&ctx, req, &resp).ok());
  EXPECT_TRUE(resp.settings().at("log_info").bool_param());
  EXPECT_EQ(resp.settings().at("log_verbose_level").uint32_param(), 0u);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
  grpc::ClientContext ctx2;
  inference::LogSettingsRequest bad;
  (*bad.mutable_settings())["log_file"].set_string_param("/tmp/y.log");
  grpc::Status s = servers_->stub()->LogSettings(&ctx2, bad, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("log_file is not supported"));
  spdlog::set_level(saved);
}

std::vector<json> ReadTraces(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

TEST_F(ExtensionsTest, TraceSettingsOverHttpAndGrpc) {
  auto global = json::parse(HttpCall(port(), "GET", "/v2/trace/setting", "").body);
  EXPECT_EQ(global["trace_level"], json({"OFF"}));
  EXPECT_EQ(global["trace_rate"], "1000");
  EXPECT_EQ(global["trace_count"], "-1");
  EXPECT_EQ(global["log_frequency"], "0");
  HttpResult tensors = Post(port(), "/v2/trace/setting", {{"trace_level", {"TENSORS"}}});
  EXPECT_EQ(tensors.status, 400u);
  EXPECT_THAT(tensors.body, HasSubstr("TENSORS is not supported"));
  EXPECT_EQ(Post(port(), "/v2/trace/setting", {{"trace_rate", "0"}}).status, 400u);
  EXPECT_EQ(Post(port(), "/v2/trace/setting", {{"bogus", "1"}}).status, 400u);
  // A model's override, then cleared back to the global value with null.
  HttpResult m = Post(port(), "/v2/models/identity/trace/setting", {{"trace_rate", "7"}});
  ASSERT_EQ(m.status, 200u) << m.body;
  EXPECT_EQ(json::parse(m.body)["trace_rate"], "7");
  EXPECT_EQ(json::parse(HttpCall(port(), "GET", "/v2/trace/setting", "").body)["trace_rate"], "1000");
  HttpResult cleared = Post(port(), "/v2/models/identity/trace/setting", {{"trace_rate", nullptr}});
  EXPECT_EQ(json::parse(cleared.body)["trace_rate"], "1000");
  EXPECT_EQ(HttpCall(port(), "GET", "/v2/models/nope/trace/setting", "").status, 404u);

  grpc::ClientContext ctx;
  inference::TraceSettingRequest req;
  req.set_model_name("add_sub");
  (*req.mutable_settings())["trace_count"].add_value("5");
  inference::TraceSettingResponse resp;
  ASSERT_TRUE(servers_->stub()->TraceSetting(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.settings().at("trace_count").value(0), "5");
  EXPECT_EQ(resp.settings().at("trace_level").value(0), "OFF");
  grpc::ClientContext ctx2;
  inference::TraceSettingRequest clear;
  clear.set_model_name("add_sub");
  (*clear.mutable_settings())["trace_count"];  // no value: back to the global setting
  ASSERT_TRUE(servers_->stub()->TraceSetting(&ctx2, clear, &resp).ok());
  EXPECT_EQ(resp.settings().at("trace_count").value(0), "-1");
  grpc::ClientContext ctx3;
  inference::TraceSettingRequest bad;
  (*bad.mutable_settings())["trace_level"].add_value("TENSORS");
  EXPECT_EQ(servers_->stub()->TraceSetting(&ctx3, bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ExtensionsTest, TraceTimestampsAreWrittenHonouringRateAndCount) {
  std::string file = ::testing::TempDir() + "/imagen_trace_" + std::to_string(getpid()) + ".json";
  std::remove(file.c_str());
  // Model-level settings, so other tests' requests are not traced.
  HttpResult set =
      Post(port(), "/v2/models/identity/trace/setting",
           {{"trace_file", file}, {"trace_level", {"TIMESTAMPS"}}, {"trace_rate", "2"}, {"trace_count", "3"}});
  ASSERT_EQ(set.status, 200u) << set.body;
  json req = {{"inputs", {{{"name", "INPUT0"}, {"datatype", "FP32"}, {"shape", {1, 2}}, {"data", {1, 2}}}}}};
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Post(port(), "/v2/models/identity/infer", req).status, 200u);
  // Rate 2: requests 1, 3, 5 are traced; then the count (3) is used up.
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    inference::ModelInferRequest g;
    g.set_model_name("identity");
    auto* in = g.add_inputs();
    in->set_name("INPUT0");
    in->set_datatype("FP32");
    in->add_shape(1);
    in->add_shape(1);
    g.add_raw_input_contents(std::string(4, '\0'));
    inference::ModelInferResponse resp;
    ASSERT_TRUE(servers_->stub()->ModelInfer(&ctx, g, &resp).ok());
  }
  auto traces = ReadTraces(file);
  ASSERT_EQ(traces.size(), 3u);
  EXPECT_EQ(json::parse(HttpCall(port(), "GET", "/v2/models/identity/trace/setting", "").body)["trace_count"], "0");
  for (const auto& t : traces) {
    EXPECT_TRUE(t["id"].is_number());
    EXPECT_EQ(t["model_name"], "identity");
    EXPECT_EQ(t["model_version"], 1);
    std::vector<std::string> names;
    int64_t last = 0;
    for (const auto& ts : t["timestamps"]) {
      names.push_back(ts["name"]);
      EXPECT_GE(ts["ns"].get<int64_t>(), last);
      last = ts["ns"].get<int64_t>();
    }
    EXPECT_EQ(names, (std::vector<std::string>{"HTTP_RECV_END", "REQUEST_START", "QUEUE_START", "COMPUTE_START",
                                               "COMPUTE_INPUT_END", "COMPUTE_OUTPUT_START", "COMPUTE_END",
                                               "REQUEST_END", "HTTP_SEND_START"}));
  }
  EXPECT_NE(traces[0]["id"], traces[1]["id"]);

  // gRPC requests, every one traced, into files of 2 traces each (log_frequency).
  ASSERT_EQ(Post(port(), "/v2/models/identity/trace/setting",
                 {{"trace_rate", "1"}, {"trace_count", "4"}, {"log_frequency", "2"}})
                .status,
            200u);
  for (int i = 0; i < 4; ++i) {
    grpc::ClientContext ctx;
    inference::ModelInferRequest g;
    g.set_model_name("identity");
    auto* in = g.add_inputs();
    in->set_name("INPUT0");
    in->set_datatype("FP32");
    in->add_shape(1);
    in->add_shape(1);
    g.add_raw_input_contents(std::string(4, '\0'));
    inference::ModelInferResponse resp;
    ASSERT_TRUE(servers_->stub()->ModelInfer(&ctx, g, &resp).ok());
  }
  // The trace is written when the reply has been sent; allow the frontend
  // thread to let go of it.
  for (int i = 0; i < 100 && ReadTraces(file + ".1").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (const char* suffix : {".0", ".1"}) {
    std::ifstream in(file + suffix);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(text.empty()) << suffix;
    auto arr = json::parse(text);
    ASSERT_EQ(arr.size(), 2u);
    EXPECT_EQ(arr[0]["timestamps"][0]["name"], "GRPC_WAITREAD_END");
    EXPECT_EQ(arr[0]["timestamps"].back()["name"], "GRPC_SEND_START");
  }
  Post(port(), "/v2/models/identity/trace/setting",
       {{"trace_file", nullptr},
        {"trace_level", nullptr},
        {"trace_rate", nullptr},
        {"trace_count", nullptr},
        {"log_frequency", nullptr}});
  for (const char* suffix : {"", ".0", ".1"}) std::remove((file + suffix).c_str());
}

TEST(RestrictedApisTest, ParsesGroupsAndRefusesBadSpecs) {
  frontends::RestrictedApis r;
  ASSERT_TRUE(r.Add("shared-memory,model-repository:admin-key=s3cret").ok());
  ASSERT_NE(r.Find(frontends::ApiGroup::kModelRepository), nullptr);
  EXPECT_EQ(r.Find(frontends::ApiGroup::kModelRepository)->key, "admin-key");
  EXPECT_EQ(r.Find(frontends::ApiGroup::kModelRepository)->value, "s3cret");
  EXPECT_EQ(r.Find(frontends::ApiGroup::kInference), nullptr);
  EXPECT_FALSE(r.Add("model-repository:k=v").ok());  // already restricted
  EXPECT_FALSE(r.Add("bogus:k=v").ok());
  EXPECT_FALSE(r.Add("inference").ok());
  EXPECT_FALSE(r.Add("inference:=v").ok());
  EXPECT_TRUE(r.CheckHttp(frontends::ApiGroup::kSharedMemory, "s3cret").ok());
  EXPECT_EQ(r.CheckHttp(frontends::ApiGroup::kSharedMemory, "wrong").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(r.CheckHttp(frontends::ApiGroup::kSharedMemory, std::nullopt).message(),
            "This API is restricted, expecting header 'admin-key'");
  EXPECT_EQ(r.ForGrpc().Find(frontends::ApiGroup::kSharedMemory)->key, "triton-grpc-protocol-admin-key");
}

TEST(RestrictedProtocolTest, RestrictedGroupsNeedTheHeaderOverHttpAndGrpc) {
  Restrictions rs;
  ASSERT_TRUE(rs.http.Add("model-repository,logging:admin-key=s3cret").ok());
  ASSERT_TRUE(rs.grpc.Add("model-repository,inference:Admin-Key=s3cret").ok());
  Servers servers(1 << 20, nullptr, std::move(rs));
  uint16_t port = servers.http_port();
  HttpResult refused = HttpCall(port, "POST", "/v2/repository/index", "{}");
  EXPECT_EQ(refused.status, 403u);
  EXPECT_EQ(json::parse(refused.body), json({{"error", "This API is restricted, expecting header 'admin-key'"}}));
  EXPECT_EQ(HttpCall(port, "POST", "/v2/repository/index", "{}", {{"admin-key", "wrong"}}).status, 403u);
  EXPECT_EQ(HttpCall(port, "POST", "/v2/repository/index", "{}", {{"Admin-Key", "s3cret"}}).status, 200u);
  EXPECT_EQ(HttpCall(port, "GET", "/v2/logging", "").status, 403u);
  EXPECT_EQ(HttpCall(port, "GET", "/v2/logging", "", {{"admin-key", "s3cret"}}).status, 200u);
  // Groups not named stay open.
  EXPECT_EQ(HttpCall(port, "GET", "/v2/health/ready", "").status, 200u);
  EXPECT_EQ(HttpCall(port, "GET", "/v2/models/identity/config", "").status, 200u);

  auto* stub = servers.stub();
  inference::ModelInferRequest req;
  req.set_model_name("identity");
  auto* in = req.add_inputs();
  in->set_name("INPUT0");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(1);
  req.add_raw_input_contents(std::string(4, '\0'));
  {
    grpc::ClientContext ctx;
    inference::ModelInferResponse resp;
    grpc::Status s = stub->ModelInfer(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(s.error_message(), "This protocol is restricted, expecting header 'triton-grpc-protocol-admin-key'");
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("triton-grpc-protocol-admin-key", "s3cret");  // Triton's prefix
    inference::ModelInferResponse resp;
    EXPECT_TRUE(stub->ModelInfer(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    auto stream = stub->ModelStreamInfer(&ctx);
    stream->WritesDone();
    inference::ModelStreamInferResponse resp;
    EXPECT_FALSE(stream->Read(&resp));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext ctx;
    inference::RepositoryIndexResponse resp;
    EXPECT_EQ(stub->RepositoryIndex(&ctx, {}, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext ctx;
    inference::ServerLiveResponse resp;
    EXPECT_TRUE(stub->ServerLive(&ctx, {}, &resp).ok());
  }
  {
    grpc::ClientContext ctx;  // logging is restricted on HTTP only here
    inference::LogSettingsResponse resp;
    EXPECT_TRUE(stub->LogSettings(&ctx, {}, &resp).ok());
  }
}

}  // namespace
}  // namespace imagen::testing_serving
