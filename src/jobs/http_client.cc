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

absl::StatusOr<Url> ParseUrl(const std::string& url) {
  Url out;
  size_t p = url.find("://");
  if (p == std::string::npos) return absl::InvalidArgumentError("webhook_url must be an absolute http:// URL");
  out.scheme = absl::AsciiStrToLower(ToAbsl(std::string_view(url).substr(0, p)));
  if (out.scheme != "http") {
    return absl::InvalidArgumentError(
        absl::StrCat("webhook_url scheme '", out.scheme, "' is not supported (http only)"));
  }
  std::string rest = url.substr(p + 3);
  size_t slash = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (size_t hash = out.target.find('#'); hash != std::string::npos) out.target.resize(hash);
  if (out.target.empty() || out.target[0] != '/') out.target = "/" + out.target;
  if (authority.find('@') != std::string::npos)
    return absl::InvalidArgumentError("webhook_url must not carry userinfo");
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return absl::InvalidArgumentError("webhook_url has a malformed IPv6 host");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return absl::InvalidArgumentError("webhook_url has a malformed host");
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return absl::InvalidArgumentError("webhook_url has no host");
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("webhook_url contains control characters or spaces");
    }
  }
  if (!port.empty()) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(ToAbsl(port), &n) || n == 0 || n > 65535) {
      return absl::InvalidArgumentError("webhook_url has a bad port");
    }
    out.port = static_cast<uint16_t>(n);
  }
  return out;
}

bool IsNonPublicAddress(const std::string& ip) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(ip, ec);
  if (ec) return true;
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  }
  if (addr.is_v4()) {
    auto b = addr.to_v4().to_bytes();
    if (b[0] == 0 || b[0] == 10 || b[0] == 127) return true;
    if (b[0] == 169 && b[1] == 254) return true;
    if (b[0] == 172 && (b[1] & 0xf0) == 16) return true;
    if (b[0] == 192 && b[1] == 168) return true;
    if (b[0] == 100 && (b[1] & 0xc0) == 64) return true;
    if (b[0] >= 224) return true;  // multicast, reserved, broadcast
    return false;
  }
  auto v6 = addr.to_v6();
  auto b = v6.to_bytes();
  if (v6.is_loopback() || v6.is_unspecified() || v6.is_link_local() || v6.is_multicast() || v6.is_site_local()) {
    return true;
  }
  if ((b[0] & 0xfe) == 0xfc) return true;  // fc00::/7 unique local
  return false;
}

absl::StatusOr<std::vector<std::string>> CheckTarget(const Url& url, const TargetPolicy& policy) {
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot resolve webhook host '", url.host, "': ", ec.message()));
  bool host_allowed = policy.allow_private || std::find(policy.allow_hosts.begin(), policy.allow_hosts.end(),
                                                        url.host) != policy.allow_hosts.end();
  std::vector<std::string> out;
  for (const auto& r : results) {
    std::string ip = r.endpoint().address().to_string();
    bool allowed =
        host_allowed || std::find(policy.allow_hosts.begin(), policy.allow_hosts.end(), ip) != policy.allow_hosts.end();
    if (!allowed && IsNonPublicAddress(ip)) {
      return absl::PermissionDeniedError(absl::StrCat("webhook_url host '", url.host, "' resolves to ", ip,
                                                      ", a loopback/private/link-local address, which is not allowed"));
    }
    out.push_back(ip);
  }
  if (out.empty()) return absl::UnavailableError(absl::StrCat("webhook host '", url.host, "' has no address"));
  return out;
}

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
