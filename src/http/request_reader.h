// Reads one HTTP/1.1 request from a connection in two steps, head then body,
// with every part bounded: the head by size and by one deadline for all of it
// (not reset per byte), the body by a per-request limit, a deadline, the
// server's in-flight byte budget, and, when chunked, by chunk-line, extension,
// trailer and framing-overhead limits. Used by Server; one per connection,
// not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "boost/asio/awaitable.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "http/body_budget.h"
#include "http/message.h"

namespace imagen::http {

using RequestParser = beast_http::request_parser<beast_http::string_body>;

enum class ReadOutcome {
  kOk,
  kClosed,           // the peer closed or reset the connection
  kIdleTimeout,      // no byte of a next request within the keep-alive timeout
  kHeaderTimeout,    // the head was not complete by its deadline
  kBodyTimeout,      // the body was not complete by its deadline
  kMalformed,        // 400
  kHeaderTooLarge,   // 431
  kFramingTooLarge,  // 400: chunk line, extension, trailers or overhead
  kBodyTooLarge,     // 413
  kOverBudget,       // 503: the server's in-flight body budget is spent
};

struct ReadResult {
  ReadOutcome outcome = ReadOutcome::kOk;
  std::string detail;  // for the error body
};

struct FramingOptions {
  uint32_t header_limit = 64 * 1024;  // head, and head + trailers
  size_t max_chunk_line = 4096;
  uint64_t max_chunk_overhead = 1 << 20;  // framing bytes beyond the payload size
  uint64_t min_body_rate = 0;             // bytes per second after the grace period; 0: off
  std::chrono::steady_clock::duration body_rate_grace{};
};

class RequestReader {
 public:
  using Clock = std::chrono::steady_clock;

  RequestReader(boost::beast::tcp_stream& stream, boost::beast::flat_buffer& buffer, FramingOptions options)
      : stream_(stream), buffer_(buffer), options_(options) {}

  // Reads the head into `parser`. The first byte must arrive by
  // `first_byte_deadline` (else kIdleTimeout, or kHeaderTimeout when
  // `first_byte_deadline` is already the head's deadline), the whole head
  // within `header_timeout` of its first byte.
  boost::asio::awaitable<ReadResult> ReadHead(RequestParser& parser, Clock::time_point first_byte_deadline,
                                              Clock::duration header_timeout, bool first_byte_is_head_deadline);

  // Reads the body after a successful ReadHead, by `deadline` and at the
  // minimum rate (kBodyTimeout otherwise). Content-Length bodies must
  // already be within `body_limit` and held by `lease`; chunked bodies grow
  // `lease` as they arrive. Trailer fields are dropped (they were not part of
  // the head that was checked).
  boost::asio::awaitable<ReadResult> ReadBody(RequestParser& parser, uint64_t body_limit, Clock::time_point deadline,
                                              BodyBudget::Lease& lease);

  // Bytes of the last head read (start line and fields).
  uint64_t head_bytes() const { return head_bytes_; }

 private:
  boost::asio::awaitable<boost::system::error_code> ReadSome(Clock::time_point deadline);

  boost::beast::tcp_stream& stream_;
  boost::beast::flat_buffer& buffer_;
  FramingOptions options_;
  uint64_t head_bytes_ = 0;
  size_t head_fields_ = 0;
};

}  // namespace imagen::http
