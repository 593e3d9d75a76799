#include "http/message.h"

#include "common/error_kinds.h"
#include "gtest/gtest.h"

namespace imagen::http {
namespace {

// Issue 15 item 9: a full disk answers 507 with Retry-After, not 429.
TEST(StatusResponse, DiskFullIs507WithRetryAfter) {
  Request req{Verb::post, "/api/v1/jobs", 11};
  Response res = StatusResponse(req, DiskFullError("no space left on device"));
  EXPECT_EQ(res.result_int(), 507u);
  EXPECT_FALSE(res[beast_http::field::retry_after].empty());
  EXPECT_NE(res.body().find("\"insufficient_storage\""), std::string::npos) << res.body();
  Response quota = StatusResponse(req, absl::ResourceExhaustedError("quota"));
  EXPECT_EQ(quota.result_int(), 429u);
  EXPECT_TRUE(quota[beast_http::field::retry_after].empty());
}

TEST(ErrorBodies, InvalidUtf8IsRepairedAndKServeShapeIsAString) {
  Request req{Verb::get, "/x", 11};
  Response res = ErrorResponse(req, Status::bad_request, "bad", "model '\xff\xfe' \"q\"");
  EXPECT_EQ(res.body(), "{\"error\":{\"code\":\"bad\",\"message\":\"model '\xEF\xBF\xBD\xEF\xBF\xBD' \\\"q\\\"\"}}");
  EXPECT_EQ(KServeErrorBody("no such path: /v2/\xc3"), "{\"error\":\"no such path: /v2/\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace imagen::http
