#include "http/router.h"

#include "boost/asio/co_spawn.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/use_future.hpp"
#include "gtest/gtest.h"

namespace imagen::http {
namespace {

class NullStream : public ResponseStream {
 public:
  boost::asio::awaitable<bool> Begin(Response) override { co_return false; }
  boost::asio::awaitable<bool> Write(std::string_view) override { co_return false; }
  bool begun() const override { return false; }
  bool stopping() const override { return false; }
};

Response Call(const Router& router, Verb verb, const std::string& target) {
  Request req{verb, target, 11};
  RequestContext ctx;
  NullStream stream;
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(ioc, router.Route(req, ctx, stream), boost::asio::use_future);
  ioc.run();
  return fut.get();
}

Router TestRouter() {
  Router r;
  r.AddSync(Verb::get, "/jobs/{id}", [](const Request& req, const RequestContext& ctx) {
    return MakeResponse(req, Status::ok,
                        ctx.path_params.at("id") + "|" + (ctx.query.count("x") ? ctx.query.at("x") : ""), "text/plain");
  });
  r.AddSync(Verb::delete_, "/jobs/{id}", [](const Request& req, const RequestContext&) {
    return MakeResponse(req, Status::no_content, "", "text/plain");
  });
  return r;
}

TEST(RouterTest, CapturesPathParamsAndQuery) {
  Response res = Call(TestRouter(), Verb::get, "/jobs/abc%20d?x=1%2B2&y");
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(res.body(), "abc d|1+2");
}

TEST(RouterTest, UnknownPathIs404Json) {
  Response res = Call(TestRouter(), Verb::get, "/nope");
  EXPECT_EQ(res.result(), Status::not_found);
  EXPECT_EQ(res[beast_http::field::content_type], "application/json");
  EXPECT_NE(res.body().find("\"code\":\"not_found\""), std::string::npos);
}

TEST(RouterTest, WrongMethodIs405) {
  Response res = Call(TestRouter(), Verb::post, "/jobs/1");
  EXPECT_EQ(res.result(), Status::method_not_allowed);
}

TEST(RouterTest, SecondMatchingRouteWithOtherVerbIsFound) {
  EXPECT_EQ(Call(TestRouter(), Verb::delete_, "/jobs/1").result(), Status::no_content);
}

TEST(MessageTest, StatusMapping) {
  Request req{Verb::get, "/", 11};
  Response res = StatusResponse(req, absl::NotFoundError("job 7 not found"));
  EXPECT_EQ(res.result(), Status::not_found);
  EXPECT_EQ(res.body(), R"({"error":{"code":"not_found","message":"job 7 not found"}})");
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kResourceExhausted), Status::too_many_requests);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnavailable), Status::service_unavailable);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnauthenticated), Status::unauthorized);
}

TEST(MessageTest, ParseQueryDecodes) {
  auto q = ParseQuery("a=1&b=x%20y&c=&d&e=%zz");
  EXPECT_EQ(q["a"], "1");
  EXPECT_EQ(q["b"], "x y");
  EXPECT_EQ(q["c"], "");
  EXPECT_TRUE(q.count("d"));
  EXPECT_EQ(q["e"], "%zz");
}

}  // namespace
}  // namespace imagen::http
