#include "jobs/s3_http.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <map>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "common/string_view.h"

namespace imagen::jobs {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;

std::string S3HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

namespace {

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::microseconds(absl::ToInt64Microseconds(d));
}

// One keep-alive connection; used by one thread at a time (taken from the
// pool, returned after the exchange).
struct Connection {
  asio::io_context io;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

std::string Where(const S3HttpRequest& r) { return absl::StrCat(r.tls ? "https://" : "", r.host, ":", r.port); }

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

absl::Status TransportError(const S3HttpRequest& r, std::string_view phase, const boost::system::error_code& ec,
                            const S3HttpLimits& limits) {
  if (ec == beast::error::timeout) {
    absl::Duration limit =
        phase == "connect" || phase == "TLS handshake" ? limits.connect_timeout : limits.request_timeout;
    return absl::DeadlineExceededError(
        absl::StrCat("s3: ", ToAbsl(phase), " to ", Where(r), " timed out after ", absl::FormatDuration(limit)));
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    return absl::FailedPreconditionError(
        absl::StrCat("s3: TLS with ", Where(r), " failed: ", ec.message(),
                     " (check the endpoint's certificate, its host name, and the trusted CA file)"));
  }
  if (ec == bhttp::error::body_limit) {
    return absl::ResourceExhaustedError(
        absl::StrCat("s3: response from ", Where(r), " is larger than the limit of ", limits.max_body, " bytes"));
  }
  return absl::UnavailableError(absl::StrCat("s3: ", ToAbsl(phase), " to ", Where(r), " failed: ", ec.message()));
}

class BeastTransport final : public S3Transport {
 public:
  BeastTransport(int max_idle, ssl::context tls_context) : max_idle_(max_idle), tls_context_(std::move(tls_context)) {}

  absl::StatusOr<S3HttpResponse> Send(const S3HttpRequest& request, const S3HttpLimits& limits) override {
    std::string key = absl::StrCat(Where(request), request.tls ? "/tls" : "");
    std::unique_ptr<Connection> conn = TakeIdle(key);
    bool reused = conn != nullptr;
    bool keep_alive = false;
    absl::StatusOr<S3HttpResponse> result;
    if (!reused) {
      auto fresh = Connect(request, limits);
      if (!fresh.ok()) return fresh.status();
      conn = *std::move(fresh);
    }
    result = Exchange(*conn, request, limits, &keep_alive);
    // A pooled connection the server has closed fails at once; that says
    // nothing about the server, so try again on a new connection.
    if (!result.ok() && reused && absl::IsUnavailable(result.status())) {
      auto fresh = Connect(request, limits);
      if (!fresh.ok()) return fresh.status();
      conn = *std::move(fresh);
      result = Exchange(*conn, request, limits, &keep_alive);
    }
    if (result.ok() && keep_alive) PutIdle(key, std::move(conn));
    return result;
  }

 private:
  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    std::unique_ptr<Connection> c = std::move(it->second.back());
    it->second.pop_back();
    --idle_count_;
    return c;
  }

  void PutIdle(const std::string& key, std::unique_ptr<Connection> conn) {
    absl::MutexLock lock(&mu_);
    if (idle_count_ >= max_idle_) return;  // closes it
    idle_[key].push_back(std::move(conn));
    ++idle_count_;
  }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(const S3HttpRequest& r, const S3HttpLimits& limits) {
    try {
      auto conn = std::make_unique<Connection>();
      if (r.tls) {
        conn->tls.emplace(conn->io, tls_context_);
        SSL* native = conn->tls->native_handle();
        bool ip = IsIpLiteral(r.host);
        // SNI for names; the certificate must match the name or the address.
        if (!ip) SSL_set_tlsext_host_name(native, r.host.c_str());
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), r.host.c_str())
                    : SSL_set1_host(native, r.host.c_str());
        if (ok != 1) return absl::InternalError(absl::StrCat("s3: cannot set TLS peer name ", r.host));
      } else {
        conn->plain.emplace(conn->io);
      }
      asio::ip::tcp::resolver resolver(conn->io);
      boost::system::error_code ec;
      auto endpoints = resolver.resolve(r.host, std::to_string(r.port), ec);
      if (ec) return absl::UnavailableError(absl::StrCat("s3: cannot resolve '", r.host, "': ", ec.message()));
      boost::system::error_code result_ec;
      std::string_view phase = "connect";
      conn->tcp().expires_after(ToChrono(limits.connect_timeout));
      conn->tcp().async_connect(endpoints, [&](boost::system::error_code cec, const asio::ip::tcp::endpoint&) {
        result_ec = cec;
        if (cec || !conn->tls) return;
        phase = "TLS handshake";
        conn->tls->async_handshake(ssl::stream_base::client, [&](boost::system::error_code hec) { result_ec = hec; });
      });
      conn->io.run();
      if (result_ec) return TransportError(r, phase, result_ec, limits);
      conn->tcp().expires_never();
      conn->tcp().socket().set_option(asio::ip::tcp::no_delay(true), ec);
      return conn;
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("s3: connect to ", Where(r), " failed: ", e.what()));
    }
  }

  absl::StatusOr<S3HttpResponse> Exchange(Connection& c, const S3HttpRequest& r, const S3HttpLimits& limits,
                                          bool* keep_alive) {
    try {
      bhttp::request<bhttp::string_body> req;
      req.method_string(r.method);
      req.target(r.target);
      req.version(11);
      for (const auto& [k, v] : r.headers) req.insert(k, v);
      req.set(bhttp::field::user_agent, "imagen-s3/1");
      req.body().assign(r.body.data(), r.body.size());
      req.prepare_payload();
      if (r.body.empty() && (r.method == "PUT" || r.method == "POST")) req.set(bhttp::field::content_length, "0");

      bhttp::response_parser<bhttp::string_body> parser;
      parser.header_limit(64 << 10);
      parser.body_limit(limits.max_body);
      if (limits.head) parser.skip(true);

      boost::system::error_code result_ec;
      std::string_view phase = "request";
      auto exchange = [&](auto& stream) {
        bhttp::async_write(stream, req, [&](boost::system::error_code wec, size_t) {
          if (wec) {
            result_ec = wec;
            return;
          }
          phase = "response";
          bhttp::async_read(stream, c.buffer, parser, [&](boost::system::error_code rec, size_t) { result_ec = rec; });
        });
      };
      c.io.restart();
      c.tcp().expires_after(ToChrono(limits.request_timeout));
      if (c.tls) {
        exchange(*c.tls);
      } else {
        exchange(*c.plain);
      }
      c.io.run();
      if (result_ec) return TransportError(r, phase, result_ec, limits);
      c.tcp().expires_never();
      auto& res = parser.get();
      S3HttpResponse out;
      out.status = static_cast<int>(res.result_int());
      for (const auto& field : res) {
        out.headers.emplace_back(absl::AsciiStrToLower(ToAbsl(std::string_view(field.name_string()))),
                                 std::string(field.value()));
      }
      out.body = std::move(res.body());
      *keep_alive = res.keep_alive();
      return out;
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("s3: request to ", Where(r), " failed: ", e.what()));
    }
  }

  const int max_idle_;
  ssl::context tls_context_;  // configured once, then only read
  absl::Mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_ ABSL_GUARDED_BY(mu_);
  int idle_count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<S3Transport>> NewBeastS3Transport(int max_idle, const S3TlsOptions& tls) {
  ssl::context context(ssl::context::tls_client);
  boost::system::error_code ec;
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                      ec);
  if (tls.ca_file.empty()) {
    context.set_default_verify_paths(ec);
  } else {
    context.load_verify_file(tls.ca_file, ec);
  }
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("s3: cannot load the trusted certificates ",
                                                   tls.ca_file.empty() ? "(system store)" : tls.ca_file, ": ",
                                                   ec.message()));
  }
  context.set_verify_mode(ssl::verify_peer);
  return std::unique_ptr<S3Transport>(std::make_unique<BeastTransport>(max_idle, std::move(context)));
}

}  // namespace imagen::jobs
