#include "core/status.h"

#include <gtest/gtest.h>

namespace medassist {
namespace {

Result<int> ParsePositive(int x) {
  if (x <= 0) return InvalidArgument("x must be positive, got " + std::to_string(x));
  return x;
}

Result<int> Doubled(int x) {
  ASSIGN_OR_RETURN(int v, ParsePositive(x));
  return 2 * v;
}

Status Checked(int x) {
  RETURN_IF_ERROR(ParsePositive(x).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = DataLoss("truncated header");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.ToString(), "DATA_LOSS: truncated header");
  EXPECT_EQ(s.WithContext("model.gguf").ToString(), "DATA_LOSS: model.gguf: truncated header");
}

TEST(StatusTest, AssignOrReturnPropagates) {
  auto good = Doubled(21);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  auto bad = Doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "x must be positive, got -1");
  EXPECT_TRUE(Checked(3).ok());
  EXPECT_EQ(Checked(0).code(), StatusCode::kInvalidArgument);
}

TEST(StatusDeathTest, ValueOfErrorResultAborts) {
  Result<int> r = NotFound("nope");
  EXPECT_DEATH((void)r.value(), "NOT_FOUND: nope");
}

TEST(StatusDeathTest, CheckAbortsWithMessage) {
  EXPECT_DEATH(CHECK(1 + 1 == 3) << "arithmetic", "CHECK failed: 1 \\+ 1 == 3 arithmetic");
}

}  // namespace
}  // namespace medassist
