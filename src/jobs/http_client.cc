#include "jobs/http_client.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/string_view.h"

namespace imagen::jobs {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

absl::StatusOr<HttpResult> HttpPost(const Url& url, const std::vector<std::string>& addresses,
                                    const std::map<std::string, std::string>& headers, const std::string& body,
                                    absl::Duration timeout) {
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    auto deadline = std::chrono::microseconds(absl::ToInt64Microseconds(timeout));
    std::vector<asio::ip::tcp::endpoint> endpoints;
    for (const auto& a : addresses) endpoints.emplace_back(asio::ip::make_address(a), url.port);
    HttpResult out;
    boost::system::error_code result_ec;
    stream.expires_after(deadline);
    stream.async_connect(endpoints, [&](boost::system::error_code ec, const asio::ip::tcp::endpoint&) {
      if (ec) {
        result_ec = ec;
        return;
      }
      auto req = std::make_shared<bhttp::request<bhttp::string_body>>(bhttp::verb::post, url.target, 11);
      req->set(bhttp::field::host, url.port == 80 ? url.host : absl::StrCat(url.host, ":", url.port));
      req->set(bhttp::field::user_agent, "imagen-webhooks/1");
      req->set(bhttp::field::content_type, "application/json");
      for (const auto& [k, v] : headers) req->set(k, v);
      req->body() = body;
      req->prepare_payload();
      bhttp::async_write(stream, *req, [&, req](boost::system::error_code wec, size_t) {
        if (wec) {
          result_ec = wec;
          return;
        }
        auto buf = std::make_shared<beast::flat_buffer>();
        auto res = std::make_shared<bhttp::response_parser<bhttp::string_body>>();
        res->body_limit(1 << 20);
        bhttp::async_read(stream, *buf, *res, [&, buf, res](boost::system::error_code rec, size_t) {
          if (rec) {
            result_ec = rec;
            return;
          }
          out.status = static_cast<int>(res->get().result_int());
          out.body = res->get().body().substr(0, 512);
        });
      });
    });
    io.run();
    if (result_ec) {
      if (result_ec == beast::error::timeout) return absl::DeadlineExceededError("webhook receiver timed out");
      return absl::UnavailableError(absl::StrCat("webhook delivery failed: ", result_ec.message()));
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    return out;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("webhook delivery failed: ", e.what()));
  }
}

}  // namespace imagen::jobs
