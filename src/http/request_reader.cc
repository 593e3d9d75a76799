#include "http/request_reader.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "boost/asio/as_tuple.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "http/chunk_guard.h"

namespace imagen::http {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadSize = 16 * 1024;

bool IsPeerGone(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == asio::error::broken_pipe || ec == asio::error::not_connected || ec == asio::error::bad_descriptor;
}

std::string_view Pending(const beast::flat_buffer& buffer) {
  auto data = buffer.data();
  return {static_cast<const char*>(data.data()), data.size()};
}

}  // namespace

asio::awaitable<boost::system::error_code> RequestReader::ReadSome(Clock::time_point deadline) {
  stream_.expires_at(deadline);
  auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadSize), kUseTuple);
  buffer_.commit(n);
  co_return ec;
}

asio::awaitable<ReadResult> RequestReader::ReadHead(RequestParser& parser, Clock::time_point first_byte_deadline,
                                                    Clock::duration header_timeout, bool first_byte_is_head_deadline) {
  parser.eager(false);
  parser.header_limit(options_.header_limit);
  parser.body_limit(boost::none);  // checked after the header stage, against the request's own limit
  head_bytes_ = 0;
  bool started = false;
  Clock::time_point deadline = first_byte_deadline;
  for (;;) {
    if (buffer_.size() > 0) {
      if (!started) {
        started = true;
        if (!first_byte_is_head_deadline) deadline = Clock::now() + header_timeout;
      }
      boost::system::error_code ec;
      size_t n = parser.put(buffer_.data(), ec);
      buffer_.consume(n);
      head_bytes_ += n;
      if (ec == beast_http::error::header_limit) {
        co_return ReadResult{ReadOutcome::kHeaderTooLarge,
                             absl::StrCat("request head exceeds ", options_.header_limit, " bytes")};
      }
      if (ec && ec != beast_http::error::need_more) {
        co_return ReadResult{ReadOutcome::kMalformed, "malformed HTTP request: " + ec.message()};
      }
      if (parser.is_header_done()) {
        const auto& fields = parser.get().base();
        head_fields_ = static_cast<size_t>(std::distance(fields.begin(), fields.end()));
        co_return ReadResult{};
      }
    }
    boost::system::error_code ec = co_await ReadSome(deadline);
    if (ec == beast::error::timeout) {
      bool head = started || first_byte_is_head_deadline;
      co_return ReadResult{head ? ReadOutcome::kHeaderTimeout : ReadOutcome::kIdleTimeout, ""};
    }
    if (ec) co_return ReadResult{ReadOutcome::kClosed, ec.message()};
  }
}

asio::awaitable<ReadResult> RequestReader::ReadBody(RequestParser& parser, uint64_t body_limit,
                                                    Clock::time_point deadline, BodyBudget::Lease& lease) {
  parser.body_limit(body_limit);
  parser.eager(true);
  const bool chunked = parser.chunked();
  const uint64_t trailer_limit = options_.header_limit > head_bytes_ ? options_.header_limit - head_bytes_ : 0;

  // Exact checks on complete chunk lines; Beast calls these before it parses
  // the chunk's data or the trailer fields. `fed_end` bounds the view given
  // to the parser, in which the extensions and the trailers lie.
  ReadResult framing_error;
  const char* fed_end = nullptr;
  auto on_chunk_header = [&](uint64_t size, beast::string_view beast_ext, boost::system::error_code& ec) {
    std::string_view ext(beast_ext.data(), beast_ext.size());
    if (ext.size() > options_.max_chunk_line) {
      framing_error = {ReadOutcome::kFramingTooLarge,
                       absl::StrCat("chunk-size line exceeds ", options_.max_chunk_line, " bytes")};
      ec = beast_http::error::bad_chunk_extension;
      return;
    }
    if (size == 0) {
      std::string_view rest(ext.data() + ext.size(), static_cast<size_t>(fed_end - (ext.data() + ext.size())));
      size_t trailers = TrailerSectionSize(rest);
      if (trailers != std::string_view::npos && trailers > trailer_limit) {
        framing_error = {ReadOutcome::kHeaderTooLarge,
                         absl::StrCat("request head and trailers exceed ", options_.header_limit, " bytes")};
        ec = beast_http::error::header_limit;
      }
    }
  };
  if (chunked) parser.on_chunk_header(on_chunk_header);

  const ChunkLimits chunk_limits{options_.max_chunk_line, static_cast<size_t>(trailer_limit)};
  const Clock::time_point start = Clock::now();
  uint64_t wire = 0;
  uint64_t received = buffer_.size();  // body bytes that came with the head count for the rate
  for (;;) {
    if (buffer_.size() > 0) {
      std::string_view fed = Pending(buffer_);
      fed_end = fed.data() + fed.size();
      boost::system::error_code ec;
      size_t n = parser.put(buffer_.data(), ec);
      buffer_.consume(n);
      wire += n;
      if (ec == beast_http::error::need_more) ec = {};
      if (ec) {
        if (framing_error.outcome != ReadOutcome::kOk) co_return framing_error;
        if (ec == beast_http::error::body_limit) {
          co_return ReadResult{ReadOutcome::kBodyTooLarge,
                               absl::StrCat("request body exceeds the limit of ", body_limit, " bytes")};
        }
        co_return ReadResult{ReadOutcome::kMalformed, "malformed HTTP request: " + ec.message()};
      }
      if (chunked) {
        uint64_t payload = parser.get().body().size();
        if (!lease.GrowTo(payload)) {
          co_return ReadResult{ReadOutcome::kOverBudget, "the server is buffering too many request bodies"};
        }
        if (wire - std::min(wire, payload) > payload + options_.max_chunk_overhead) {
          co_return ReadResult{ReadOutcome::kFramingTooLarge, "chunked framing overhead too large"};
        }
      }
      if (parser.is_done()) break;
      if (chunked) {
        switch (CheckPendingChunkBytes(Pending(buffer_), chunk_limits)) {
          case ChunkVerdict::kOk:
            break;
          case ChunkVerdict::kLineTooLong:
            co_return ReadResult{ReadOutcome::kFramingTooLarge,
                                 absl::StrCat("chunk-size line exceeds ", options_.max_chunk_line, " bytes")};
          case ChunkVerdict::kTrailersTooLarge:
            co_return ReadResult{ReadOutcome::kHeaderTooLarge,
                                 absl::StrCat("request head and trailers exceed ", options_.header_limit, " bytes")};
        }
      }
    }
    Clock::time_point read_deadline = deadline;
    if (options_.min_body_rate > 0) {
      // The next byte must come before the average rate falls below the floor.
      auto at_rate = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(received) / static_cast<double>(options_.min_body_rate)));
      read_deadline = std::min(read_deadline, start + std::max(options_.body_rate_grace, at_rate));
      if (read_deadline <= Clock::now())
        co_return ReadResult{ReadOutcome::kBodyTimeout, "body slower than the minimum rate"};
    }
    size_t before = buffer_.size();
    boost::system::error_code ec = co_await ReadSome(read_deadline);
    received += buffer_.size() - before;
    if (ec == beast::error::timeout) co_return ReadResult{ReadOutcome::kBodyTimeout, ""};
    if (ec && IsPeerGone(ec)) co_return ReadResult{ReadOutcome::kClosed, ec.message()};
    if (ec) co_return ReadResult{ReadOutcome::kMalformed, "malformed HTTP request: " + ec.message()};
  }
  if (chunked) {
    // Trailer fields were appended to the head; drop them.
    auto& fields = parser.get().base();
    auto it = fields.begin();
    for (size_t i = 0; i < head_fields_ && it != fields.end(); ++i) ++it;
    while (it != fields.end()) it = fields.erase(it);
  }
  co_return ReadResult{};
}

}  // namespace imagen::http
