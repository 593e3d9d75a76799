#include "api/session_store.h"

#include "gtest/gtest.h"

namespace imagen::api {
namespace {

namespace bh = http::beast_http;

http::Request Req(http::Verb verb, std::string cookie, std::string origin = "", std::string host = "h:1") {
  http::Request req{verb, "/api/v1/jobs", 11};
  if (!cookie.empty()) req.set(bh::field::cookie, cookie);
  if (!origin.empty()) req.set(bh::field::origin, origin);
  req.set(bh::field::host, host);
  return req;
}

TEST(SessionStoreTest, CreateLookupRemove) {
  SessionStore s;
  absl::Time t0 = absl::FromUnixSeconds(1000);
  auto id = s.Create("hash1", t0);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), 64u);
  auto other = s.Create("hash1", t0);
  EXPECT_NE(*id, *other);
  EXPECT_EQ(s.Lookup(*id, t0 + absl::Minutes(1)), "hash1");
  EXPECT_EQ(s.Lookup("nope", t0), std::nullopt);
  s.Remove(*id);
  EXPECT_EQ(s.Lookup(*id, t0), std::nullopt);
}

TEST(SessionStoreTest, LifetimeAndIdleExpiry) {
  SessionStore s({.lifetime = absl::Hours(12), .idle = absl::Hours(2)});
  absl::Time t0 = absl::FromUnixSeconds(1000);
  auto id = *s.Create("h", t0);
  // Used every hour it stays alive until the lifetime ends.
  for (int h = 1; h < 12; ++h) EXPECT_EQ(s.Lookup(id, t0 + absl::Hours(h)), "h") << h;
  EXPECT_EQ(s.Lookup(id, t0 + absl::Hours(12)), std::nullopt);
  auto idle = *s.Create("h", t0);
  EXPECT_EQ(s.Lookup(idle, t0 + absl::Hours(2)), std::nullopt);
}

TEST(SessionStoreTest, CapDropsLeastRecentlyUsed) {
  SessionStore s({.max_sessions = 2});
  absl::Time t0 = absl::FromUnixSeconds(1000);
  auto a = *s.Create("a", t0);
  auto b = *s.Create("b", t0 + absl::Seconds(1));
  EXPECT_EQ(s.Lookup(a, t0 + absl::Seconds(2)), "a");
  auto c = *s.Create("c", t0 + absl::Seconds(3));
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.Lookup(b, t0 + absl::Seconds(4)), std::nullopt);
  EXPECT_EQ(s.Lookup(c, t0 + absl::Seconds(4)), "c");
}

TEST(SessionStoreTest, CookieParsing) {
  EXPECT_EQ(SessionStore::CookieValue(Req(http::Verb::get, "a=1; imagen_session=abc; b=2")), "abc");
  EXPECT_EQ(SessionStore::CookieValue(Req(http::Verb::get, "imagen_sessionx=abc")), "");
  EXPECT_FALSE(SessionStore::HasCookie(Req(http::Verb::get, "")));
}

TEST(SessionStoreTest, OriginMustBeThisHostForStateChanges) {
  EXPECT_TRUE(SessionStore::OriginAllowed(Req(http::Verb::get, "", "")));
  EXPECT_TRUE(SessionStore::OriginAllowed(Req(http::Verb::post, "", "http://h:1")));
  EXPECT_TRUE(SessionStore::OriginAllowed(Req(http::Verb::delete_, "", "https://h:1")));
  EXPECT_FALSE(SessionStore::OriginAllowed(Req(http::Verb::post, "", "")));
  EXPECT_FALSE(SessionStore::OriginAllowed(Req(http::Verb::post, "", "http://evil:1")));
  EXPECT_FALSE(SessionStore::OriginAllowed(Req(http::Verb::post, "", "http://h:1.evil")));
  EXPECT_FALSE(SessionStore::OriginAllowed(Req(http::Verb::post, "", "null")));
}

TEST(SessionStoreTest, KeyHashForAnswers401And403) {
  SessionStore s;
  auto id = *s.Create("h", absl::Now());
  http::Response err;
  EXPECT_EQ(s.KeyHashFor(Req(http::Verb::get, "imagen_session=" + id), &err), "h");
  EXPECT_EQ(s.KeyHashFor(Req(http::Verb::get, "imagen_session=zzz"), &err), std::nullopt);
  EXPECT_EQ(err.result(), http::Status::unauthorized);
  EXPECT_EQ(s.KeyHashFor(Req(http::Verb::post, "imagen_session=" + id, "http://evil"), &err), std::nullopt);
  EXPECT_EQ(err.result(), http::Status::forbidden);
}

}  // namespace
}  // namespace imagen::api
