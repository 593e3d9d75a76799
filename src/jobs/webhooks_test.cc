#include "jobs/webhooks.h"

#include "gtest/gtest.h"
#include "jobs/crypto.h"
#include "jobs/http_client.h"

namespace imagen::jobs {
namespace {

// The example of the Standard Webhooks specification (svix).
TEST(WebhookSignatureTest, MatchesTheStandardWebhooksExample) {
  auto sig = SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                         R"({"test": 2432232314})");
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(*sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignatureTest, SecretsAreFreshAndUsable) {
  std::string a = NewWebhookSecret(), b = NewWebhookSecret();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("whsec_", 0), 0u);
  auto key = Base64Decode(a.substr(6));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->size(), 32u);
  auto headers = WebhookHeaders(a, "msg_1", 100, "{}");
  ASSERT_TRUE(headers.ok());
  EXPECT_EQ(headers->at("webhook-id"), "msg_1");
  EXPECT_EQ(headers->at("webhook-timestamp"), "100");
  EXPECT_EQ(headers->at("webhook-signature"), "v1," + Base64Encode(HmacSha256(*key, "msg_1.100.{}")));
  EXPECT_FALSE(SignWebhook("whsec_!!!", "m", 1, "x").ok());
}

TEST(UrlTest, ParsesAndRejects) {
  auto u = ParseUrl("http://example.com:8080/hook?a=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/hook?a=1");
  u = ParseUrl("http://[::1]/x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 80);
  EXPECT_FALSE(ParseUrl("ftp://example.com/").ok());
  EXPECT_FALSE(ParseUrl("example.com/hook").ok());
  EXPECT_FALSE(ParseUrl("http://user:pw@example.com/").ok());
  EXPECT_FALSE(ParseUrl("http://example.com:99999/").ok());
  EXPECT_FALSE(ParseUrl("http:///x").ok());
}

TEST(UrlTest, NonPublicAddresses) {
  for (const char* ip : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                         "0.0.0.0", "100.64.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1"}) {
    EXPECT_TRUE(IsNonPublicAddress(ip)) << ip;
  }
  for (const char* ip : {"8.8.8.8", "172.32.0.1", "93.184.216.34", "2001:4860:4860::8888"}) {
    EXPECT_FALSE(IsNonPublicAddress(ip)) << ip;
  }
}

TEST(UrlTest, PolicyRefusesLoopbackUnlessAllowed) {
  auto u = ParseUrl("http://127.0.0.1:9/hook");
  ASSERT_TRUE(u.ok());
  auto refused = CheckTarget(*u, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckTarget(*u, {.allow_hosts = {"127.0.0.1:9"}}).ok());
  EXPECT_TRUE(CheckTarget(*u, {.allow_hosts = {"127.0.0.1:*"}}).ok());
  // A bare host allows its default port only, not every local port.
  EXPECT_EQ(CheckTarget(*u, {.allow_hosts = {"127.0.0.1"}}).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckTarget(*u, {.allow_private = true}).ok());
}

}  // namespace
}  // namespace imagen::jobs
