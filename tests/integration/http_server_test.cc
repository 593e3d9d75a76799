// The Beast server over real loopback sockets: limits, errors, streaming and
// graceful shutdown.
#include <future>
#include <thread>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"
#include "http/server.h"

namespace imagen::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct Client {
  explicit Client(uint16_t port) : socket(ioc) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  Response Send(Request req) {
    req.set(beast_http::field::host, "127.0.0.1");
    req.prepare_payload();
    beast_http::write(socket, req);
    return Read();
  }
  Response Read() {
    Response res;
    beast_http::read(socket, buffer, res);
    return res;
  }
  void SendRaw(std::string_view bytes) { asio::write(socket, asio::buffer(bytes)); }
  asio::io_context ioc;
  tcp::socket socket;
  beast::flat_buffer buffer;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.AddSync(Verb::get, "/healthz", [](const Request& req, const RequestContext&) {
      return JsonResponse(req, Status::ok, R"({"status":"ok"})");
    });
    router_.AddSync(Verb::post, "/echo", [](const Request& req, const RequestContext&) {
      return MakeResponse(req, Status::ok, req.body(), "application/octet-stream");
    });
    router_.AddSync(Verb::get, "/throw",
                    [](const Request&, const RequestContext&) -> Response { throw std::runtime_error("boom"); });
    router_.Add(Verb::get, "/events",
                [](Request& req, RequestContext&, ResponseStream& s) -> asio::awaitable<Response> {
                  Response head = MakeResponse(req, Status::ok, "", "text/event-stream");
                  co_await s.Begin(std::move(head));
                  for (int i = 0; i < 3; ++i) co_await s.Write("data: " + std::to_string(i) + "\n\n");
                  co_return Response{};
                });
    router_.Add(Verb::get, "/slow",
                [this](Request& req, RequestContext&, ResponseStream&) -> asio::awaitable<Response> {
                  entered_.set_value();
                  // Waits (without blocking the thread) until the test releases it.
                  asio::steady_timer timer(co_await asio::this_coro::executor);
                  while (!released_.load()) {
                    timer.expires_after(std::chrono::milliseconds(1));
                    co_await timer.async_wait(asio::use_awaitable);
                  }
                  co_return MakeResponse(req, Status::ok, "done", "text/plain");
                });
    ServerOptions opts;
    opts.port = 0;
    opts.body_limit = 1024;
    server_ = std::make_unique<Server>(
        opts, [this](Request& r, RequestContext& c, ResponseStream& s) { return router_.Route(r, c, s); });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override { server_->Stop(absl::Seconds(1)); }

  Router router_;
  std::unique_ptr<Server> server_;
  std::promise<void> entered_;
  std::atomic<bool> released_{false};
};

TEST_F(HttpServerTest, ServesKeepAliveRequests) {
  Client c(server_->port());
  for (int i = 0; i < 3; ++i) {
    Response res = c.Send(Request{Verb::get, "/healthz", 11});
    EXPECT_EQ(res.result(), Status::ok);
    EXPECT_EQ(res.body(), R"({"status":"ok"})");
  }
  Request post{Verb::post, "/echo", 11};
  post.body() = "payload";
  EXPECT_EQ(c.Send(post).body(), "payload");
}

TEST_F(HttpServerTest, OversizedBodyIs413JsonAndServerKeepsServing) {
  Client c(server_->port());
  Request post{Verb::post, "/echo", 11};
  post.body() = std::string(4096, 'x');
  Response res = c.Send(post);
  EXPECT_EQ(res.result(), Status::payload_too_large);
  EXPECT_NE(res.body().find("\"code\":\"payload_too_large\""), std::string::npos) << res.body();
  Client c2(server_->port());
  EXPECT_EQ(c2.Send(Request{Verb::get, "/healthz", 11}).result(), Status::ok);
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  Client c(server_->port());
  c.SendRaw("GARBAGE\x01 / HTTP/9\r\n\r\n");
  Response res = c.Read();
  EXPECT_EQ(res.result(), Status::bad_request);
  EXPECT_NE(res.body().find("malformed"), std::string::npos);
  Client c2(server_->port());
  EXPECT_EQ(c2.Send(Request{Verb::get, "/healthz", 11}).result(), Status::ok);
}

TEST_F(HttpServerTest, HandlerExceptionIs500) {
  Client c(server_->port());
  Response res = c.Send(Request{Verb::get, "/throw", 11});
  EXPECT_EQ(res.result(), Status::internal_server_error);
  EXPECT_EQ(c.Send(Request{Verb::get, "/healthz", 11}).result(), Status::ok);
}

TEST_F(HttpServerTest, StreamsChunkedEvents) {
  Client c(server_->port());
  Response res = c.Send(Request{Verb::get, "/events", 11});
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(res.body(), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

TEST_F(HttpServerTest, StopFinishesInFlightRequestsAndRefusesNewOnes) {
  uint16_t port = server_->port();
  std::future<Response> slow = std::async(std::launch::async, [port] {
    Client c(port);
    return c.Send(Request{Verb::get, "/slow", 11});
  });
  entered_.get_future().wait();
  std::thread stopper([this] { server_->Stop(absl::Seconds(30)); });
  while (!server_->stopping()) std::this_thread::yield();
  released_.store(true);
  Response res = slow.get();
  stopper.join();
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(res.body(), "done");
  EXPECT_FALSE(res.keep_alive());
  asio::io_context ioc;
  tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_TRUE(ec) << "connection accepted after Stop";
}

TEST(HttpServerStartTest, PortInUseIsAClearError) {
  Router router;
  auto handler = [&router](Request& r, RequestContext& c, ResponseStream& s) { return router.Route(r, c, s); };
  ServerOptions opts;
  opts.port = 0;
  Server first(opts, handler);
  ASSERT_TRUE(first.Start().ok());
  opts.port = first.port();
  Server second(opts, handler);
  absl::Status s = second.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("already in use"), std::string::npos) << s;
}

}  // namespace
}  // namespace imagen::http
