// A small blocking HTTP/1.1 client on Boost.Beast for webhook deliveries:
// http:// URLs only, one request per connection, a total timeout. Also the
// URL parser and the SSRF guard that refuses loopback, private and
// link-local targets unless allowed. Thread-safe (no shared state).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace imagen::jobs {

struct Url {
  std::string scheme;  // "http"
  std::string host;
  uint16_t port = 80;
  std::string target;  // path + query, at least "/"
};
absl::StatusOr<Url> ParseUrl(const std::string& url);

struct TargetPolicy {
  bool allow_private = false;            // loopback, RFC 1918, link-local, ULA...
  std::vector<std::string> allow_hosts;  // exact hosts or IPs always allowed
};

// True for loopback, private, link-local, unspecified, multicast and
// carrier-grade NAT addresses (IPv4 and IPv6).
bool IsNonPublicAddress(const std::string& ip);
// Resolves `url`'s host and refuses it (PermissionDenied, naming the address)
// if any address is non-public and the policy does not allow it. Returns the
// resolved addresses.
absl::StatusOr<std::vector<std::string>> CheckTarget(const Url& url, const TargetPolicy& policy);

struct HttpResult {
  int status = 0;
  std::string body;
};

// POSTs `body` to `url` (already checked) with extra headers.
absl::StatusOr<HttpResult> HttpPost(const Url& url, const std::vector<std::string>& addresses,
                                    const std::map<std::string, std::string>& headers, const std::string& body,
                                    absl::Duration timeout);

}  // namespace imagen::jobs
