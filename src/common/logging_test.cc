#include "common/logging.h"

#include "gtest/gtest.h"

namespace imagen {
namespace {

TEST(LoggingTest, JsonEscape) { EXPECT_EQ(JsonEscape("a\"b\\c\nd\x01"), "a\\\"b\\\\c\\nd\\u0001"); }

TEST(LoggingTest, UnknownLevelIsAnError) {
  auto s = InitLogging({.level = "loud"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("loud"), std::string::npos);
}

}  // namespace
}  // namespace imagen
