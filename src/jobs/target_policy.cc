#include "jobs/target_policy.h"

#include <algorithm>
#include <array>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "common/logging.h"
#include "common/string_view.h"
#include "common/thread_pool.h"

namespace imagen::jobs {

namespace asio = boost::asio;

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
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return absl::InvalidArgumentError("webhook_url host must be ASCII (IDNA) without spaces");
    }
  }
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

namespace {

struct Range {
  std::array<uint8_t, 16> prefix;  // IPv4: the first 4 bytes
  int bits;
  const char* name;
};

constexpr std::array<uint8_t, 16> V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
}
constexpr std::array<uint8_t, 16> V6(uint16_t a, uint16_t b = 0, uint16_t c = 0, uint16_t d = 0) {
  return {static_cast<uint8_t>(a >> 8),
          static_cast<uint8_t>(a),
          static_cast<uint8_t>(b >> 8),
          static_cast<uint8_t>(b),
          static_cast<uint8_t>(c >> 8),
          static_cast<uint8_t>(c),
          static_cast<uint8_t>(d >> 8),
          static_cast<uint8_t>(d),
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          0};
}

// IANA IPv4 Special-Purpose Address Registry, plus multicast and the
// reserved class E space. Every entry is refused, including the ones the
// registry marks globally reachable (AS112, AMT, 6to4 relays): no webhook
// receiver lives there.
constexpr Range kV4[] = {
    {V4(0, 0, 0, 0), 8, "this network (0.0.0.0/8)"},
    {V4(10, 0, 0, 0), 8, "private (10.0.0.0/8)"},
    {V4(100, 64, 0, 0), 10, "shared address space / CGNAT (100.64.0.0/10)"},
    {V4(127, 0, 0, 0), 8, "loopback (127.0.0.0/8)"},
    {V4(169, 254, 0, 0), 16, "link-local (169.254.0.0/16)"},
    {V4(172, 16, 0, 0), 12, "private (172.16.0.0/12)"},
    {V4(192, 0, 0, 0), 24, "IETF protocol assignments (192.0.0.0/24)"},
    {V4(192, 0, 2, 0), 24, "documentation TEST-NET-1 (192.0.2.0/24)"},
    {V4(192, 31, 196, 0), 24, "AS112-v4 (192.31.196.0/24)"},
    {V4(192, 52, 193, 0), 24, "AMT (192.52.193.0/24)"},
    {V4(192, 88, 99, 0), 24, "6to4 relay anycast (192.88.99.0/24)"},
    {V4(192, 168, 0, 0), 16, "private (192.168.0.0/16)"},
    {V4(192, 175, 48, 0), 24, "AS112 direct delegation (192.175.48.0/24)"},
    {V4(198, 18, 0, 0), 15, "benchmarking (198.18.0.0/15)"},
    {V4(198, 51, 100, 0), 24, "documentation TEST-NET-2 (198.51.100.0/24)"},
    {V4(203, 0, 113, 0), 24, "documentation TEST-NET-3 (203.0.113.0/24)"},
    {V4(224, 0, 0, 0), 4, "multicast (224.0.0.0/4)"},
    {V4(240, 0, 0, 0), 4, "reserved / broadcast (240.0.0.0/4)"},
};

// IANA IPv6 Special-Purpose Address Registry; anything outside 2000::/3
// (global unicast) is refused after these.
constexpr Range kV6[] = {
    {V6(0), 128, "unspecified (::/128)"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback (::1/128)"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}, 96, "IPv4-mapped (::ffff:0:0/96)"},
    {V6(0), 96, "IPv4-compatible (::/96)"},
    {V6(0x64, 0xff9b), 96, "NAT64 (64:ff9b::/96)"},
    {V6(0x64, 0xff9b, 1), 48, "local-use NAT64 (64:ff9b:1::/48)"},
    {V6(0x100), 64, "discard-only (100::/64)"},
    {V6(0x2001, 0), 32, "Teredo (2001::/32)"},
    {V6(0x2001, 0), 23, "IETF protocol assignments (2001::/23)"},
    {V6(0x2001, 0xdb8), 32, "documentation (2001:db8::/32)"},
    {V6(0x2002), 16, "6to4 (2002::/16)"},
    {V6(0x2620, 0x4f, 0x8000), 48, "AS112-v6 direct delegation (2620:4f:8000::/48)"},
    {V6(0x3fff), 20, "documentation (3fff::/20)"},
    {V6(0x5f00), 16, "SRv6 SIDs (5f00::/16)"},
    {V6(0xfc00), 7, "unique local (fc00::/7)"},
    {V6(0xfe80), 10, "link-local (fe80::/10)"},
    {V6(0xfec0), 10, "site-local (fec0::/10)"},
    {V6(0xff00), 8, "multicast (ff00::/8)"},
};

bool InPrefix(const uint8_t* addr, const std::array<uint8_t, 16>& prefix, int bits) {
  for (int i = 0; i < bits; ++i) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((addr[byte] >> bit) & 1) != ((prefix[byte] >> bit) & 1)) return false;
  }
  return true;
}

// "host" / "host:port" / "host:*" / "[v6]:port"; port 0 = any.
struct AllowEntry {
  std::string host;
  int port = 80;
};
std::optional<AllowEntry> ParseAllowEntry(std::string_view e) {
  AllowEntry out;
  std::string port;
  if (!e.empty() && e.front() == '[') {
    size_t close = e.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(e.substr(1, close - 1));
    if (close + 1 < e.size()) {
      if (e[close + 1] != ':') return std::nullopt;
      port = std::string(e.substr(close + 2));
    }
  } else if (std::count(e.begin(), e.end(), ':') == 1) {
    size_t colon = e.find(':');
    out.host = std::string(e.substr(0, colon));
    port = std::string(e.substr(colon + 1));
  } else {
    out.host = std::string(e);  // a name, an IPv4 address or a bare IPv6 address
  }
  if (port == "*") {
    out.port = 0;
  } else if (!port.empty()) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(ToAbsl(port), &n) || n == 0 || n > 65535) return std::nullopt;
    out.port = static_cast<int>(n);
  }
  return out;
}

// Addresses compare in canonical form, names case-insensitively.
std::string Canonical(const std::string& host) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (!ec) return addr.to_string();
  return absl::AsciiStrToLower(ToAbsl(host));
}

class AsioResolver final : public Resolver {
 public:
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host, uint16_t port) override {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot resolve webhook host '", host, "': ", ec.message()));
    std::vector<std::string> out;
    for (const auto& r : results) out.push_back(r.endpoint().address().to_string());
    return out;
  }
};

}  // namespace

std::string SpecialPurposeRange(const std::string& ip) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(ip, ec);
  if (ec) return "invalid";
  if (addr.is_v4()) {
    auto b = addr.to_v4().to_bytes();
    for (const Range& r : kV4) {
      if (InPrefix(b.data(), r.prefix, r.bits)) return r.name;
    }
    return "";
  }
  auto b = addr.to_v6().to_bytes();
  for (const Range& r : kV6) {
    if (InPrefix(b.data(), r.prefix, r.bits)) return r.name;
  }
  if ((b[0] & 0xe0) != 0x20) return "not global unicast (outside 2000::/3)";
  return "";
}

bool IsNonPublicAddress(const std::string& ip) { return !SpecialPurposeRange(ip).empty(); }

bool HostAllowed(const TargetPolicy& policy, const std::string& host, uint16_t port) {
  std::string want = Canonical(host);
  for (const std::string& text : policy.allow_hosts) {
    auto e = ParseAllowEntry(text);
    if (!e || (e->port != 0 && e->port != port)) continue;
    if (Canonical(e->host) == want) return true;
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> CheckAddresses(const Url& url, const TargetPolicy& policy,
                                                        const std::vector<std::string>& addresses) {
  bool host_allowed = policy.allow_private || HostAllowed(policy, url.host, url.port);
  std::vector<std::string> out;
  for (const std::string& ip : addresses) {
    std::string range = SpecialPurposeRange(ip);
    if (range == "invalid") return absl::UnavailableError(absl::StrCat("resolver returned '", ip, "'"));
    if (!range.empty() && !host_allowed && !HostAllowed(policy, ip, url.port)) {
      return absl::PermissionDeniedError(absl::StrCat("webhook_url host '", url.host, "' resolves to ", ip, ", a ",
                                                      range, " address, which is not allowed"));
    }
    out.push_back(boost::asio::ip::make_address(ip).to_string());
  }
  if (out.empty()) return absl::UnavailableError(absl::StrCat("webhook host '", url.host, "' has no address"));
  return out;
}

Resolver* SystemResolver() {
  static Resolver* r = new AsioResolver();
  return r;
}

absl::StatusOr<std::vector<std::string>> CheckTarget(const Url& url, const TargetPolicy& policy, Resolver* resolver) {
  absl::StatusOr<std::vector<std::string>> addresses = [&]() -> absl::StatusOr<std::vector<std::string>> {
    // A literal address needs no lookup.
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(url.host, ec);
    if (!ec) return std::vector<std::string>{addr.to_string()};
    return resolver->Resolve(url.host, url.port);
  }();
  if (!addresses.ok()) return addresses.status();
  return CheckAddresses(url, policy, *addresses);
}

// ---------------------------------------------------------------- TargetChecker

struct TargetChecker::Pending {
  std::atomic<bool> answered{false};
  absl::Time deadline;
  Callback done;
  // True for the one caller that gets to answer.
  bool Claim() { return !answered.exchange(true); }
};

TargetChecker::TargetChecker(Resolver* resolver, TargetCheckerOptions options)
    : resolver_(resolver),
      options_(options),
      pool_(std::make_unique<ThreadPool>(std::max(1, options.threads), "webhook-dns")) {
  deadline_thread_ = std::thread([this] { DeadlineLoop(); });
}

TargetChecker::~TargetChecker() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  deadline_thread_.join();
  pool_.reset();  // waits for lookups still running
}

TargetChecker* TargetChecker::Default() {
  static TargetChecker* checker = new TargetChecker(SystemResolver());
  return checker;
}

void TargetChecker::Check(Url url, TargetPolicy policy, Callback done) {
  if (pending_.fetch_add(1) >= options_.max_pending) {
    pending_.fetch_sub(1);
    done(absl::UnavailableError("too many webhook host lookups in progress; retry later"));
    return;
  }
  auto p = std::make_shared<Pending>();
  p->deadline = absl::Now() + options_.deadline;
  p->done = std::move(done);
  {
    absl::MutexLock lock(&mu_);
    deadlines_.push_back(p);
  }
  bool queued = pool_->Submit([this, p, url = std::move(url), policy = std::move(policy)] {
    absl::StatusOr<std::vector<std::string>> r = absl::InternalError("webhook host lookup threw");
    if (!p->answered.load()) {  // not timed out while it waited for a thread
      try {
        r = CheckTarget(url, policy, resolver_);
      } catch (const std::exception& e) {
        r = absl::InternalError(absl::StrCat("webhook host lookup: ", e.what()));
      }
    }
    pending_.fetch_sub(1);
    if (!p->Claim()) return;  // the deadline answered
    try {
      p->done(std::move(r));
    } catch (...) {
      spdlog::error("webhook host lookup: a callback threw");
    }
  });
  if (!queued && p->Claim()) {
    pending_.fetch_sub(1);
    p->done(absl::UnavailableError("webhook host lookups are shutting down"));
  }
}

absl::StatusOr<std::vector<std::string>> TargetChecker::CheckAndWait(const Url& url, const TargetPolicy& policy) {
  auto result = std::make_shared<absl::StatusOr<std::vector<std::string>>>();
  auto ready = std::make_shared<absl::Notification>();
  Check(url, policy, [result, ready](absl::StatusOr<std::vector<std::string>> r) {
    *result = std::move(r);
    ready->Notify();
  });
  ready->WaitForNotification();
  return *result;
}

void TargetChecker::DeadlineLoop() {
  for (;;) {
    std::vector<std::shared_ptr<Pending>> expired;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      absl::Time now = absl::Now();
      absl::Time next = now + absl::Milliseconds(100);
      for (auto it = deadlines_.begin(); it != deadlines_.end();) {
        if ((*it)->answered.load()) {
          it = deadlines_.erase(it);
        } else if ((*it)->deadline <= now) {
          expired.push_back(*it);
          it = deadlines_.erase(it);
        } else {
          next = std::min(next, (*it)->deadline);
          ++it;
        }
      }
      if (expired.empty()) mu_.AwaitWithDeadline(absl::Condition(&stop_), next);
    }
    for (auto& p : expired) {
      if (!p->Claim()) continue;
      try {
        p->done(absl::DeadlineExceededError(
            absl::StrCat("looking up the webhook host took longer than ", absl::FormatDuration(options_.deadline))));
      } catch (...) {
        spdlog::error("webhook host lookup: a callback threw");
      }
    }
  }
}

}  // namespace imagen::jobs
