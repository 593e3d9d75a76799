#include "http/server.h"

#include <array>
#include <atomic>
#include <chrono>
#include <list>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/as_tuple.hpp"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/logging.h"

namespace imagen::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::chrono::steady_clock::duration ToChrono(absl::Duration d) { return absl::ToChronoMicroseconds(d); }

// Connection state visible to Stop(): whether a request is being handled.
struct Conn {
  beast::tcp_stream* stream = nullptr;
  asio::any_io_executor executor;
  bool busy = false;
};

class StreamImpl final : public ResponseStream {
 public:
  StreamImpl(beast::tcp_stream& stream, const std::atomic<bool>& stopping, absl::Duration timeout)
      : stream_(stream), stopping_(stopping), timeout_(timeout) {}

  asio::awaitable<bool> Begin(Response head) override {
    head.chunked(true);
    head.keep_alive(false);
    head.body().clear();
    beast_http::response_serializer<beast_http::string_body> sr(head);
    stream_.expires_after(ToChrono(timeout_));
    auto [ec, n] = co_await beast_http::async_write_header(stream_, sr, kUseTuple);
    begun_ = true;
    co_return !ec;
  }
  asio::awaitable<bool> Write(std::string_view data) override {
    if (data.empty()) co_return !stopping_.load();
    stream_.expires_after(ToChrono(timeout_));
    auto [ec, n] = co_await asio::async_write(stream_, beast_http::make_chunk(asio::buffer(data)), kUseTuple);
    co_return !ec && !stopping_.load();
  }
  asio::awaitable<void> Finish() {
    stream_.expires_after(ToChrono(timeout_));
    co_await asio::async_write(stream_, beast_http::make_chunk_last(), kUseTuple);
  }
  bool begun() const override { return begun_; }
  bool stopping() const override { return stopping_.load(); }

 private:
  beast::tcp_stream& stream_;
  const std::atomic<bool>& stopping_;
  absl::Duration timeout_;
  bool begun_ = false;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  RequestObserver observer;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  uint16_t bound_port = 0;

  absl::Mutex mu;
  std::list<Conn> conns ABSL_GUARDED_BY(mu);

  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kUseTuple);
      if (ec) {
        if (stopping.load() || ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      auto exec = socket.get_executor();
      asio::co_spawn(exec, Session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    std::list<Conn>::iterator self;
    {
      absl::MutexLock lock(&mu);
      self = conns.insert(conns.end(), Conn{&stream, stream.get_executor(), false});
    }
    beast::flat_buffer buffer;
    for (;;) {
      if (stopping.load()) break;
      beast_http::request_parser<beast_http::string_body> parser;
      parser.body_limit(options.body_limit);
      parser.header_limit(64 * 1024);
      stream.expires_after(ToChrono(options.idle_timeout));
      auto [hec, hn] = co_await beast_http::async_read_header(stream, buffer, parser, kUseTuple);
      if (hec == beast_http::error::body_limit) {
        co_await WriteError(stream, Status::payload_too_large, "payload_too_large",
                            absl::StrCat("request body exceeds the limit of ", options.body_limit, " bytes"));
        break;
      }
      if (hec) {
        if (hec != beast_http::error::end_of_stream && hec != asio::error::operation_aborted &&
            hec != beast::error::timeout && hec != asio::error::eof && hec != asio::error::connection_reset) {
          co_await WriteError(stream, Status::bad_request, "bad_request", "malformed HTTP request: " + hec.message());
        }
        break;
      }
      {
        absl::MutexLock lock(&mu);
        self->busy = true;
      }
      stream.expires_after(ToChrono(options.read_timeout));
      auto [ec, n] = co_await beast_http::async_read(stream, buffer, parser, kUseTuple);
      if (ec) {
        if (ec == beast_http::error::body_limit) {
          co_await WriteError(stream, Status::payload_too_large, "payload_too_large",
                              absl::StrCat("request body exceeds the limit of ", options.body_limit, " bytes"));
        } else if (ec != asio::error::operation_aborted && ec != beast::error::timeout) {
          co_await WriteError(stream, Status::bad_request, "bad_request", "malformed HTTP request: " + ec.message());
        }
        break;
      }
      Request req = parser.release();
      bool keep = co_await Handle(stream, req, remote);
      {
        absl::MutexLock lock(&mu);
        self->busy = false;
      }
      if (!keep) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Lingering close: read and drop what the client is still sending (e.g.
    // the rest of an oversized body after the 413), bounded in time and
    // bytes; closing with unread data would reset the connection and the
    // client could lose the response.
    if (!stopping.load()) {
      std::array<char, 16384> sink;
      size_t drained = 0;
      stream.expires_after(std::chrono::milliseconds(500));
      while (drained < (64u << 20)) {
        auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
        if (rec) break;
        drained += rn;
      }
    }
    stream.close();
    absl::MutexLock lock(&mu);
    conns.erase(self);
  }

  // Runs the handler and writes its response; returns whether to keep the
  // connection open.
  asio::awaitable<bool> Handle(beast::tcp_stream& stream, Request& req, const std::string& remote) {
    auto start = std::chrono::steady_clock::now();
    RequestContext ctx;
    ctx.remote_address = remote;
    StreamImpl rs(stream, stopping, options.idle_timeout);
    stream.expires_never();
    Response res;
    try {
      res = co_await handler(req, ctx, rs);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} threw: {}", std::string(req.method_string()), std::string(req.target()),
                    e.what());
      res = ErrorResponse(req, Status::internal_server_error, "internal", "internal error");
    }
    unsigned code = 0;
    bool keep = false;
    if (rs.begun()) {
      co_await rs.Finish();
      code = 200;
    } else {
      if (stopping.load()) res.keep_alive(false);
      code = res.result_int();
      keep = res.keep_alive();
      if (req.method() == Verb::head) {
        auto size = res.body().size();
        res.body().clear();
        res.content_length(size);
      }
      stream.expires_after(ToChrono(options.read_timeout));
      auto [ec, n] = co_await beast_http::async_write(stream, res, kUseTuple);
      if (ec) keep = false;
    }
    if (observer) {
      observer(req, code, absl::FromChrono(std::chrono::steady_clock::now() - start));
    }
    co_return keep;
  }

  asio::awaitable<void> WriteError(beast::tcp_stream& stream, Status status, std::string code, std::string msg) {
    Request dummy;
    dummy.version(11);
    Response res = ErrorResponse(dummy, status, code, msg);
    res.keep_alive(false);
    stream.expires_after(ToChrono(options.read_timeout));
    co_await beast_http::async_write(stream, res, kUseTuple);
  }
};

Server::Server(ServerOptions options, Handler handler, RequestObserver observer) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  impl_->observer = std::move(observer);
}

Server::~Server() { Stop(absl::ZeroDuration()); }

absl::Status Server::Start() {
  Impl& s = *impl_;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(s.options.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen address '", s.options.host, "': ", ec.message()));
  tcp::endpoint endpoint(address, s.options.port);
  std::string where = absl::StrCat(s.options.host, ":", s.options.port);
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    if (ec == asio::error::address_in_use)
      return absl::UnavailableError(absl::StrCat(where, ": address already in use"));
    return absl::UnavailableError(absl::StrCat("cannot listen on ", where, ": ", ec.message()));
  }
  s.bound_port = s.acceptor.local_endpoint().port();
  asio::co_spawn(s.ioc, s.Accept(), asio::detached);
  int n = std::max(1, s.options.threads);
  for (int i = 0; i < n; ++i) s.threads.emplace_back([&s] { s.ioc.run(); });
  return absl::OkStatus();
}

uint16_t Server::port() const { return impl_->bound_port; }

bool Server::stopping() const { return impl_->stopping.load(); }

void Server::Stop(absl::Duration grace) {
  Impl& s = *impl_;
  if (s.threads.empty()) return;
  s.stopping.store(true);
  asio::post(s.ioc, [&s] {
    boost::system::error_code ec;
    s.acceptor.close(ec);
  });
  auto close_idle = [&s] {
    absl::MutexLock lock(&s.mu);
    for (auto& c : s.conns) {
      if (!c.busy) {
        // Runs on the connection's strand, where the session also ends, so
        // the stream is alive if it is still registered.
        asio::post(c.executor, [&s, stream = c.stream] {
          absl::MutexLock lock(&s.mu);
          for (auto& live : s.conns) {
            if (live.stream == stream && !live.busy) {
              boost::system::error_code ec;
              stream->socket().cancel(ec);
            }
          }
        });
      }
    }
  };
  absl::Time deadline = absl::Now() + grace;
  for (;;) {
    close_idle();
    {
      absl::MutexLock lock(&s.mu);
      if (s.conns.empty()) break;
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace imagen::http
