// Issue 15 item 7: metrics labels come from the route table only, so
// unauthenticated clients cannot add series (random paths, odd methods) or
// put invalid UTF-8 into /metrics.
#include <set>
#include <string>

#include "boost/asio/co_spawn.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/use_future.hpp"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "http/router.h"

namespace imagen::http {
namespace {

class NullStream : public ResponseStream {
 public:
  boost::asio::awaitable<bool> Begin(Response) override { co_return false; }
  boost::asio::awaitable<bool> Write(std::string_view) override { co_return false; }
  bool begun() const override { return false; }
  bool stopping() const override { return false; }
};

Router ApiLikeRouter() {
  Router r;
  auto ok = [](const Request& req, const RequestContext&) { return MakeResponse(req, Status::ok, "", "text/plain"); };
  r.AddSync(Verb::get, "/healthz", ok);
  r.AddSync(Verb::post, "/api/v1/images/upscale", ok);
  r.AddSync(Verb::post, "/api/v1/images/style/comic", ok);
  r.AddSync(Verb::get, "/api/v1/jobs/{id}", ok);
  r.AddSync(Verb::delete_, "/api/v1/jobs/{id}", ok);
  r.AddSync(Verb::get, "/api/v1/jobs/{id}/result", ok);
  return r;
}

TEST(RouterLabelTest, Issue15RouteLabelIsTheMatchedPatternOrOther) {
  Router r = ApiLikeRouter();
  EXPECT_EQ(r.PatternOf("/healthz"), "/healthz");
  EXPECT_EQ(r.PatternOf("/api/v1/images/upscale?x=1"), "/api/v1/images/upscale");
  EXPECT_EQ(r.PatternOf("/api/v1/images/style/comic"), "/api/v1/images/style/comic");
  EXPECT_EQ(r.PatternOf("/api/v1/jobs/job_123"), "/api/v1/jobs/{id}");
  EXPECT_EQ(r.PatternOf("/api/v1/jobs/job_123/result"), "/api/v1/jobs/{id}/result");
  EXPECT_EQ(r.PatternOf("/api/v1/jobs/%E2%9C%93"), "/api/v1/jobs/{id}");
  // Unknown paths, however many and whatever their bytes, are one label.
  std::set<std::string> labels;
  for (int i = 0; i < 1000; ++i) labels.insert(std::string(r.PatternOf("/api/v1/images/x" + std::to_string(i))));
  labels.insert(std::string(r.PatternOf("/api/v1/images/\xff\xfe")));
  labels.insert(std::string(r.PatternOf("/api/v1/images/%ff")));
  labels.insert(std::string(r.PatternOf("/api/v1/jobs/a/b/c")));
  labels.insert(std::string(r.PatternOf("")));
  labels.insert(std::string(r.PatternOf("*")));
  EXPECT_EQ(labels, std::set<std::string>{"other"});
}

TEST(RouterLabelTest, Issue15MethodLabelIsAFixedSet) {
  EXPECT_EQ(MethodLabel(Verb::get), "GET");
  EXPECT_EQ(MethodLabel(Verb::delete_), "DELETE");
  EXPECT_EQ(MethodLabel(Verb::post), "POST");
  EXPECT_EQ(MethodLabel(Verb::unknown), "other");
  EXPECT_EQ(MethodLabel(Verb::propfind), "other");
  EXPECT_EQ(MethodLabel(Verb::mkcol), "other");
}

TEST(RouterLabelTest, Issue15NotFoundEchoesTheTargetAsValidUtf8) {
  Router r = ApiLikeRouter();
  Request req{Verb::get, "/nope/\xff\xfe" + std::string(5000, 'a'), 11};
  RequestContext ctx;
  NullStream stream;
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(ioc, r.Route(req, ctx, stream), boost::asio::use_future);
  ioc.run();
  Response res = fut.get();
  EXPECT_EQ(res.result(), Status::not_found);
  EXPECT_TRUE(IsValidUtf8(res.body())) << res.body();
  EXPECT_LT(res.body().size(), 400u);
}

}  // namespace
}  // namespace imagen::http
