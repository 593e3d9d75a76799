// The S3 client's seam to the network: one HTTP/1.1 exchange per call. The
// Beast implementation keeps a small pool of keep-alive connections (plain
// TCP or TLS through OpenSSL, certificate and host name verified), with a
// connect timeout and a per-request timeout, and retries once on a fresh
// connection when a pooled one turns out to be closed. Tests swap in a fake
// to script answers. Implementations are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jobs/sigv4.h"

namespace imagen::jobs {

struct S3HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string host;    // where to connect
  uint16_t port = 80;
  bool tls = false;    // https: TLS, SNI and certificate checked for `host`
  std::string target;  // encoded path and query, as signed
  KeyValues headers;   // including Host and the signature headers
  std::string_view body;
};

struct S3HttpResponse {
  int status = 0;
  KeyValues headers;  // names in lower case
  std::string body;
  // First value of header `name` (lower case), or "".
  std::string Header(std::string_view name) const;
};

struct S3HttpLimits {
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(60);
  size_t max_body = size_t{1} << 30;
  bool head = false;  // response to HEAD: no body follows the headers
};

class S3Transport {
 public:
  virtual ~S3Transport() = default;
  // One exchange. Failures: Unavailable (cannot connect, reset),
  // DeadlineExceeded (a timeout), ResourceExhausted (body over max_body),
  // FailedPrecondition (TLS handshake refused, e.g. an untrusted certificate).
  virtual absl::StatusOr<S3HttpResponse> Send(const S3HttpRequest& request, const S3HttpLimits& limits) = 0;
};

struct S3TlsOptions {
  std::string ca_file;  // PEM bundle to trust; empty: the system's trust store
};

// HTTP/1.1 over Boost.Beast (TLS via OpenSSL for requests with `tls`), with
// at most `max_idle` idle keep-alive connections kept. Fails only when the
// CA file cannot be loaded.
absl::StatusOr<std::unique_ptr<S3Transport>> NewBeastS3Transport(int max_idle, const S3TlsOptions& tls = {});

}  // namespace imagen::jobs
