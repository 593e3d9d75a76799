// Issue 15: the SSRF guard (every IANA special-purpose range refused;
// allow-list entries are host:port pairs) and webhook host lookups off the
// HTTP I/O threads ("synchronous DNS on the HTTP threads": 16 slow lookups
// froze /healthz for 5.5 s).
#include "jobs/target_policy.h"

#include <thread>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "gtest/gtest.h"

namespace imagen::jobs {
namespace {

struct AddressCase {
  const char* ip;
  bool refused;
};

TEST(TargetPolicyTest, SpecialPurposeRangesAreRefused) {
  const AddressCase cases[] = {
      // IPv4 special-purpose registry
      {"0.0.0.0", true},
      {"0.1.2.3", true},
      {"10.1.2.3", true},
      {"100.64.0.1", true},
      {"100.127.255.254", true},
      {"100.128.0.1", false},
      {"127.0.0.1", true},
      {"127.255.0.9", true},
      {"169.254.169.254", true},
      {"172.16.0.1", true},
      {"172.31.255.255", true},
      {"172.32.0.1", false},
      {"192.0.0.8", true},
      {"192.0.0.170", true},
      {"192.0.2.10", true},
      {"192.31.196.1", true},
      {"192.52.193.1", true},
      {"192.88.99.1", true},
      {"192.168.1.1", true},
      {"192.175.48.1", true},
      {"198.18.0.1", true},
      {"198.19.255.255", true},
      {"198.20.0.1", false},
      {"198.51.100.7", true},
      {"203.0.113.9", true},
      {"224.0.0.1", true},
      {"239.255.255.250", true},
      {"240.0.0.1", true},
      {"255.255.255.255", true},
      {"8.8.8.8", false},
      {"93.184.216.34", false},
      {"1.1.1.1", false},
      // IPv6 special-purpose registry
      {"::", true},
      {"::1", true},
      {"::127.0.0.1", true},  // IPv4-compatible
      {"::8.8.8.8", true},
      {"::ffff:127.0.0.1", true},  // IPv4-mapped
      {"::ffff:8.8.8.8", true},
      {"64:ff9b::7f00:1", true},  // NAT64 of 127.0.0.1
      {"64:ff9b::808:808", true},
      {"64:ff9b:1::1", true},
      {"100::1", true},
      {"2001::1", true},  // Teredo
      {"2001:0:4136:e378::1", true},
      {"2001:2::1", true},   // benchmarking
      {"2001:10::1", true},  // ORCHID
      {"2001:20::1", true},  // ORCHIDv2
      {"2001:db8::1", true},
      {"2002:7f00:1::1", true},  // 6to4 of 127.0.0.1
      {"2620:4f:8000::1", true},
      {"3fff::1", true},
      {"5f00::1", true},
      {"fc00::1", true},
      {"fd12:3456::1", true},
      {"fe80::1", true},
      {"fec0::1", true},
      {"ff02::1", true},
      {"ff0e::1", true},
      {"4000::1", true},  // outside 2000::/3
      {"2001:4860:4860::8888", false},
      {"2606:4700:4700::1111", false},
      {"2a00:1450:4001:80b::200e", false},
      // not an address at all
      {"localhost", true},
      {"", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsNonPublicAddress(c.ip), c.refused) << c.ip << " (" << SpecialPurposeRange(c.ip) << ")";
  }
}

TEST(TargetPolicyTest, UrlsToSpecialPurposeAddressesAreRefused) {
  for (const char* url : {"http://[::127.0.0.1]/x", "http://[64:ff9b::7f00:1]/x", "http://[2002:7f00:1::1]/x",
                          "http://198.18.0.1/x", "http://[::ffff:7f00:1]:8080/x", "http://[2001::1]/x",
                          "http://100.64.0.1/x", "http://192.0.0.1/x", "http://240.0.0.1/x", "http://224.0.0.1/x"}) {
    auto u = ParseUrl(url);
    ASSERT_TRUE(u.ok()) << url;
    EXPECT_EQ(CheckTarget(*u, {}).status().code(), absl::StatusCode::kPermissionDenied) << url;
  }
}

struct AllowCase {
  const char* entry;
  const char* url;
  bool allowed;
};

TEST(TargetPolicyTest, AllowHostsArePairsOfHostAndPort) {
  const AllowCase cases[] = {
      {"127.0.0.1:8080", "http://127.0.0.1:8080/h", true},
      {"127.0.0.1:8080", "http://127.0.0.1:8081/h", false},  // not every local port
      {"127.0.0.1:8080", "http://127.0.0.2:8080/h", false},
      {"127.0.0.1", "http://127.0.0.1/h", true},  // bare: port 80 only
      {"127.0.0.1", "http://127.0.0.1:22/h", false},
      {"127.0.0.1:*", "http://127.0.0.1:22/h", true},  // explicit: every port
      {"[::1]:9000", "http://[::1]:9000/h", true},
      {"[::1]:9000", "http://[::1]:9001/h", false},
      {"[0:0::1]:9000", "http://[::1]:9000/h", true},  // addresses compare canonically
      {"::1", "http://[::1]/h", true},
      {"10.0.0.5:443", "http://10.0.0.5:443/h", true},
      {"10.0.0.5:443", "http://10.0.0.6:443/h", false},
      {"bad:port:entry", "http://127.0.0.1/h", false},
      {"127.0.0.1:0", "http://127.0.0.1/h", false},
  };
  for (const auto& c : cases) {
    auto u = ParseUrl(c.url);
    ASSERT_TRUE(u.ok()) << c.url;
    auto r = CheckTarget(*u, {.allow_hosts = {c.entry}});
    EXPECT_EQ(r.ok(), c.allowed) << c.entry << " vs " << c.url << ": " << r.status();
  }
}

// A resolver that answers only when the test says so.
class GatedResolver final : public Resolver {
 public:
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host, uint16_t) override {
    started_.fetch_add(1);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&open_));
    if (host == "private.example") return std::vector<std::string>{"10.0.0.1"};
    return std::vector<std::string>{"93.184.216.34"};
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  std::atomic<int> started_{0};

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
};

TEST(TargetCheckerTest, SlowLookupsDoNotBlockTheIoThread) {
  GatedResolver resolver;
  TargetChecker checker(&resolver, {.threads = 4, .max_pending = 64, .deadline = absl::Seconds(60)});
  boost::asio::io_context io;  // one I/O thread, like one HTTP server thread
  std::atomic<int> answered{0}, refused{0};
  for (int i = 0; i < 16; ++i) {
    std::string host = i % 2 == 0 ? "slow.example" : "private.example";
    boost::asio::co_spawn(
        io,
        [&, host]() -> boost::asio::awaitable<void> {
          auto url = ParseUrl("http://" + host + "/hook");
          auto r = co_await AsyncCheckTarget(&checker, *url, {}, boost::asio::use_awaitable);
          if (!r.ok() && absl::IsPermissionDenied(r.status())) refused.fetch_add(1);
          answered.fetch_add(1);
        },
        boost::asio::detached);
  }
  // A /healthz stand-in posted while all 16 lookups hang: the I/O thread runs it.
  absl::Notification healthz;
  boost::asio::post(io, [&] { healthz.Notify(); });
  std::thread io_thread([&] { io.run(); });
  EXPECT_TRUE(healthz.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(answered.load(), 0);  // the lookups are still hanging
  resolver.Open();
  io_thread.join();  // run() returns once every check answered
  EXPECT_EQ(answered.load(), 16);
  EXPECT_EQ(refused.load(), 8);  // resolve -> check still refuses private answers
}

TEST(TargetCheckerTest, LookupPastItsDeadlineFails) {
  GatedResolver resolver;
  TargetChecker checker(&resolver, {.threads = 1, .max_pending = 4, .deadline = absl::Milliseconds(50)});
  auto url = ParseUrl("http://slow.example/hook");
  auto r = checker.CheckAndWait(*url, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  resolver.Open();  // let the stuck lookup end before the checker goes
}

TEST(TargetCheckerTest, TooManyWaitingLookupsAreRefusedAtOnce) {
  GatedResolver resolver;
  TargetChecker checker(&resolver, {.threads = 1, .max_pending = 2, .deadline = absl::Seconds(60)});
  auto url = ParseUrl("http://slow.example/hook");
  absl::BlockingCounter done(2);
  checker.Check(*url, {}, [&](auto) { done.DecrementCount(); });
  checker.Check(*url, {}, [&](auto) { done.DecrementCount(); });
  absl::StatusOr<std::vector<std::string>> third;
  checker.Check(*url, {}, [&](auto r) { third = std::move(r); });
  EXPECT_EQ(third.status().code(), absl::StatusCode::kUnavailable);
  resolver.Open();
  done.Wait();
}

}  // namespace
}  // namespace imagen::jobs
