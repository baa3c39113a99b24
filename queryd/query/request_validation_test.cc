#include "queryd/query/request_validation.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::query {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1700003600);

weir::v1::TimeRange Range(int64_t start, int64_t end) {
  weir::v1::TimeRange range;
  if (start >= 0) range.mutable_start()->set_seconds(start);
  if (end >= 0) range.mutable_end()->set_seconds(end);
  return range;
}

template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& result) {
  EXPECT_FALSE(result.ok());
  if (result.ok()) return "";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string{result.status().message()};
}

TEST(ValidateTimeRangeTest, UnsetEndIsNowAndUnsetStartAnHourBefore) {
  absl::StatusOr<store::TimeRange> range =
      ValidateTimeRange(weir::v1::TimeRange(), kNow);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->end, kNow);
  EXPECT_EQ(range->start, kNow - absl::Hours(1));

  range = ValidateTimeRange(Range(-1, 1700000000), kNow);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->start, absl::FromUnixSeconds(1700000000 - 3600));
  EXPECT_EQ(range->end, absl::FromUnixSeconds(1700000000));
}

TEST(ValidateTimeRangeTest, WindowCeiling) {
  // Exactly the ceiling passes; a second more does not, naming the range.
  EXPECT_TRUE(
      ValidateTimeRange(Range(1000, 4600), kNow, "range", absl::Hours(1)).ok());
  const absl::StatusOr<store::TimeRange> range =
      ValidateTimeRange(Range(1000, 4601), kNow, "range", absl::Hours(1));
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(range.status().message().rfind("range: the window from ", 0), 0u)
      << range.status();
  EXPECT_NE(range.status().message().find("longer than the maximum 1h "
                                          "(--max-query-window)"),
            std::string::npos)
      << range.status();
  // Unset start is end minus 1h: within a 1h ceiling.
  EXPECT_TRUE(
      ValidateTimeRange(Range(-1, 1700000000), kNow, "range", absl::Hours(1))
          .ok());
}

TEST(ValidateTimeRangeTest, UnsetStartNeverPrecedesTheEpoch) {
  absl::StatusOr<store::TimeRange> range =
      ValidateTimeRange(Range(-1, 600), kNow);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->start, absl::UnixEpoch());
}

TEST(ValidateTimeRangeTest, KeepsNanos) {
  weir::v1::TimeRange in = Range(100, 200);
  in.mutable_start()->set_nanos(5);
  absl::StatusOr<store::TimeRange> range = ValidateTimeRange(in, kNow);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->start, absl::FromUnixNanos(100000000005));
}

TEST(ValidateTimeRangeTest, RejectsBadTimestampsNamingTheField) {
  weir::v1::TimeRange in = Range(100, 200);
  in.mutable_start()->set_nanos(-1);
  EXPECT_THAT(ErrorOf(ValidateTimeRange(in, kNow)),
              StartsWith("range.start: nanos -1 is outside 0..999999999"));
  in = Range(100, 200);
  in.mutable_end()->set_nanos(1000000000);
  EXPECT_THAT(ErrorOf(ValidateTimeRange(in, kNow)),
              StartsWith("range.end: nanos 1000000000"));
  in = Range(100, 200);
  in.mutable_start()->set_seconds(-1);
  EXPECT_EQ(ErrorOf(ValidateTimeRange(in, kNow)),
            "range.start: 1969-12-31T23:59:59+00:00 is before the Unix epoch "
            "(1970-01-01T00:00:00Z)");
  in = Range(100, 10000000000);
  EXPECT_THAT(ErrorOf(ValidateTimeRange(in, kNow)),
              StartsWith("range.end: 2286-11-20T17:46:40+00:00 is after "
                         "2262-04-11T23:47:16.854775807+00:00"));
  EXPECT_THAT(ErrorOf(ValidateTimeRange(in, kNow, "window")),
              StartsWith("window.end: "));
}

TEST(ValidateTimeRangeTest, RejectsEmptyAndReversedRanges) {
  EXPECT_THAT(ErrorOf(ValidateTimeRange(Range(200, 200), kNow)),
              StartsWith("range.start: "));
  EXPECT_THAT(ErrorOf(ValidateTimeRange(Range(300, 200), kNow)),
              HasSubstr("must be before range.end"));
  // A start after now with the end unset names the default.
  EXPECT_THAT(ErrorOf(ValidateTimeRange(Range(1800000000, -1), kNow)),
              HasSubstr("(unset: now)"));
}

TEST(ValidateCountTest, ZeroIsTheDefault) {
  EXPECT_EQ(*ValidateCount(0, 10, 1000, "limit"), 10);
  EXPECT_EQ(*ValidateCount(1000, 10, 1000, "limit"), 1000);
  EXPECT_EQ(ErrorOf(ValidateCount(-1, 10, 1000, "limit")),
            "limit: -1 must not be negative");
  EXPECT_EQ(ErrorOf(ValidateCount(1001, 10, 1000, "limit")),
            "limit: 1001 is above the maximum 1000");
}

TEST(ValidatePageSizeTest, LimitIsAnAlias) {
  EXPECT_EQ(*ValidatePageSize(0, 0, 100, 1000), 100);
  EXPECT_EQ(*ValidatePageSize(7, 0, 100, 1000), 7);
  EXPECT_EQ(*ValidatePageSize(0, 7, 100, 1000), 7);
  EXPECT_EQ(*ValidatePageSize(7, 7, 100, 1000), 7);
  EXPECT_THAT(ErrorOf(ValidatePageSize(7, 8, 100, 1000)),
              StartsWith("limit: 8 differs from page_size 7"));
  EXPECT_EQ(ErrorOf(ValidatePageSize(5000, 0, 100, 1000)),
            "page_size: 5000 is above the maximum 1000");
  EXPECT_EQ(ErrorOf(ValidatePageSize(0, 5000, 100, 1000)),
            "limit: 5000 is above the maximum 1000");
}

TEST(ValidateEnumTest, GroupByAndOrderBy) {
  EXPECT_EQ(*ValidateGroupBy(weir::v1::GROUP_BY_SRC, true, "group_by"),
            weir::v1::GROUP_BY_SRC);
  EXPECT_EQ(*ValidateGroupBy(0, false, "group_by"),
            weir::v1::GROUP_BY_UNSPECIFIED);
  EXPECT_THAT(ErrorOf(ValidateGroupBy(0, true, "group_by")),
              StartsWith("group_by: required; use GROUP_BY_SRC, "));
  EXPECT_THAT(ErrorOf(ValidateGroupBy(99, false, "group_by")),
              StartsWith("group_by: unknown value 99"));
  EXPECT_EQ(*ValidateOrderBy(0, "order_by"), weir::v1::ORDER_BY_BYTES);
  EXPECT_EQ(*ValidateOrderBy(3, "order_by"), weir::v1::ORDER_BY_FLOWS);
  EXPECT_EQ(ErrorOf(ValidateOrderBy(-1, "order_by")),
            "order_by: unknown value -1; use ORDER_BY_BYTES, ORDER_BY_PACKETS "
            "or ORDER_BY_FLOWS");
}

TEST(NiceStepTest, RoundsUpToANiceStep) {
  EXPECT_EQ(NiceStep(absl::Milliseconds(10)), absl::Seconds(1));
  EXPECT_EQ(NiceStep(absl::Seconds(1)), absl::Seconds(1));
  EXPECT_EQ(NiceStep(absl::Seconds(2)), absl::Seconds(5));
  EXPECT_EQ(NiceStep(absl::Seconds(31)), absl::Minutes(1));
  EXPECT_EQ(NiceStep(absl::Minutes(2)), absl::Minutes(5));
  EXPECT_EQ(NiceStep(absl::Minutes(45)), absl::Hours(1));
  EXPECT_EQ(NiceStep(absl::Hours(2)), absl::Hours(3));
  EXPECT_EQ(NiceStep(absl::Hours(13)), absl::Hours(24));
  EXPECT_EQ(NiceStep(absl::Hours(25)), absl::Hours(48));
}

TEST(ValidateStepTest, DefaultAimsAtSixtyPoints) {
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(1)), absl::Minutes(1));
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(2)), absl::Minutes(5));
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(24)), absl::Minutes(30));
  EXPECT_EQ(*ValidateStep(nullptr, absl::Seconds(10)), absl::Seconds(1));
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(24 * 90)), absl::Hours(48));
  google::protobuf::Duration zero;
  EXPECT_EQ(*ValidateStep(&zero, absl::Hours(1)), absl::Minutes(1));
}

TEST(ValidateStepTest, DefaultIsAMultipleOfTheCoarsestTierThatAnswers) {
  const absl::Duration hour_and_minute[] = {absl::Hours(1), absl::Minutes(1)};
  // 30 min rounded up to the hour: 24 points.
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(24), hour_and_minute),
            absl::Hours(1));
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(12), hour_and_minute),
            absl::Hours(1));
  // An hour would leave 11 points: the minute tier's 30 min.
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(11), hour_and_minute),
            absl::Minutes(30));
  // Already multiples.
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(1), hour_and_minute),
            absl::Minutes(1));
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(2), hour_and_minute),
            absl::Minutes(5));
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(24 * 7), hour_and_minute),
            absl::Hours(3));
  // 30 s rounded up to the minute: 15 points; 5 s over 5 min would leave 5.
  EXPECT_EQ(*ValidateStep(nullptr, absl::Minutes(15), hour_and_minute),
            absl::Minutes(1));
  EXPECT_EQ(*ValidateStep(nullptr, absl::Minutes(5), hour_and_minute),
            absl::Seconds(5));
  // Only the minute tier answers (the window starts off the hour).
  const absl::Duration minute[] = {absl::Minutes(1)};
  EXPECT_EQ(*ValidateStep(nullptr, absl::Hours(24), minute), absl::Minutes(30));
  // A set step is kept.
  google::protobuf::Duration step;
  step.set_seconds(600);
  EXPECT_EQ(*ValidateStep(&step, absl::Hours(24), hour_and_minute),
            absl::Minutes(10));
}

TEST(ValidateStepTest, ChecksAGivenStep) {
  google::protobuf::Duration step;
  step.set_seconds(90);
  EXPECT_EQ(*ValidateStep(&step, absl::Hours(1)), absl::Seconds(90));
  step.set_seconds(0);
  step.set_nanos(500000000);
  EXPECT_EQ(ErrorOf(ValidateStep(&step, absl::Hours(1))),
            "step: 500ms is below the minimum 1s");
  step.set_seconds(-5);
  step.set_nanos(0);
  EXPECT_EQ(ErrorOf(ValidateStep(&step, absl::Hours(1))),
            "step: -5s must be positive");
  step.set_seconds(1);
  step.set_nanos(-1);
  EXPECT_THAT(ErrorOf(ValidateStep(&step, absl::Hours(1))),
              StartsWith("step: seconds 1 and nanos -1 must have the same "
                         "sign"));
  step.set_seconds(1);
  step.set_nanos(0);
  EXPECT_EQ(ErrorOf(ValidateStep(&step, absl::Hours(2))),
            "step: 1s gives 7200 points over the 2h window; at most 1000 per "
            "series (use a step of at least 8s)");
  // Exactly 1000 points is fine.
  step.set_seconds(36);
  EXPECT_EQ(*ValidateStep(&step, absl::Hours(10)), absl::Seconds(36));
}

TEST(PointCountTest, CountsThePartialLastPoint) {
  EXPECT_EQ(PointCount(absl::Hours(2), absl::Minutes(1)), 120);
  EXPECT_EQ(PointCount(absl::Hours(2), absl::Minutes(7)), 18);
  EXPECT_EQ(PointCount(absl::Seconds(1), absl::Hours(1)), 1);
}

}  // namespace
}  // namespace weir::query
