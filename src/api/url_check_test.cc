// The strict webhook_url syntax check: what RFC 3986 allows for an http(s)
// URL with a DNS or IP host, and every way a client's URL can be refused.
#include "api/url_check.h"

#include <gtest/gtest.h>

#include <string>

namespace imagen::api {
namespace {

TEST(UrlCheckTest, AcceptsWellFormedHttpUrls) {
  for (const char* url : {
           "http://example.com",
           "https://example.com/",
           "HTTP://Example.COM:8080/a/b?x=1&y=%2F#frag",
           "http://127.0.0.1:9/hook",
           "http://[::1]:8080/h",
           "http://[2001:db8::1]/",
           "http://xn--bcher-kva.example/",
           "http://a.b-c.d./p;q=1/~u_s.e-r!$&'()*+,=:@",
           "http://host/path?q=/?:@",
       }) {
    EXPECT_TRUE(CheckWebhookUrlSyntax(url).ok()) << url << ": " << CheckWebhookUrlSyntax(url);
  }
}

// Issue 15 item 8: a webhook_url with bytes >= 0x80 was accepted, stored,
// and then broke every JSON answer about its job.
TEST(UrlCheckTest, Issue15NonAsciiWebhookUrlIsRefused) {
  for (std::string url : {std::string("http://example.com/\xff\xfe"), std::string("http://example.com/caf\xc3\xa9"),
                          std::string("http://b\xc3\xbc"
                                      "cher.example/"),
                          std::string("http://example.com/?q=\x80")}) {
    absl::Status s = CheckWebhookUrlSyntax(url);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(std::string(s.message()).find("webhook_url must be ASCII"), std::string::npos) << s;
  }
}

TEST(UrlCheckTest, RefusesMalformedUrlsNamingTheField) {
  struct Case {
    std::string url;
    const char* expect;
  } cases[] = {
      {"", "empty"},
      {"example.com/hook", "absolute"},
      {"http:/example.com", "absolute URL with a host"},
      {"http://", "no host"},
      {"http://user:pw@example.com/", "userinfo"},
      {"http://exa mple.com/", "space"},
      {"http://example.com/\t", "control"},
      {"http://example.com/a%zz", "path"},
      {"http://example.com/a%2", "path"},
      {"http://example.com/a\"b", "path"},
      {"http://example.com/?q=<x>", "query"},
      {"http://example.com/#a#b", "fragment"},
      {"http://example.com:0/", "port"},
      {"http://example.com:65536/", "port"},
      {"http://example.com:+80/", "port"},
      {"http://example.com:/", "empty port"},
      {"http://exa_mple.com/", "host"},
      {"http://-example.com/", "host"},
      {"http://a..b/", "host"},
      {"http://%65xample.com/", "host"},
      {"http://[::1/", "IPv6"},
      {"http://[fe80::1%25eth0]/", "IPv6"},
      {"http://[nothex]/", "IPv6"},
      {"http://[::1]x/", "host"},
      {"1http://example.com/", "absolute"},
      {"ht^tp://example.com/", "scheme"},
      {std::string("http://example.com/") + std::string(3000, 'a'), "limit is 2048"},
  };
  for (const auto& c : cases) {
    absl::Status s = CheckWebhookUrlSyntax(c.url);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.url << ": " << s;
    EXPECT_NE(std::string(s.message()).find(c.expect), std::string::npos) << c.url << ": " << s;
    EXPECT_EQ(std::string(s.message()).rfind("webhook_url ", 0), 0u) << s;
  }
}

TEST(UrlCheckTest, OtherSchemesAreAPolicyRefusal) {
  absl::Status s = CheckWebhookUrlSyntax("ftp://example.com/x");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(std::string(s.message()).find("scheme 'ftp'"), std::string::npos) << s;
}

}  // namespace
}  // namespace imagen::api
