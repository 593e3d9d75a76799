// A small blocking HTTP/1.1 client on Boost.Beast for webhook deliveries:
// http:// URLs only, one request per connection, a total timeout, connecting
// only to addresses the SSRF guard checked (jobs/target_policy.h). Thread-safe
// (no shared state).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jobs/target_policy.h"

namespace imagen::jobs {

struct HttpResult {
  int status = 0;
  std::string body;
};

// POSTs `body` to `url` (already checked) with extra headers.
absl::StatusOr<HttpResult> HttpPost(const Url& url, const std::vector<std::string>& addresses,
                                    const std::map<std::string, std::string>& headers, const std::string& body,
                                    absl::Duration timeout);

}  // namespace imagen::jobs
