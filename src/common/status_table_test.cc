#include "common/status_table.h"

#include "common/error_kinds.h"
#include "gtest/gtest.h"

namespace imagen {
namespace {

TEST(StatusTable, EveryCodeHasOneRowWithBothColumns) {
  for (int i = 0; i <= 16; ++i) {
    const StatusRow& row = StatusRowFor(static_cast<absl::StatusCode>(i));
    EXPECT_EQ(static_cast<int>(row.code), i);
    EXPECT_EQ(row.grpc_code, i);
    EXPECT_FALSE(row.rest_code.empty());
    EXPECT_GE(row.rest_http, 200);
    EXPECT_GE(row.kserve_http, 200);
  }
  EXPECT_EQ(StatusRowFor(static_cast<absl::StatusCode>(99)).code, absl::StatusCode::kUnknown);
}

TEST(StatusTable, RestAndKServeColumnsDifferWhereTritonDoes) {
  EXPECT_EQ(RestHttpStatus(absl::ResourceExhaustedError("quota")), 429);
  EXPECT_EQ(KServeHttpStatus(absl::ResourceExhaustedError("too big")), 413);
  EXPECT_EQ(RestHttpStatus(absl::FailedPreconditionError("x")), 422);
  EXPECT_EQ(KServeHttpStatus(absl::FailedPreconditionError("x")), 400);
  EXPECT_EQ(KServeHttpStatus(absl::UnavailableError("x")), 503);
  EXPECT_EQ(GrpcCode(absl::NotFoundError("x")), 5);
}

// Issue 15 item 9: a full disk is 507 with Retry-After, not 429.
TEST(StatusTable, DiskFullIs507WithRetryAfter) {
  absl::Status full = DiskFullError("no space left on device");
  EXPECT_EQ(RestHttpStatus(full), 507);
  EXPECT_EQ(RestErrorCode(full), "insufficient_storage");
  EXPECT_EQ(KServeHttpStatus(full), 507);
  EXPECT_GT(RetryAfterSeconds(full), 0);
  EXPECT_EQ(RetryAfterSeconds(absl::ResourceExhaustedError("quota")), 0);
  EXPECT_EQ(GrpcCode(full), 8);
}

}  // namespace
}  // namespace imagen
