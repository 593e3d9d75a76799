// `imagen bench infer`: a load generator in the manner of perf_analyzer for
// any KServe v2 server (imagen infer or Triton), over gRPC or HTTP (binary
// tensor extension). Closed loop: N concurrent clients send requests for S
// seconds; prints throughput, latency percentiles, and the server-side queue
// / compute split read from the statistics API before and after.
#include <algorithm>
#include <atomic>
#include <memory>
#include <numeric>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "cmd/commands.h"
#include "common/string_view.h"
#include "fmt/core.h"
#include "frontends/grpc_busy_poll.h"
#include "frontends/grpc_convert.h"
#include "frontends/kserve_json.h"
#include "grpc_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "serving/tensor.h"

namespace imagen {
namespace {

namespace beast_http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct BenchFlags {
  std::string url = "127.0.0.1:8001";
  std::string protocol = "grpc";
  std::string model;
  std::string shape;
  int concurrency = 1;
  double duration = 10;
  double warmup = 1;
};

struct ServerTotals {
  uint64_t count = 0, queue_ns = 0, input_ns = 0, infer_ns = 0, output_ns = 0, exec = 0, infer_count = 0;
};

// One connection to the server; not thread-safe (one per client thread).
class Connection {
 public:
  virtual ~Connection() = default;
  virtual absl::Status Infer(const serving::InferRequest& r) = 0;
};

// Async stub on one completion queue reused for every call (the blocking
// stub creates a queue per call).
class GrpcConnection final : public Connection {
 public:
  explicit GrpcConnection(std::shared_ptr<grpc::Channel> ch) : stub_(inference::GRPCInferenceService::NewStub(ch)) {}
  ~GrpcConnection() override {
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  absl::Status Infer(const serving::InferRequest& r) override {
    if (proto_.inputs_size() == 0) frontends::ToProto(r, &proto_);
    grpc::ClientContext ctx;
    inference::ModelInferResponse resp;
    grpc::Status s;
    auto call = stub_->AsyncModelInfer(&ctx, proto_, &cq_);
    call->Finish(&resp, &s, this);
    void* tag;
    bool ok;
    if (!frontends::NextWithBusyPoll(cq_, &tag, &ok, 200) || !ok) {
      return absl::UnavailableError("completion queue shut down");
    }
    return s.ok() ? absl::OkStatus() : absl::UnavailableError(s.error_message());
  }

 private:
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  grpc::CompletionQueue cq_;
  inference::ModelInferRequest proto_;
};

class HttpConnection final : public Connection {
 public:
  HttpConnection(std::string host, std::string port) : host_(std::move(host)), port_(std::move(port)) {}
  absl::Status Infer(const serving::InferRequest& r) override {
    try {
      if (!socket_) Connect();
      if (body_.empty()) {
        nlohmann::json j;
        j["inputs"] = nlohmann::json::array();
        for (const auto& t : r.inputs) {
          j["inputs"].push_back({{"name", t.name},
                                 {"datatype", t.datatype},
                                 {"shape", t.shape},
                                 {"parameters", {{"binary_data_size", t.data.size()}}}});
        }
        j["parameters"] = {{"binary_data_output", true}};
        body_ = j.dump();
        header_len_ = body_.size();
        for (const auto& t : r.inputs) body_ += t.data;
        target_ = absl::StrCat("/v2/models/", r.model_name, "/infer");
      }
      beast_http::request<beast_http::string_body> req{beast_http::verb::post, target_, 11};
      req.set(beast_http::field::host, host_);
      req.set("Inference-Header-Content-Length", std::to_string(header_len_));
      req.set(beast_http::field::content_type, "application/octet-stream");
      req.body() = body_;
      req.prepare_payload();
      beast_http::write(*socket_, req);
      beast_http::response<beast_http::string_body> res;
      beast_http::read(*socket_, buffer_, res);
      if (res.result_int() != 200)
        return absl::UnavailableError(absl::StrCat("HTTP ", res.result_int(), ": ", res.body()));
      return absl::OkStatus();
    } catch (const std::exception& e) {
      socket_.reset();
      return absl::UnavailableError(e.what());
    }
  }

 private:
  void Connect() {
    tcp::resolver resolver(ioc_);
    socket_ = std::make_unique<tcp::socket>(ioc_);
    boost::asio::connect(*socket_, resolver.resolve(host_, port_));
    socket_->set_option(tcp::no_delay(true));
  }
  std::string host_, port_, body_, target_;
  size_t header_len_ = 0;
  boost::asio::io_context ioc_;
  std::unique_ptr<tcp::socket> socket_;
  boost::beast::flat_buffer buffer_;
};

absl::StatusOr<std::string> HttpGet(const std::string& host, const std::string& port, const std::string& target) {
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    tcp::socket socket(ioc);
    boost::asio::connect(socket, resolver.resolve(host, port));
    beast_http::request<beast_http::string_body> req{beast_http::verb::get, target, 11};
    req.set(beast_http::field::host, host);
    beast_http::write(socket, req);
    boost::beast::flat_buffer buffer;
    beast_http::response<beast_http::string_body> res;
    beast_http::read(socket, buffer, res);
    if (res.result_int() != 200) return absl::UnavailableError(absl::StrCat("GET ", target, ": ", res.body()));
    return res.body();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("GET ", target, ": ", e.what()));
  }
}

// Model inputs (name, datatype, shape) from the metadata API.
absl::StatusOr<std::vector<serving::TensorMetadata>> Inputs(const BenchFlags& f, const std::string& host,
                                                            const std::string& port,
                                                            const std::shared_ptr<grpc::Channel>& ch) {
  std::vector<serving::TensorMetadata> out;
  if (f.protocol == "grpc") {
    auto stub = inference::GRPCInferenceService::NewStub(ch);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    inference::ModelMetadataRequest req;
    req.set_name(f.model);
    inference::ModelMetadataResponse resp;
    grpc::Status s = stub->ModelMetadata(&ctx, req, &resp);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    for (const auto& t : resp.inputs()) out.push_back({t.name(), t.datatype(), {t.shape().begin(), t.shape().end()}});
    return out;
  }
  auto body = HttpGet(host, port, "/v2/models/" + f.model);
  if (!body.ok()) return body.status();
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.contains("inputs")) return absl::InternalError("bad metadata response");
  for (const auto& t : j["inputs"]) {
    out.push_back(
        {t["name"].get<std::string>(), t["datatype"].get<std::string>(), t["shape"].get<std::vector<int64_t>>()});
  }
  return out;
}

absl::StatusOr<ServerTotals> Totals(const BenchFlags& f, const std::string& host, const std::string& port,
                                    const std::shared_ptr<grpc::Channel>& ch) {
  ServerTotals t;
  auto add = [&](uint64_t count, uint64_t q, uint64_t i, uint64_t inf, uint64_t o, uint64_t ex, uint64_t ic) {
    t.count += count;
    t.queue_ns += q;
    t.input_ns += i;
    t.infer_ns += inf;
    t.output_ns += o;
    t.exec += ex;
    t.infer_count += ic;
  };
  if (f.protocol == "grpc") {
    auto stub = inference::GRPCInferenceService::NewStub(ch);
    grpc::ClientContext ctx;
    inference::ModelStatisticsRequest req;
    req.set_name(f.model);
    inference::ModelStatisticsResponse resp;
    grpc::Status s = stub->ModelStatistics(&ctx, req, &resp);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    for (const auto& m : resp.model_stats()) {
      const auto& st = m.inference_stats();
      add(st.success().count(), st.queue().ns(), st.compute_input().ns(), st.compute_infer().ns(),
          st.compute_output().ns(), m.execution_count(), m.inference_count());
    }
    return t;
  }
  auto body = HttpGet(host, port, "/v2/models/" + f.model + "/stats");
  if (!body.ok()) return body.status();
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded()) return absl::InternalError("bad stats response");
  for (const auto& m : j["model_stats"]) {
    const auto& st = m["inference_stats"];
    add(st["success"]["count"].get<uint64_t>(), st["queue"]["ns"].get<uint64_t>(),
        st["compute_input"]["ns"].get<uint64_t>(), st["compute_infer"]["ns"].get<uint64_t>(),
        st["compute_output"]["ns"].get<uint64_t>(), m["execution_count"].get<uint64_t>(),
        m["inference_count"].get<uint64_t>());
  }
  return t;
}

int RunBenchInfer(const BenchFlags& f) {
  std::vector<std::string> hp = absl::StrSplit(f.url, ':');
  if (hp.size() != 2 || f.model.empty() || f.concurrency < 1 || f.duration <= 0) {
    fmt::print(stderr, "imagen bench infer: need --url HOST:PORT, --model, --concurrency >= 1, --duration > 0\n");
    return 2;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);  // no client-side filters a load generator does not need
  auto make_channel = [&](int i) {
    grpc::ChannelArguments a = args;
    a.SetInt("imagen.channel_index", i);  // separate connections per client
    return grpc::CreateCustomChannel(f.url, grpc::InsecureChannelCredentials(), a);
  };
  auto control = make_channel(-1);
  auto inputs = Inputs(f, hp[0], hp[1], control);
  if (!inputs.ok()) {
    fmt::print(stderr, "imagen bench infer: {}\n", inputs.status().message());
    return 1;
  }
  std::vector<int64_t> shape;
  if (!f.shape.empty()) {
    for (absl::string_view d : absl::StrSplit(ToAbsl(f.shape), ',')) {
      int64_t v;
      if (!absl::SimpleAtoi(d, &v) || v < 1) {
        fmt::print(stderr, "imagen bench infer: bad --shape '{}'\n", f.shape);
        return 2;
      }
      shape.push_back(v);
    }
  }
  serving::InferRequest request;
  request.model_name = f.model;
  std::mt19937 rng(42);
  for (const auto& in : *inputs) {
    serving::Tensor t;
    t.name = in.name;
    t.datatype = in.datatype;
    t.shape = shape.empty() ? in.shape : shape;
    for (auto& d : t.shape) d = d < 0 ? 1 : d;
    size_t bytes =
        static_cast<size_t>(serving::ElementCount(t.shape)) * std::max<size_t>(1, serving::DataTypeSize(in.datatype));
    t.data.resize(bytes);
    for (auto& c : t.data) c = static_cast<char>(rng() % 64);
    request.inputs.push_back(std::move(t));
  }

  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(f.concurrency));
  std::atomic<uint64_t> errors{0};
  std::string first_error;
  absl::Mutex err_mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < f.concurrency; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<Connection> conn;
      if (f.protocol == "grpc") {
        conn = std::make_unique<GrpcConnection>(make_channel(i));
      } else {
        conn = std::make_unique<HttpConnection>(hp[0], hp[1]);
      }
      auto& lat = latencies[static_cast<size_t>(i)];
      while (!stop.load()) {
        absl::Time t0 = absl::Now();
        absl::Status s = conn->Infer(request);
        double us = absl::ToDoubleMicroseconds(absl::Now() - t0);
        if (!measuring.load()) continue;
        if (s.ok()) {
          lat.push_back(us);
        } else {
          if (errors++ == 0) {
            absl::MutexLock l(&err_mu);
            first_error = std::string(s.message());
          }
        }
      }
    });
  }
  absl::SleepFor(absl::Seconds(f.warmup));
  auto before = Totals(f, hp[0], hp[1], control);
  absl::Time start = absl::Now();
  measuring = true;
  absl::SleepFor(absl::Seconds(f.duration));
  measuring = false;
  double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  auto after = Totals(f, hp[0], hp[1], control);
  stop = true;
  for (auto& t : threads) t.join();

  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  fmt::print("model {}  protocol {}  concurrency {}  duration {:.1f}s  input shape {}\n", f.model, f.protocol,
             f.concurrency, elapsed, serving::ShapeString(request.inputs.empty() ? shape : request.inputs[0].shape));
  fmt::print("  throughput: {:.1f} infer/s  ({} requests, {} errors)\n", static_cast<double>(all.size()) / elapsed,
             all.size(), errors.load());
  fmt::print("  latency: p50 {:.0f} us  p90 {:.0f} us  p99 {:.0f} us  avg {:.0f} us\n", pct(0.50), pct(0.90), pct(0.99),
             all.empty() ? 0.0 : std::accumulate(all.begin(), all.end(), 0.0) / static_cast<double>(all.size()));
  if (before.ok() && after.ok() && after->count > before->count) {
    double n = static_cast<double>(after->count - before->count);
    auto avg = [&](uint64_t a, uint64_t b) { return static_cast<double>(a - b) / n / 1000.0; };
    uint64_t execs = after->exec - before->exec;
    fmt::print(
        "  server: queue {:.0f} us  compute input {:.0f} us  infer {:.0f} us  output {:.0f} us  (avg per request)\n",
        avg(after->queue_ns, before->queue_ns), avg(after->input_ns, before->input_ns),
        avg(after->infer_ns, before->infer_ns), avg(after->output_ns, before->output_ns));
    fmt::print(
        "  server: {} executions for {} inferences (avg batch {:.2f})\n", execs,
        after->infer_count - before->infer_count,
        execs == 0 ? 0.0 : static_cast<double>(after->infer_count - before->infer_count) / static_cast<double>(execs));
  } else if (!before.ok() || !after.ok()) {
    fmt::print("  server statistics unavailable: {}\n", (before.ok() ? after.status() : before.status()).message());
  }
  if (errors.load() > 0) fmt::print("  first error: {}\n", first_error);
  return errors.load() > 0 && all.empty() ? 1 : 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int* rc) {
  CLI::App* bench = app.add_subcommand("bench", "Load generators and benchmarks");
  bench->require_subcommand(1);
  CLI::App* infer = bench->add_subcommand("infer", "KServe v2 load generator (perf_analyzer style)");
  auto f = std::make_shared<BenchFlags>();
  infer->add_option("--url", f->url, "Server HOST:PORT (gRPC or HTTP port)");
  infer->add_option("--protocol", f->protocol, "grpc | http")->check(CLI::IsMember({"grpc", "http"}));
  infer->add_option("--model", f->model, "Model name")->required();
  infer->add_option("--shape", f->shape, "Input shape, e.g. 1,16 (default: from metadata, -1 -> 1)");
  infer->add_option("--concurrency", f->concurrency, "Concurrent clients");
  infer->add_option("--duration", f->duration, "Measurement seconds");
  infer->add_option("--warmup", f->warmup, "Warm-up seconds before measuring");
  infer->callback([rc, f] { *rc = RunBenchInfer(*f); });
}

}  // namespace imagen
