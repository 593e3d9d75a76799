#include "http/server.h"

#include <array>
#include <atomic>
#include <cerrno>
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
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/logging.h"
#include "http/body_budget.h"
#include "http/fd_limit.h"
#include "http/request_reader.h"

namespace imagen::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Over-cap connections being answered 503 at once; beyond this they are
// closed without an answer so that refusing cannot use many descriptors.
constexpr int kMaxRefusing = 64;

Clock::duration ToChrono(absl::Duration d) { return absl::ToChronoMicroseconds(d); }

// Connection state visible to Stop() and to eviction: whether a request is
// being handled, and since when the connection has waited for a request head.
struct Conn {
  beast::tcp_stream* stream = nullptr;
  asio::any_io_executor executor;
  bool busy = false;
  Clock::time_point idle_since;
  bool evicting = false;
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
  beast::tcp_stream* TakeOver() override {
    taken_ = true;
    return &stream_;
  }
  bool taken() const { return taken_; }

 private:
  beast::tcp_stream& stream_;
  const std::atomic<bool>& stopping_;
  absl::Duration timeout_;
  bool begun_ = false;
  bool taken_ = false;
};

bool IsResourceShortage(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

bool WantsContinue(const Request& head) {
  auto it = head.find(beast_http::field::expect);
  return head.version() >= 11 && it != head.end() && beast::iequals(it->value(), "100-continue");
}

Request DummyHead() {
  Request r;
  r.version(11);
  return r;
}

struct Counter {
  std::atomic<uint64_t> n{0};
  void Add() { n.fetch_add(1, std::memory_order_relaxed); }
  uint64_t Get() const { return n.load(std::memory_order_relaxed); }
};

}  // namespace

struct Server::Impl {
  explicit Impl(ServerOptions o) : options(std::move(o)), budget(options.max_inflight_body_bytes) {}

  ServerOptions options;
  Handler handler;
  RequestObserver observer;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  uint16_t bound_port = 0;
  int max_connections = 1;
  BodyBudget budget;

  std::atomic<int64_t> open{0};
  std::atomic<int> refusing{0};
  Counter accepted, refused, evicted, accept_errors, requests, rejected_at_headers, budget_refusals, framing_errors,
      header_timeouts, body_timeouts, idle_timeouts;

  absl::Mutex mu;
  std::list<Conn> conns ABSL_GUARDED_BY(mu);

  Response MakeError(const Request& head, Status status, std::string_view code, std::string_view message) const {
    Response res = options.error_response ? options.error_response(head, status, code, message)
                                          : ErrorResponse(head, status, code, message);
    if (status == Status::service_unavailable && res.find(beast_http::field::retry_after) == res.end()) {
      res.set(beast_http::field::retry_after, "1");
    }
    return res;
  }

  asio::awaitable<void> Accept() {
    asio::steady_timer backoff(ioc);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kUseTuple);
      if (stopping.load()) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        uint64_t n = accept_errors.n.fetch_add(1, std::memory_order_relaxed);
        if (IsResourceShortage(ec)) {
          // The pending connection stays in the backlog; retrying at once
          // would spin. Keep serving the connections we have meanwhile.
          if (n % 1000 == 0) spdlog::warn("accept: {} (pausing the accept loop)", ec.message());
          backoff.expires_after(ToChrono(options.accept_backoff));
          co_await backoff.async_wait(kUseTuple);
        }
        continue;
      }
      // Full: make room by closing the connection that has waited longest
      // for a request head, unless every one is busy or evictions are
      // already in flight beyond kMaxRefusing.
      int64_t now_open = open.load();
      if (now_open >= max_connections &&
          (!options.evict_idle_when_full || now_open >= max_connections + kMaxRefusing || !EvictLongestIdle())) {
        refused.Add();
        if (refusing.fetch_add(1) < kMaxRefusing) {
          auto exec = socket.get_executor();
          asio::co_spawn(exec, Refuse(std::move(socket)), asio::detached);
        } else {
          refusing.fetch_sub(1);
          boost::system::error_code ignored;
          socket.close(ignored);
        }
        continue;
      }
      open.fetch_add(1);
      accepted.Add();
      auto exec = socket.get_executor();
      asio::co_spawn(exec, Session(std::move(socket), Clock::now()), asio::detached);
    }
  }

  // Answers an over-cap connection 503 and closes it, reading briefly what the
  // client already sent so that the close does not reset the answer away.
  asio::awaitable<void> Refuse(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    Request head = DummyHead();
    Response res = MakeError(head, Status::service_unavailable, ErrorCodeFor(absl::StatusCode::kUnavailable),
                             "too many connections; retry later");
    res.keep_alive(false);
    stream.expires_after(std::chrono::seconds(1));
    auto [ec, n] = co_await beast_http::async_write(stream, res, kUseTuple);
    if (!ec) co_await LingeringClose(stream, std::chrono::milliseconds(200), 64 * 1024);
    stream.close();
    refusing.fetch_sub(1);
  }

  // Half-closes, then reads and drops what the client is still sending (e.g.
  // the rest of an oversized body after a 413), bounded in time and bytes;
  // closing with unread data would reset the connection and the client could
  // lose the response.
  asio::awaitable<void> LingeringClose(beast::tcp_stream& stream, Clock::duration limit, size_t max_bytes) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    std::array<char, 16384> sink;
    size_t drained = 0;
    stream.expires_after(limit);
    while (drained < max_bytes) {
      auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
      if (rec) break;
      drained += rn;
    }
  }

  void SetBusy(std::list<Conn>::iterator self, bool busy) {
    absl::MutexLock lock(&mu);
    self->busy = busy;
    self->evicting = false;
    if (!busy) self->idle_since = Clock::now();
  }

  // Closes the open connection that has waited longest for a request head
  // (idle keep-alive or an incomplete head); false if all are busy.
  bool EvictLongestIdle() {
    absl::MutexLock lock(&mu);
    Conn* oldest = nullptr;
    for (auto& c : conns) {
      if (c.busy || c.evicting) continue;
      if (oldest == nullptr || c.idle_since < oldest->idle_since) oldest = &c;
    }
    if (oldest == nullptr) return false;
    oldest->evicting = true;
    evicted.Add();
    // Runs on the connection's strand, where the session also ends, so the
    // stream is alive if it is still registered.
    asio::post(oldest->executor, [this, stream = oldest->stream] {
      absl::MutexLock lock(&mu);
      for (auto& live : conns) {
        if (live.stream == stream && !live.busy && live.evicting) {
          boost::system::error_code ec;
          stream->socket().cancel(ec);
        }
      }
    });
    return true;
  }

  // The answer to a failed read, if one can still be sent.
  std::optional<Response> ReadErrorResponse(const Request& head, const ReadResult& r) {
    switch (r.outcome) {
      case ReadOutcome::kOk:
      case ReadOutcome::kClosed:
        return std::nullopt;
      case ReadOutcome::kIdleTimeout:
        idle_timeouts.Add();
        return std::nullopt;
      case ReadOutcome::kHeaderTimeout:
        header_timeouts.Add();
        return std::nullopt;  // the stream closed the socket at its deadline
      case ReadOutcome::kBodyTimeout:
        body_timeouts.Add();
        return std::nullopt;
      case ReadOutcome::kMalformed:
      case ReadOutcome::kFramingTooLarge:
        framing_errors.Add();
        return MakeError(head, Status::bad_request, "bad_request", r.detail);
      case ReadOutcome::kHeaderTooLarge:
        framing_errors.Add();
        return MakeError(head, Status::request_header_fields_too_large, "header_too_large", r.detail);
      case ReadOutcome::kBodyTooLarge:
        framing_errors.Add();
        return MakeError(head, Status::payload_too_large, "payload_too_large", r.detail);
      case ReadOutcome::kOverBudget:
        budget_refusals.Add();
        return MakeError(head, Status::service_unavailable, ErrorCodeFor(absl::StatusCode::kUnavailable), r.detail);
    }
    return std::nullopt;
  }

  // Decides, from the head alone, whether to answer without reading the body:
  // the header check, then the body limit by Content-Length, then the budget.
  std::optional<Response> CheckHead(const RequestParser& parser, RequestContext& ctx, RequestLimits& limits,
                                    BodyBudget::Lease& lease) {
    const Request& head = parser.get();
    if (options.on_headers) {
      try {
        if (auto res = options.on_headers(head, ctx, limits)) return res;
      } catch (const std::exception& e) {
        spdlog::error("header check for {} {} threw: {}", std::string(head.method_string()), std::string(head.target()),
                      e.what());
        return MakeError(head, Status::internal_server_error, "internal", "internal error");
      }
    }
    if (parser.is_done()) return std::nullopt;
    if (auto length = parser.content_length()) {
      if (*length > limits.body_limit) {
        framing_errors.Add();
        return MakeError(head, Status::payload_too_large, "payload_too_large",
                         absl::StrCat("request body exceeds the limit of ", limits.body_limit, " bytes"));
      }
      if (!lease.GrowTo(*length)) {
        budget_refusals.Add();
        return MakeError(head, Status::service_unavailable, ErrorCodeFor(absl::StatusCode::kUnavailable),
                         "the server is buffering too many request bodies; retry later");
      }
    }
    return std::nullopt;
  }

  asio::awaitable<void> Session(tcp::socket socket, Clock::time_point accepted_at) {
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
      self = conns.insert(conns.end(), Conn{&stream, stream.get_executor(), false, accepted_at, false});
    }
    beast::flat_buffer buffer;
    RequestReader reader(stream, buffer,
                         FramingOptions{options.header_limit, options.max_chunk_line, uint64_t{1} << 20,
                                        options.min_body_rate, ToChrono(options.body_rate_grace)});
    const Clock::duration header_timeout = ToChrono(options.header_timeout);
    bool first = true;
    bool linger = false;
    for (;;) {
      if (stopping.load()) break;
      RequestParser parser;
      Clock::time_point first_byte_deadline =
          first ? accepted_at + header_timeout : Clock::now() + ToChrono(options.idle_timeout);
      ReadResult head_read = co_await reader.ReadHead(parser, first_byte_deadline, header_timeout, first);
      first = false;
      if (head_read.outcome != ReadOutcome::kOk) {
        if (auto res = ReadErrorResponse(DummyHead(), head_read)) {
          co_await WriteResponse(stream, DummyHead(), *res);
          linger = true;
        }
        break;
      }
      auto start = Clock::now();
      requests.Add();
      SetBusy(self, true);
      RequestContext ctx;
      ctx.remote_address = remote;
      RequestLimits limits{options.body_limit};
      BodyBudget::Lease lease(&budget);
      const bool body_pending = !parser.is_done();
      if (auto early = CheckHead(parser, ctx, limits, lease)) {
        rejected_at_headers.Add();
        if (body_pending) early->keep_alive(false);
        bool keep = co_await WriteResponse(stream, parser.get(), *early);
        Observe(parser.get(), early->result_int(), start);
        SetBusy(self, false);
        if (keep) continue;
        linger = true;
        break;
      }
      if (body_pending) {
        if (WantsContinue(parser.get())) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          stream.expires_after(ToChrono(options.read_timeout));
          auto [ec, n] = co_await asio::async_write(stream, asio::buffer(kContinue), kUseTuple);
          if (ec) break;
        }
        ReadResult body_read =
            co_await reader.ReadBody(parser, limits.body_limit, Clock::now() + ToChrono(options.read_timeout), lease);
        if (body_read.outcome != ReadOutcome::kOk) {
          if (auto res = ReadErrorResponse(parser.get(), body_read)) {
            res->keep_alive(false);
            co_await WriteResponse(stream, parser.get(), *res);
            Observe(parser.get(), res->result_int(), start);
            linger = true;
          }
          break;
        }
      }
      Request req = parser.release();
      bool keep = co_await Handle(stream, req, ctx, start);
      lease.Reset();
      SetBusy(self, false);
      if (!keep) {
        linger = true;
        break;
      }
    }
    if (linger && !stopping.load()) {
      co_await LingeringClose(stream, std::chrono::milliseconds(500), 64u << 20);
    }
    stream.close();
    open.fetch_sub(1);
    absl::MutexLock lock(&mu);
    conns.erase(self);
  }

  void Observe(const Request& req, unsigned code, Clock::time_point start) {
    if (observer) observer(req, code, absl::FromChrono(Clock::now() - start));
  }

  // Writes a complete response; returns whether to keep the connection open.
  asio::awaitable<bool> WriteResponse(beast::tcp_stream& stream, const Request& req, Response& res) {
    if (stopping.load()) res.keep_alive(false);
    bool keep = res.keep_alive();
    if (req.method() == Verb::head) {
      auto size = res.body().size();
      res.body().clear();
      res.content_length(size);
    }
    stream.expires_after(ToChrono(options.read_timeout));
    auto [ec, n] = co_await beast_http::async_write(stream, res, kUseTuple);
    co_return keep && !ec;
  }

  // Runs the handler and writes its response; returns whether to keep the
  // connection open.
  asio::awaitable<bool> Handle(beast::tcp_stream& stream, Request& req, RequestContext& ctx, Clock::time_point start) {
    StreamImpl rs(stream, stopping, options.idle_timeout);
    stream.expires_never();
    Response res;
    try {
      res = co_await handler(req, ctx, rs);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} threw: {}", std::string(req.method_string()), std::string(req.target()),
                    e.what());
      res = MakeError(req, Status::internal_server_error, "internal", "internal error");
    }
    unsigned code = 0;
    bool keep = false;
    if (rs.taken()) {
      code = 101;  // the handler (WebSocket) owned the connection; it is closed now
    } else if (rs.begun()) {
      co_await rs.Finish();
      code = 200;
    } else {
      code = res.result_int();
      keep = co_await WriteResponse(stream, req, res);
    }
    Observe(req, code, start);
    co_return keep;
  }
};

Server::Server(ServerOptions options, Handler handler, RequestObserver observer)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->handler = std::move(handler);
  impl_->observer = std::move(observer);
}

Server::~Server() { Stop(absl::ZeroDuration()); }

absl::Status Server::Start() {
  Impl& s = *impl_;
  FileLimit files = s.options.raise_file_limit ? RaiseFileLimit() : CurrentFileLimit();
  s.max_connections = s.options.max_connections > 0 ? s.options.max_connections : DefaultMaxConnections(files.soft);
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
  spdlog::debug("http server on {}:{}: at most {} connections (open-file limit {})", s.options.host, s.bound_port,
                s.max_connections, files.soft);
  asio::co_spawn(s.ioc, s.Accept(), asio::detached);
  int n = std::max(1, s.options.threads);
  for (int i = 0; i < n; ++i) s.threads.emplace_back([&s] { s.ioc.run(); });
  return absl::OkStatus();
}

uint16_t Server::port() const { return impl_->bound_port; }

bool Server::stopping() const { return impl_->stopping.load(); }

ServerStats Server::stats() const {
  const Impl& s = *impl_;
  ServerStats st;
  st.connections_open = static_cast<uint64_t>(std::max<int64_t>(0, s.open.load()));
  st.connections_accepted = s.accepted.Get();
  st.connections_refused = s.refused.Get();
  st.connections_evicted = s.evicted.Get();
  st.accept_errors = s.accept_errors.Get();
  st.requests = s.requests.Get();
  st.rejected_at_headers = s.rejected_at_headers.Get();
  st.budget_refusals = s.budget_refusals.Get();
  st.framing_errors = s.framing_errors.Get();
  st.header_timeouts = s.header_timeouts.Get();
  st.body_timeouts = s.body_timeouts.Get();
  st.idle_timeouts = s.idle_timeouts.Get();
  st.inflight_body_bytes = s.budget.used();
  st.max_connections = s.max_connections;
  return st;
}

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
