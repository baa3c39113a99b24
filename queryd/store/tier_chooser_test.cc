#include "queryd/store/tier_chooser.h"

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace weir::store {
namespace {

// 2023-11-14 00:00:00 UTC, a whole day (and hour and minute).
const absl::Time kDay = absl::FromUnixSeconds(1699920000);

class TierChooserTest : public ::testing::Test {
 protected:
  TierChoice Choose(absl::Time start, absl::Time end, uint32_t dimensions,
                    absl::Duration step = absl::ZeroDuration()) {
    QueryNeeds needs;
    needs.dimensions = dimensions;
    needs.step = step;
    absl::StatusOr<TierChoice> choice =
        ChooseTier({start, end}, now_, needs, retention_);
    EXPECT_TRUE(choice.ok()) << choice.status();
    return choice.ok() ? *choice : TierChoice();
  }

  // Defaults: raw 24 h, 1m 7 days, 1h 90 days.
  Retention retention_;
  absl::Time now_ =
      kDay + absl::Hours(24) + absl::Minutes(5) + absl::Seconds(7);
};

TEST_F(TierChooserTest, HourAlignedDayUsesTheHourTier) {
  const TierChoice choice =
      Choose(kDay + absl::Hours(1), kDay + absl::Hours(24), kDimSrcAddr);
  EXPECT_EQ(choice.tier, Tier::kHour);
  EXPECT_EQ(choice.view, View::kSrc);
  EXPECT_EQ(choice.source, "1h/src");
  EXPECT_TRUE(choice.exact);
  EXPECT_EQ(choice.range.start, kDay + absl::Hours(1));
  EXPECT_EQ(choice.counters_tier, Tier::kHour);
}

TEST_F(TierChooserTest, MinuteAlignedWindowUsesTheMinuteTier) {
  const TierChoice choice =
      Choose(kDay + absl::Minutes(90), kDay + absl::Minutes(150), kDimDstAddr);
  EXPECT_EQ(choice.source, "1m/dst");
  EXPECT_TRUE(choice.exact);
}

TEST_F(TierChooserTest, UnalignedRecentWindowUsesRaw) {
  const TierChoice choice = Choose(now_ - absl::Hours(1), now_, kDimSrcAddr);
  EXPECT_EQ(choice.tier, Tier::kRaw);
  EXPECT_EQ(choice.source, "raw");
  EXPECT_TRUE(choice.exact);
  EXPECT_EQ(choice.range.start, now_ - absl::Hours(1));
  // Raw keeps no counters: losses from 1m, widened to whole minutes.
  EXPECT_EQ(choice.counters_tier, Tier::kMinute);
  EXPECT_EQ(choice.counters_range.start,
            kDay + absl::Hours(23) + absl::Minutes(5));
  EXPECT_EQ(choice.counters_range.end,
            kDay + absl::Hours(24) + absl::Minutes(6));
}

TEST_F(TierChooserTest, PicksTheSmallestViewThatKeepsTheDimensions) {
  const absl::Time start = kDay + absl::Hours(2);
  const absl::Time end = kDay + absl::Hours(4);
  EXPECT_EQ(Choose(start, end, 0).source, "1h/protocol");
  EXPECT_EQ(Choose(start, end, kDimProtocol).source, "1h/protocol");
  EXPECT_EQ(Choose(start, end, kDimNode).source, "1h/node");
  EXPECT_EQ(Choose(start, end, kDimNode | kDimInterface).source, "1h/node");
  EXPECT_EQ(Choose(start, end, kDimDirection).source, "1h/node");
  EXPECT_EQ(Choose(start, end, kDimDstPort).source, "1h/dst_port");
  EXPECT_EQ(Choose(start, end, kDimDstPort | kDimProtocol).source,
            "1h/dst_port");
  EXPECT_EQ(Choose(start, end, kDimSrcPort).source, "1h/src_port");
  EXPECT_EQ(Choose(start, end, kDimSrcAddr | kDimDstAddr).source, "1h/pair");
}

TEST_F(TierChooserTest, DimensionsNoViewKeepsNeedRaw) {
  const absl::Time start = kDay + absl::Hours(2);
  const absl::Time end = kDay + absl::Hours(4);
  EXPECT_EQ(Choose(start, end, kDimRecords).source, "raw");
  // A port on either side.
  EXPECT_EQ(Choose(start, end, kDimSrcPort | kDimDstPort).source, "raw");
  EXPECT_EQ(Choose(start, end, kDimNode | kDimSrcAddr).source, "raw");
  EXPECT_EQ(Choose(start, end, kDimProtocol | kDimSrcAddr).source, "raw");
}

TEST_F(TierChooserTest, StepMustBeAMultipleOfTheResolution) {
  const absl::Time start = kDay + absl::Hours(2);
  const absl::Time end = kDay + absl::Hours(4);
  EXPECT_EQ(Choose(start, end, 0, absl::Hours(1)).source, "1h/protocol");
  EXPECT_EQ(Choose(start, end, 0, absl::Minutes(5)).source, "1m/protocol");
  EXPECT_EQ(Choose(start, end, 0, absl::Seconds(90)).source, "raw");
}

TEST_F(TierChooserTest, RetentionMustCoverTheStart) {
  // Minute-aligned, 10 days back: only h1 keeps it, and the window is not
  // hour-aligned: h1 widened, inexact.
  const absl::Time start = kDay - absl::Hours(24 * 9) + absl::Minutes(30);
  const TierChoice choice = Choose(start, start + absl::Hours(2), kDimSrcAddr);
  EXPECT_EQ(choice.source, "1h/src");
  EXPECT_FALSE(choice.exact);
  EXPECT_EQ(choice.range.start, kDay - absl::Hours(24 * 9));
  EXPECT_EQ(choice.range.end, kDay - absl::Hours(24 * 9) + absl::Hours(3));

  // Minute-aligned, 2 days back: m1.
  const absl::Time recent = kDay - absl::Hours(24) + absl::Minutes(30);
  EXPECT_EQ(Choose(recent, recent + absl::Hours(2), kDimSrcAddr).source,
            "1m/src");
  // Unaligned, 2 days back: raw is gone; the finest tier that has it,
  // widened.
  const TierChoice widened =
      Choose(recent + absl::Seconds(1), recent + absl::Hours(2), kDimSrcAddr);
  EXPECT_EQ(widened.source, "1m/src");
  EXPECT_FALSE(widened.exact);
  EXPECT_EQ(widened.range.start, recent);
}

TEST_F(TierChooserTest, TooOldForRawAndNoViewStillAnswersInexactly) {
  const absl::Time start = kDay - absl::Hours(48);
  const TierChoice choice = Choose(start, start + absl::Hours(1), kDimRecords);
  EXPECT_EQ(choice.source, "raw");
  EXPECT_FALSE(choice.exact);
}

TEST_F(TierChooserTest, RejectsEmptyRangesAndNegativeSteps) {
  EXPECT_EQ(ChooseTier({kDay, kDay}, now_, {}, retention_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChooseTier({kDay + absl::Hours(1), kDay}, now_, {}, retention_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  QueryNeeds needs;
  needs.step = -absl::Seconds(1);
  EXPECT_EQ(ChooseTier({kDay, kDay + absl::Hours(1)}, now_, needs, retention_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TierChooserTest, ViewDimensionsArePerView) {
  EXPECT_EQ(ViewDimensions(View::kPair), kDimSrcAddr | kDimDstAddr);
  EXPECT_EQ(ViewDimensions(View::kNode),
            kDimNode | kDimInterface | kDimDirection);
  EXPECT_EQ(ViewDimensions(View::kNodeCounters), 0u);
}

}  // namespace
}  // namespace weir::store
