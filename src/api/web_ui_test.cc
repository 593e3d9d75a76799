#include "api/web_ui.h"

#include <regex>

#include "api/web_assets.h"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/use_future.hpp"
#include "gtest/gtest.h"

namespace imagen::api {
namespace {

namespace bh = http::beast_http;

class NullStream : public http::ResponseStream {
 public:
  boost::asio::awaitable<bool> Begin(http::Response) override { co_return false; }
  boost::asio::awaitable<bool> Write(std::string_view) override { co_return false; }
  bool begun() const override { return false; }
  bool stopping() const override { return false; }
};

http::Response Call(const http::Router& router, http::Request req) {
  http::RequestContext ctx;
  NullStream stream;
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(ioc, router.Route(req, ctx, stream), boost::asio::use_future);
  ioc.run();
  return fut.get();
}

http::Response Get(const http::Router& router, const std::string& target) {
  return Call(router, http::Request{http::Verb::get, target, 11});
}

// The asset pages need neither sessions nor a store; the session routes are
// covered end to end by tests/web/ui_test.py.
http::Router UiRouter(SessionStore* sessions) {
  http::Router r;
  RegisterWebUi(r, sessions, nullptr);
  return r;
}

TEST(WebUiTest, IndexIsNoCacheWithStrictHeaders) {
  SessionStore sessions;
  auto router = UiRouter(&sessions);
  http::Response res = Get(router, "/");
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(res[bh::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(res[bh::field::cache_control], "no-cache");
  std::string csp(res["Content-Security-Policy"]);
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe"), std::string::npos);
  EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(res["Referrer-Policy"], "no-referrer");
  // No inline script: every <script> has a src.
  EXPECT_FALSE(std::regex_search(res.body(), std::regex("<script(?![^>]*src=)")));
}

TEST(WebUiTest, EveryReferencedAssetIsHashedAndImmutable) {
  SessionStore sessions;
  auto router = UiRouter(&sessions);
  std::string index = Get(router, "/").body();
  std::regex ref("/ui/([A-Za-z0-9_.-]+)");
  int n = 0;
  for (auto it = std::sregex_iterator(index.begin(), index.end(), ref); it != std::sregex_iterator(); ++it) {
    std::string name = (*it)[1];
    EXPECT_TRUE(std::regex_search(name, std::regex("\\.[0-9a-f]{12}\\.")));
    http::Response res = Get(router, "/ui/" + name);
    EXPECT_EQ(res.result(), http::Status::ok) << name;
    EXPECT_EQ(res[bh::field::cache_control], "public, max-age=31536000, immutable") << name;
    EXPECT_FALSE(res["Content-Security-Policy"].empty());
    ++n;
  }
  EXPECT_GE(n, 2);
  EXPECT_EQ(Get(router, "/ui/app.js").result(), http::Status::not_found);
  EXPECT_EQ(Get(router, "/ui/index.html").result(), http::Status::not_found);
}

TEST(WebUiTest, ModuleImportsUseHashedNames) {
  for (const WebAsset& a : WebAssets()) {
    if (!a.name.ends_with(".js")) continue;
    std::string body(a.data);
    for (const WebAsset& b : WebAssets()) {
      if (b.source == "index.html") continue;
      EXPECT_EQ(body.find("\"./" + std::string(b.source) + "\""), std::string::npos)
          << a.name << " imports " << b.source;
    }
  }
}

TEST(WebUiTest, EtagGivesNotModified) {
  SessionStore sessions;
  auto router = UiRouter(&sessions);
  http::Response first = Get(router, "/");
  http::Request req{http::Verb::get, "/", 11};
  req.set(bh::field::if_none_match, first[bh::field::etag]);
  http::Response again = Call(router, req);
  EXPECT_EQ(again.result(), http::Status::not_modified);
  EXPECT_TRUE(again.body().empty());
}

TEST(WebUiTest, LogoutClearsTheSessionAndChecksOrigin) {
  SessionStore sessions;
  auto router = UiRouter(&sessions);
  std::string id = *sessions.Create("h", absl::Now());
  http::Request cross{http::Verb::delete_, "/api/v1/session", 11};
  cross.set(bh::field::host, "h:1");
  cross.set(bh::field::origin, "http://evil");
  cross.set(bh::field::cookie, "imagen_session=" + id);
  EXPECT_EQ(Call(router, cross).result(), http::Status::forbidden);
  EXPECT_EQ(sessions.size(), 1u);
  http::Request same = cross;
  same.set(bh::field::origin, "http://h:1");
  http::Response res = Call(router, same);
  EXPECT_EQ(res.result(), http::Status::no_content);
  EXPECT_NE(std::string(res[bh::field::set_cookie]).find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(sessions.size(), 0u);
}

}  // namespace
}  // namespace imagen::api
