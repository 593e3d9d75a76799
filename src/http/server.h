// An HTTP/1.1 server on Boost.Beast: one coroutine per connection, a body
// limit and timeouts on every read, keep-alive, chunked streaming for SSE,
// and graceful Stop() that refuses new connections, lets in-flight requests
// finish up to a grace period, and closes idle ones. One failed connection
// never stops the server. Start/Stop from one thread; handlers run on the
// server's I/O threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "http/router.h"

namespace imagen::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port; see Server::port()
  int threads = 2;
  uint64_t body_limit = 64ull << 20;
  absl::Duration read_timeout = absl::Seconds(30);
  absl::Duration idle_timeout = absl::Seconds(60);
};

// Called after each response: method, target, status code, duration.
using RequestObserver = std::function<void(const Request&, unsigned status, absl::Duration elapsed)>;

class Server {
 public:
  Server(ServerOptions options, Handler handler, RequestObserver observer = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving; an error names the address (e.g. port in use).
  absl::Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Refuses new connections, waits up to `grace` for in-flight requests.
  void Stop(absl::Duration grace = absl::Seconds(10));
  // True once Stop() has begun.
  bool stopping() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imagen::http
