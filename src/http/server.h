// An HTTP/1.1 server on Boost.Beast: one coroutine per connection, keep-alive,
// chunked streaming for SSE, and graceful Stop() that refuses new connections,
// lets in-flight requests finish up to a grace period, and closes idle ones.
// Hardened against hostile clients: a connection cap, one deadline for the
// whole request head, a body deadline, bounded chunked framing, a header-stage
// hook that can answer (e.g. 401, 404) before any body byte is read, and a
// per-server budget of buffered body bytes. One failed connection never stops
// the server. Start/Stop from one thread; handlers and hooks run on the
// server's I/O threads; stats() is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "http/router.h"

namespace imagen::http {

// What the header-stage hook may change for one request's body.
struct RequestLimits {
  uint64_t body_limit = 0;  // starts at ServerOptions::body_limit; may be lowered or raised
};

// Called once per request after its head is parsed and before any body byte
// is read (and before `100 Continue` is sent). Return a response to answer
// with it instead of reading the body and calling the handler (e.g. 401 for a
// missing key, 404/405 for an unknown route); nullopt to go on. It may set
// `limits.body_limit` for this request, and fill `ctx`, which the handler then
// receives. `head` has an empty body. Runs on an I/O thread: must not block;
// may be called concurrently from several connections.
using HeaderCheck =
    std::function<std::optional<Response>(const Request& head, RequestContext& ctx, RequestLimits& limits)>;

// Builds the server's own error responses (400, 413, 431, 500, 503); the
// default is ErrorResponse ({"error":{"code","message"}}). A KServe port can
// pass KServeErrorResponse instead. Called on I/O threads; must be thread-safe.
using ErrorFactory =
    std::function<Response(const Request& head, Status status, std::string_view code, std::string_view message)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port; see Server::port()
  int threads = 2;
  // Largest body per request, unless the header check changes it (413).
  uint64_t body_limit = 64ull << 20;
  // Largest request head, start line and fields; head plus trailers of a
  // chunked body count against it too (431).
  uint32_t header_limit = 64 * 1024;
  // Longest chunk-size line of a chunked body, extensions included (400).
  size_t max_chunk_line = 4096;
  // The whole body must arrive within this after the head (then the
  // connection is closed); also the deadline for writing a response.
  absl::Duration read_timeout = absl::Seconds(30);
  // After body_rate_grace, a body must have arrived at this average rate
  // (bytes per second since the head) or the connection is closed; 0: off.
  uint64_t min_body_rate = 1024;
  absl::Duration body_rate_grace = absl::Seconds(5);
  // Keep-alive: how long a connection may wait for the next request's first byte.
  absl::Duration idle_timeout = absl::Seconds(60);
  // The whole request head must arrive within this, counted from the
  // connection's accept (first request) or the head's first byte (later
  // requests); not reset per byte (slowloris). Then the connection is closed.
  absl::Duration header_timeout = absl::Seconds(10);
  // Open connections at most. 0: DefaultMaxConnections() of the open-file
  // limit after raising it (half of it, at most 1024); set it when a process
  // runs several servers. When full, a new connection replaces the one that
  // has waited longest for a request head (idle keep-alive or incomplete
  // head: slowloris) if evict_idle_when_full; when every connection is busy
  // it is answered 503 with Retry-After and closed at once. (An evicted
  // keep-alive client sees its idle connection closed, as after idle_timeout.)
  int max_connections = 0;
  bool evict_idle_when_full = true;
  // Request body bytes buffered at once across all connections, each held
  // from the head until its handler returns. A request whose Content-Length
  // would not fit gets 503 with Retry-After before its body is read; a
  // chunked body that outgrows it gets 503 and is closed.
  uint64_t max_inflight_body_bytes = 256ull << 20;
  // Pause of the accept loop when accept fails for lack of descriptors or
  // memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), instead of spinning.
  absl::Duration accept_backoff = absl::Milliseconds(50);
  // Raise the soft open-file limit to the hard one in Start() (RaiseFileLimit).
  bool raise_file_limit = true;
  // See HeaderCheck; null: every request's body is read with body_limit.
  HeaderCheck on_headers;
  // See ErrorFactory; null: ErrorResponse.
  ErrorFactory error_response;
};

// Counters since Start(); a snapshot, each field read atomically.
struct ServerStats {
  uint64_t connections_open = 0;      // sessions now open (not counting refused ones)
  uint64_t connections_accepted = 0;  // sessions started
  uint64_t connections_refused = 0;   // over max_connections: answered 503 (or closed) at once
  uint64_t connections_evicted = 0;   // idle ones closed to make room when full
  uint64_t accept_errors = 0;         // failed accepts (EMFILE etc.); each fd shortage pauses the loop
  uint64_t requests = 0;              // requests whose head was read
  uint64_t rejected_at_headers = 0;   // answered before the body was read: hook, 413 by length, 503 budget
  uint64_t budget_refusals = 0;       // 503 for the in-flight body budget (at the head or mid-body)
  uint64_t framing_errors = 0;        // 400/413/431 for malformed or oversized heads, chunking, bodies
  uint64_t header_timeouts = 0;       // connections closed because a head was not complete in time
  uint64_t body_timeouts = 0;         // connections closed because a body was not complete in time
  uint64_t idle_timeouts = 0;         // keep-alive connections closed after idle_timeout
  uint64_t inflight_body_bytes = 0;   // body bytes held now against max_inflight_body_bytes
  int max_connections = 0;            // the cap in force
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
  // Counters for tests and /metrics; thread-safe.
  ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imagen::http
