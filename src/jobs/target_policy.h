// Webhook targets: the URL parser and the SSRF guard. A target is resolved,
// every address is checked (refused when it is in any special-purpose range
// of the IANA IPv4/IPv6 registries unless the policy allows it), and the
// delivery connects to the checked addresses only (no second lookup, so no
// DNS rebinding). Resolution sits behind Resolver (tests inject a slow or
// scripted one) and TargetChecker runs it off the caller's thread on a small
// bounded pool with a deadline, so an HTTP I/O thread never waits for DNS.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/associated_executor.hpp"
#include "boost/asio/async_result.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/post.hpp"

namespace imagen {
class ThreadPool;
}

namespace imagen::jobs {

struct Url {
  std::string scheme;  // "http"
  std::string host;
  uint16_t port = 80;
  std::string target;  // path + query, at least "/"
};
absl::StatusOr<Url> ParseUrl(const std::string& url);

struct TargetPolicy {
  bool allow_private = false;  // every special-purpose address (loopback, RFC 1918, ...)
  // Targets allowed although non-public: "host:port" ("[v6]:port" for IPv6),
  // "host:*" for every port, or a bare "host" for port 80 only. `host` is
  // matched against the URL's host and against each resolved address.
  std::vector<std::string> allow_hosts;
};

// The special-purpose range `ip` falls in ("loopback", "NAT64", ...), or ""
// for a public unicast address. Unparsable text counts as "invalid".
std::string SpecialPurposeRange(const std::string& ip);
// True for every address outside the public unicast space.
bool IsNonPublicAddress(const std::string& ip);
// True when `policy.allow_hosts` allows `host` (a name or an address) on `port`.
bool HostAllowed(const TargetPolicy& policy, const std::string& host, uint16_t port);

class Resolver {
 public:
  virtual ~Resolver() = default;
  // The addresses (text) of `host`; may block.
  virtual absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host, uint16_t port) = 0;
};
// getaddrinfo (through Boost.Asio). Never deleted.
Resolver* SystemResolver();

// Checks resolved `addresses` of `url` against `policy`: PermissionDenied
// naming the first refused address; otherwise the addresses.
absl::StatusOr<std::vector<std::string>> CheckAddresses(const Url& url, const TargetPolicy& policy,
                                                        const std::vector<std::string>& addresses);
// Resolves (blocking, on the calling thread) and checks.
absl::StatusOr<std::vector<std::string>> CheckTarget(const Url& url, const TargetPolicy& policy,
                                                     Resolver* resolver = SystemResolver());

struct TargetCheckerOptions {
  int threads = 4;                             // concurrent lookups
  int max_pending = 256;                       // more waiting lookups: Unavailable at once
  absl::Duration deadline = absl::Seconds(5);  // a lookup not done by then: DeadlineExceeded
};

// Resolve + check off the caller's thread, with a deadline and a bound on
// waiting lookups. A lookup that outlives its deadline keeps its pool thread
// until the resolver returns (getaddrinfo cannot be cancelled); its answer is
// then dropped. The resolver must outlive the checker.
class TargetChecker {
 public:
  using Callback = std::function<void(absl::StatusOr<std::vector<std::string>>)>;
  explicit TargetChecker(Resolver* resolver = SystemResolver(), TargetCheckerOptions options = {});
  ~TargetChecker();
  TargetChecker(const TargetChecker&) = delete;
  TargetChecker& operator=(const TargetChecker&) = delete;

  // Calls `done` exactly once, on a pool thread or the deadline thread (or at
  // once, on this thread, when too many lookups wait).
  void Check(Url url, TargetPolicy policy, Callback done);
  // Check and block until it answered (delivery threads).
  absl::StatusOr<std::vector<std::string>> CheckAndWait(const Url& url, const TargetPolicy& policy);
  // The process-wide checker on the system resolver. Never deleted.
  static TargetChecker* Default();

 private:
  struct Pending;
  void DeadlineLoop();

  Resolver* resolver_;
  const TargetCheckerOptions options_;
  std::atomic<int> pending_{0};
  std::unique_ptr<ThreadPool> pool_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<Pending>> deadlines_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread deadline_thread_;
};

// Asio adapter: resolves and checks `url` on `checker` and resumes the
// awaiting coroutine on its own executor, e.g. in a REST handler:
//   auto addrs = co_await jobs::AsyncCheckTarget(checker, url, policy, boost::asio::use_awaitable);
template <typename Token>
auto AsyncCheckTarget(TargetChecker* checker, Url url, TargetPolicy policy, Token&& token) {
  return boost::asio::async_initiate<Token, void(absl::StatusOr<std::vector<std::string>>)>(
      [checker](auto handler, Url url, TargetPolicy policy) {
        auto ex = boost::asio::get_associated_executor(handler);
        auto work = boost::asio::make_work_guard(ex);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        checker->Check(std::move(url), std::move(policy),
                       [shared, work = std::move(work)](absl::StatusOr<std::vector<std::string>> r) mutable {
                         auto ex = work.get_executor();
                         boost::asio::post(ex, [shared, r = std::move(r), work = std::move(work)]() mutable {
                           std::move (*shared)(std::move(r));
                         });
                       });
      },
      token, std::move(url), std::move(policy));
}

}  // namespace imagen::jobs
