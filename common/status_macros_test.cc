#include "common/status_macros.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace weir {
namespace {

absl::Status ReturnIfError(const absl::Status& status, bool* reached_end) {
  WEIR_RETURN_IF_ERROR(status);
  *reached_end = true;
  return absl::OkStatus();
}

TEST(ReturnIfErrorTest, ContinuesOnOk) {
  bool reached_end = false;
  EXPECT_TRUE(ReturnIfError(absl::OkStatus(), &reached_end).ok());
  EXPECT_TRUE(reached_end);
}

TEST(ReturnIfErrorTest, ReturnsError) {
  bool reached_end = false;
  const absl::Status status =
      ReturnIfError(absl::NotFoundError("gone"), &reached_end);
  EXPECT_EQ(status, absl::NotFoundError("gone"));
  EXPECT_FALSE(reached_end);
}

TEST(ReturnIfErrorTest, EvaluatesOnce) {
  int calls = 0;
  auto fn = [&calls]() -> absl::Status {
    WEIR_RETURN_IF_ERROR((++calls, absl::InternalError("x")));
    return absl::OkStatus();
  };
  EXPECT_FALSE(fn().ok());
  EXPECT_EQ(calls, 1);
}

TEST(ReturnIfErrorTest, WorksInStatusOrFunction) {
  auto fn = [](const absl::Status& status) -> absl::StatusOr<int> {
    WEIR_RETURN_IF_ERROR(status);
    return 1;
  };
  EXPECT_EQ(*fn(absl::OkStatus()), 1);
  EXPECT_EQ(fn(absl::AbortedError("no")).status(), absl::AbortedError("no"));
}

TEST(ReturnIfErrorTest, IsOneStatementUnderIf) {
  auto fn = [](bool check) -> absl::Status {
    if (check)
      WEIR_RETURN_IF_ERROR(absl::CancelledError("c"));
    else
      return absl::OkStatus();
    return absl::InternalError("unreachable");
  };
  EXPECT_EQ(fn(true), absl::CancelledError("c"));
  EXPECT_TRUE(fn(false).ok());
}

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) return absl::InvalidArgumentError("odd");
  return n / 2;
}

absl::StatusOr<int> Quarter(int n) {
  WEIR_ASSIGN_OR_RETURN(int half, Half(n));
  WEIR_ASSIGN_OR_RETURN(const int quarter, Half(half));
  return quarter;
}

TEST(AssignOrReturnTest, AssignsValues) {
  absl::StatusOr<int> quarter = Quarter(12);
  ASSERT_TRUE(quarter.ok());
  EXPECT_EQ(*quarter, 3);
}

TEST(AssignOrReturnTest, ReturnsFirstError) {
  EXPECT_EQ(Quarter(6).status(), absl::InvalidArgumentError("odd"));
  EXPECT_EQ(Quarter(5).status(), absl::InvalidArgumentError("odd"));
}

TEST(AssignOrReturnTest, AssignsToExistingVariable) {
  auto fn = [](int n) -> absl::Status {
    std::pair<int, int> result{0, 0};
    WEIR_ASSIGN_OR_RETURN(result.first, Half(n));
    EXPECT_EQ(result.first, n / 2);
    return absl::OkStatus();
  };
  EXPECT_TRUE(fn(8).ok());
  EXPECT_FALSE(fn(7).ok());
}

TEST(AssignOrReturnTest, MovesMoveOnlyValues) {
  auto make = []() -> absl::StatusOr<std::unique_ptr<std::string>> {
    return std::make_unique<std::string>("weir");
  };
  auto fn = [&make]() -> absl::StatusOr<std::string> {
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<std::string> owned, make());
    return *owned;
  };
  EXPECT_EQ(*fn(), "weir");
}

TEST(AssignOrReturnTest, EvaluatesOnce) {
  int calls = 0;
  auto fn = [&calls]() -> absl::Status {
    WEIR_ASSIGN_OR_RETURN(int value, (++calls, Half(4)));
    EXPECT_EQ(value, 2);
    return absl::OkStatus();
  };
  EXPECT_TRUE(fn().ok());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace weir
