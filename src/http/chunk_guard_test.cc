#include "http/chunk_guard.h"

#include <sys/resource.h>

#include "gtest/gtest.h"
#include "http/body_budget.h"
#include "http/fd_limit.h"

namespace imagen::http {
namespace {

const ChunkLimits kLimits{/*max_line=*/8, /*max_trailers=*/10};

TEST(ChunkGuard, IncompleteLineWithinTheLimitWaits) {
  EXPECT_EQ(CheckPendingChunkBytes("", kLimits), ChunkVerdict::kOk);
  EXPECT_EQ(CheckPendingChunkBytes("1f;a=b", kLimits), ChunkVerdict::kOk);
  EXPECT_EQ(CheckPendingChunkBytes("\r\n1f;a=bc", kLimits), ChunkVerdict::kOk);  // the previous chunk's CRLF
  EXPECT_EQ(CheckPendingChunkBytes("1f;a=bcd", kLimits), ChunkVerdict::kOk);     // exactly max_line
}

TEST(ChunkGuard, LineThatNeverEndsIsTooLong) {
  EXPECT_EQ(CheckPendingChunkBytes("1f;a=bcde", kLimits), ChunkVerdict::kLineTooLong);
  EXPECT_EQ(CheckPendingChunkBytes("\r\n1f;a=bcde", kLimits), ChunkVerdict::kLineTooLong);
}

TEST(ChunkGuard, TrailersOfTheLastChunkAreBounded) {
  EXPECT_EQ(CheckPendingChunkBytes("0\r\nX: 12345", kLimits), ChunkVerdict::kOk);
  EXPECT_EQ(CheckPendingChunkBytes("\r\n0\r\nX: 1234567", kLimits), ChunkVerdict::kOk);
  EXPECT_EQ(CheckPendingChunkBytes("0\r\nX: 12345678", kLimits), ChunkVerdict::kTrailersTooLarge);
  EXPECT_EQ(CheckPendingChunkBytes("0;abcdefghi\r\n", kLimits), ChunkVerdict::kLineTooLong);
}

TEST(ChunkGuard, TrailerSectionSize) {
  EXPECT_EQ(TrailerSectionSize("\r\n\r\n"), 2u);              // no trailer fields
  EXPECT_EQ(TrailerSectionSize("\r\nX: y\r\n\r\nnext"), 8u);  // "X: y\r\n\r\n"
  EXPECT_EQ(TrailerSectionSize("\r\nX: y\r\n"), std::string_view::npos);
}

TEST(BodyBudget, LeasesShareTheLimitAndGiveBackOnDestruction) {
  BodyBudget budget(100);
  {
    BodyBudget::Lease a(&budget);
    BodyBudget::Lease b(&budget);
    EXPECT_TRUE(a.GrowTo(60));
    EXPECT_FALSE(b.GrowTo(41));
    EXPECT_EQ(b.held(), 0u);
    EXPECT_TRUE(b.GrowTo(40));
    EXPECT_EQ(budget.used(), 100u);
    EXPECT_TRUE(a.GrowTo(50));  // never shrinks
    EXPECT_FALSE(a.GrowTo(61));
  }
  EXPECT_EQ(budget.used(), 0u);
  BodyBudget::Lease huge(&budget);
  EXPECT_FALSE(huge.GrowTo(~uint64_t{0}));
}

TEST(FileLimit, DefaultMaxConnectionsStaysWellBelowTheLimit) {
  EXPECT_EQ(DefaultMaxConnections(1024), 512);
  EXPECT_EQ(DefaultMaxConnections(1u << 20), 1024);
  EXPECT_EQ(DefaultMaxConnections(1), 1);
}

TEST(FileLimit, RaiseFileLimitRaisesTheSoftLimitToTheHardOne) {
  FileLimit before = CurrentFileLimit();
  FileLimit after = RaiseFileLimit();
  EXPECT_GE(after.soft, before.soft);
  if (before.hard != static_cast<uint64_t>(RLIM_INFINITY)) {
    EXPECT_EQ(after.soft, after.hard);
  }
  EXPECT_EQ(RaiseFileLimit().soft, after.soft);  // idempotent
}

}  // namespace
}  // namespace imagen::http
