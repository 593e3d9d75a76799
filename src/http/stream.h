// ResponseStream lets a handler send a response incrementally (chunked
// transfer), for Server-Sent Events and other long-lived responses. A handler
// that calls Begin() owns the connection's output until it returns; the
// Response it returns is then ignored. Not thread-safe: use from the handler's
// coroutine only.
#pragma once

#include <string_view>

#include "boost/asio/awaitable.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "http/message.h"

namespace imagen::http {

class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Sends the status line and headers of `head` (its body is ignored) with
  // chunked transfer encoding. Returns false when the peer is gone.
  virtual boost::asio::awaitable<bool> Begin(Response head) = 0;
  // Sends one chunk. Returns false when the peer is gone or the server stops.
  virtual boost::asio::awaitable<bool> Write(std::string_view data) = 0;
  virtual bool begun() const = 0;
  // True once the server is shutting down; long-lived handlers should return.
  virtual bool stopping() const = 0;
  // Hands the connection to the handler (a WebSocket upgrade): the server
  // writes nothing more on it and closes it once the handler returns (the
  // Response it returns is ignored). Call before Begin(). nullptr when the
  // server does not support it.
  virtual boost::beast::tcp_stream* TakeOver() { return nullptr; }
};

}  // namespace imagen::http
