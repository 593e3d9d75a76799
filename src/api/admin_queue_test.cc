// GET /api/v1/admin/queue: counts per state and per operation, every state
// present, and what require_admin refuses is what the caller gets.
#include "api/admin_queue.h"

#include <filesystem>

#include "boost/asio/co_spawn.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/use_future.hpp"
#include "common/test_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace imagen::api {
namespace {

class NullStream : public http::ResponseStream {
 public:
  boost::asio::awaitable<bool> Begin(http::Response) override { co_return false; }
  boost::asio::awaitable<bool> Write(std::string_view) override { co_return false; }
  bool begun() const override { return false; }
  bool stopping() const override { return false; }
};

http::Response Get(const http::Router& router, const std::string& target) {
  http::Request req{http::Verb::get, target, 11};
  http::RequestContext ctx;
  NullStream stream;
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(ioc, router.Route(req, ctx, stream), boost::asio::use_future);
  ioc.run();
  return fut.get();
}

class AdminQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = imagen::testing::FreshTestDir("admin_queue_test");
    auto s = jobs::JobStore::Open((dir_ / "jobs.db").string(), &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Submit(const std::string& op) {
    auto r = store_->Create({.key_id = "key_a", .operation = op, .input_ref = "in", .input_type = "image/png"});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<jobs::JobStore> store_;
};

TEST_F(AdminQueueTest, CountsPerStateAndOperation) {
  Submit("upscale");
  Submit("upscale");
  Submit("style_comic");
  auto leased = store_->Lease("w", absl::Seconds(30));
  ASSERT_TRUE(leased.ok() && *leased) << leased.status();
  http::Router router;
  RegisterAdminQueue(router, store_.get(), [](const http::Request&) { return std::optional<http::Response>(); });
  http::Response res = Get(router, "/api/v1/admin/queue");
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  auto j = nlohmann::json::parse(res.body());
  EXPECT_EQ(j["by_state"]["queued"], 2);
  EXPECT_EQ(j["by_state"]["running"], 1);
  EXPECT_EQ(j["by_state"]["dead"], 0);
  const std::string running_op = (*leased)->operation;
  EXPECT_EQ(j["by_operation"][running_op]["running"], 1);
  EXPECT_EQ(j["by_operation"]["upscale"]["queued"].get<int>() + j["by_operation"]["upscale"]["running"].get<int>(), 2);
  EXPECT_EQ(
      j["by_operation"]["style_comic"]["queued"].get<int>() + j["by_operation"]["style_comic"]["running"].get<int>(),
      1);
  for (const char* op : {"upscale", "style_comic"}) {
    EXPECT_EQ(j["by_operation"][op].size(), 6u) << op;  // every state, 0 when none
    EXPECT_EQ(j["by_operation"][op]["succeeded"], 0) << op;
  }
  EXPECT_EQ(res[http::beast_http::field::cache_control], "no-store");
}

TEST_F(AdminQueueTest, EmptyStoreHasEveryStateAndNoOperations) {
  http::Router router;
  RegisterAdminQueue(router, store_.get(), [](const http::Request&) { return std::optional<http::Response>(); });
  auto j = nlohmann::json::parse(Get(router, "/api/v1/admin/queue").body());
  EXPECT_EQ(j["by_state"].size(), 6u);
  EXPECT_TRUE(j["by_operation"].is_object() && j["by_operation"].empty());
}

TEST_F(AdminQueueTest, RefusalComesFromRequireAdmin) {
  Submit("upscale");
  http::Router router;
  RegisterAdminQueue(router, store_.get(), [](const http::Request& req) {
    return std::optional<http::Response>(
        http::ErrorResponse(req, http::Status::forbidden, "permission_denied", "the queue view needs the admin key"));
  });
  http::Response res = Get(router, "/api/v1/admin/queue");
  EXPECT_EQ(res.result(), http::Status::forbidden);
  EXPECT_EQ(res.body().find("upscale"), std::string::npos);
}

}  // namespace
}  // namespace imagen::api
