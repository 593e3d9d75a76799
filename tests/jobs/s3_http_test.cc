// The Beast transport against a scripted loopback peer: request timeouts, a
// pooled connection the server closed behind the client's back, the body
// limit, and a connection refused.
#include "jobs/s3_http.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/read_until.hpp"
#include "boost/asio/streambuf.hpp"
#include "boost/asio/write.hpp"

namespace imagen::jobs {
namespace {

namespace asio = boost::asio;

// Accepts connections one at a time; for each request it reads the header
// and calls `respond` with the raw request header, writing what it returns
// (nothing: stay silent until the client gives up). `close_after` closes
// every connection after one answer, without saying so.
class LoopbackPeer {
 public:
  LoopbackPeer(std::function<std::string(const std::string&)> respond, bool close_after)
      : respond_(std::move(respond)), close_after_(close_after) {
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~LoopbackPeer() {
    stop_ = true;
    boost::system::error_code ec;
    asio::ip::tcp::socket poke(io_);
    poke.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      asio::ip::tcp::socket s(io_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) return;
      ++connections_;
      while (true) {
        asio::streambuf buf;
        size_t n = asio::read_until(s, buf, "\r\n\r\n", ec);
        if (ec) break;
        std::string header(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n);
        std::string answer = respond_(header);
        if (answer.empty()) {  // silent: wait for the client to hang up
          char c;
          s.read_some(asio::buffer(&c, 1), ec);
          break;
        }
        asio::write(s, asio::buffer(answer), ec);
        if (ec || close_after_) break;
      }
    }
  }

  std::function<std::string(const std::string&)> respond_;
  bool close_after_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

S3HttpRequest Get(uint16_t port) {
  S3HttpRequest r;
  r.method = "GET";
  r.host = "127.0.0.1";
  r.port = port;
  r.target = "/b/k";
  r.headers = {{"Host", absl::StrCat("127.0.0.1:", port)}};
  return r;
}

std::unique_ptr<S3Transport> Transport() { return *NewBeastS3Transport(4); }

TEST(S3HttpTest, SilentServerTimesOut) {
  LoopbackPeer peer([](const std::string&) { return std::string(); }, false);
  auto t = Transport();
  S3HttpLimits limits;
  limits.request_timeout = absl::Milliseconds(200);
  absl::Time start = absl::Now();
  auto r = t->Send(Get(peer.port()), limits);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "timed out after 200ms")) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(S3HttpTest, ReconnectsWhenAPooledConnectionWasClosed) {
  LoopbackPeer peer([](const std::string&) { return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); },
                    /*close_after=*/true);
  auto t = Transport();
  for (int i = 0; i < 3; ++i) {
    auto r = t->Send(Get(peer.port()), {});
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok");
  }
  EXPECT_EQ(peer.connections(), 3);
}

TEST(S3HttpTest, KeepsConnectionsAliveAndSendsTheRequestAsGiven) {
  std::string seen;
  LoopbackPeer peer(
      [&](const std::string& header) {
        seen = header;
        return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\nnope!");
      },
      false);
  auto t = Transport();
  for (int i = 0; i < 3; ++i) {
    auto r = t->Send(Get(peer.port()), {});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->Header("etag"), "\"x\"");
    EXPECT_EQ(r->body, "nope!");
  }
  EXPECT_EQ(peer.connections(), 1);
  EXPECT_TRUE(absl::StartsWith(seen, "GET /b/k HTTP/1.1\r\n")) << seen;
}

TEST(S3HttpTest, BodyLimitAndRefusedConnection) {
  LoopbackPeer peer(
      [](const std::string&) {
        return std::string("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n") + std::string(100, 'x');
      },
      false);
  auto t = Transport();
  S3HttpLimits limits;
  limits.max_body = 10;
  auto r = t->Send(Get(peer.port()), limits);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  auto refused = t->Send(Get(1), {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "connect to 127.0.0.1:1 failed")) << refused.status();
}

}  // namespace
}  // namespace imagen::jobs
