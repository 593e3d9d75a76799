// The decode budget: reservations add up, wait for each other and free
// their bytes when destroyed; one over the whole capacity is refused.
#include "imaging/decode_budget.h"

#include <gtest/gtest.h>

#include <thread>

namespace imagen::imaging {
namespace {

TEST(DecodeBudgetTest, ReservationsAddUpAndFreeOnDestruction) {
  DecodeBudget budget(100);
  {
    auto a = budget.Reserve(60);
    ASSERT_TRUE(a.ok());
    auto b = budget.Reserve(40);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(budget.in_use(), 100);
    DecodeBudget::Reservation moved = std::move(*b);
    EXPECT_EQ(moved.bytes(), 40);
    EXPECT_EQ(budget.in_use(), 100);
  }
  EXPECT_EQ(budget.in_use(), 0);
  auto big = budget.Reserve(101);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DecodeBudgetTest, AReservationThatDoesNotFitWaitsForTheBytes) {
  DecodeBudget budget(100);
  auto held = std::make_unique<absl::StatusOr<DecodeBudget::Reservation>>(budget.Reserve(60));
  ASSERT_TRUE(held->ok());
  int64_t in_use_when_granted = -1;
  std::thread waiter([&] {
    auto r = budget.Reserve(50);  // 60 + 50 > 100: waits for `held`
    ASSERT_TRUE(r.ok());
    in_use_when_granted = budget.in_use();
  });
  held.reset();  // frees 60
  waiter.join();
  // Granted only once the 60 were gone: it was alone in the budget.
  EXPECT_EQ(in_use_when_granted, 50);
  EXPECT_EQ(budget.in_use(), 0);
}

TEST(DecodeBudgetTest, PixelsPerByteFloors) {
  EXPECT_TRUE(CheckPixelsPerByte("jpeg", 1000, 4'096'000).ok());
  EXPECT_FALSE(CheckPixelsPerByte("jpeg", 690, 36'000'000).ok());
  EXPECT_TRUE(CheckPixelsPerByte("png", 1000, 16'384'000).ok());
  EXPECT_FALSE(CheckPixelsPerByte("png", 1000, 16'384'001).ok());
  EXPECT_FALSE(CheckPixelsPerByte("gif", 100, 1'000'000).ok());
  EXPECT_TRUE(CheckPixelsPerByte("webp", 1, 1'000'000'000).ok());
  EXPECT_TRUE(CheckPixelsPerByte("tiff", 1, 1'000'000'000).ok());
}

}  // namespace
}  // namespace imagen::imaging
