#include "queryd/store/tier_chooser.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace weir::store {
namespace {

// 2023-11-14 00:00:00 UTC, a whole day (and hour and minute).
const absl::Time kDay = absl::FromUnixSeconds(1699920000);

std::string Clock(absl::Time t) {
  return absl::FormatTime("%H:%M:%S", t, absl::UTCTimeZone());
}

// "1h/src [01:00:00, 00:00:00) raw [...)": each part's name and range.
std::string Parts(const TierChoice& choice) {
  std::vector<std::string> parts;
  for (const TierPart& part : choice.parts) {
    const std::string name =
        part.tier == Tier::kRaw
            ? std::string{TierName(part.tier)}
            : absl::StrCat(TierName(part.tier), "/", ViewName(part.view));
    parts.push_back(absl::StrCat(name, " [", Clock(part.range.start), ", ",
                                 Clock(part.range.end), ")"));
  }
  return absl::StrJoin(parts, " ");
}

// "1m [23:05:00, 23:06:00) ...": each counters part's tier and range.
std::string Counters(const TierChoice& choice) {
  std::vector<std::string> parts;
  for (const CountersPart& part : choice.counters) {
    parts.push_back(absl::StrCat(TierName(part.tier), " [",
                                 Clock(part.range.start), ", ",
                                 Clock(part.range.end), ")"));
  }
  return absl::StrJoin(parts, " ");
}

class TierChooserTest : public ::testing::Test {
 protected:
  TierChoice Choose(absl::Time start, absl::Time end, uint32_t dimensions,
                    absl::Duration step = absl::ZeroDuration()) {
    QueryNeeds needs;
    needs.dimensions = dimensions;
    needs.step = step;
    needs.step_origin = start;
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
  EXPECT_EQ(Parts(choice), "1h/src [01:00:00, 00:00:00)");
  EXPECT_EQ(choice.parts[0].view, View::kSrc);
  EXPECT_EQ(choice.source, "1h/src");
  EXPECT_TRUE(choice.exact);
  EXPECT_EQ(Counters(choice), "1h [01:00:00, 00:00:00)");
}

TEST_F(TierChooserTest, MinuteAlignedWindowUsesTheMinuteTier) {
  const TierChoice choice =
      Choose(kDay + absl::Minutes(90), kDay + absl::Minutes(150), kDimDstAddr);
  EXPECT_EQ(choice.source, "1m/dst");
  EXPECT_TRUE(choice.exact);
}

TEST_F(TierChooserTest, UnalignedHourSplitsIntoMinutesAndRaw) {
  // 23:05:07 to 00:05:07: no whole hour inside.
  const TierChoice choice = Choose(now_ - absl::Hours(1), now_, kDimSrcAddr);
  EXPECT_EQ(Parts(choice),
            "raw [23:05:07, 23:06:00) "
            "1m/src [23:06:00, 00:05:00) "
            "raw [00:05:00, 00:05:07)");
  EXPECT_EQ(choice.source, "1m/src+raw");
  EXPECT_TRUE(choice.exact);
  // Raw keeps no counters: its parts' losses from 1m, widened to whole
  // minutes, which meet the 1m part's and do not overlap them.
  EXPECT_EQ(Counters(choice),
            "1m [23:05:00, 23:06:00) "
            "1m [23:06:00, 00:05:00) "
            "1m [00:05:00, 00:06:00)");
}

TEST_F(TierChooserTest, UnalignedDaySplitsIntoHoursMinutesAndRaw) {
  const TierChoice choice = Choose(now_ - absl::Hours(24), now_, kDimSrcAddr);
  EXPECT_EQ(Parts(choice),
            "raw [00:05:07, 00:06:00) "
            "1m/src [00:06:00, 01:00:00) "
            "1h/src [01:00:00, 00:00:00) "
            "1m/src [00:00:00, 00:05:00) "
            "raw [00:05:00, 00:05:07)");
  EXPECT_EQ(choice.parts[2].range.start, kDay + absl::Hours(1));
  EXPECT_EQ(choice.parts[2].range.end, kDay + absl::Hours(24));
  EXPECT_EQ(choice.source, "1h/src+1m/src+raw");
  EXPECT_TRUE(choice.exact);
  EXPECT_EQ(Counters(choice),
            "1m [00:05:00, 00:06:00) "
            "1m [00:06:00, 01:00:00) "
            "1h [01:00:00, 00:00:00) "
            "1m [00:00:00, 00:05:00) "
            "1m [00:05:00, 00:06:00)");
}

TEST_F(TierChooserTest, SplitEdgesMayBeEmpty) {
  // Whole minutes, not whole hours: no raw part.
  EXPECT_EQ(
      Parts(Choose(kDay + absl::Minutes(50),
                   kDay + absl::Hours(3) + absl::Minutes(10), kDimDstAddr)),
      "1m/dst [00:50:00, 01:00:00) "
      "1h/dst [01:00:00, 03:00:00) "
      "1m/dst [03:00:00, 03:10:00)");
  // An hour-aligned start and an end a few seconds into a minute.
  EXPECT_EQ(
      Parts(Choose(kDay + absl::Hours(1),
                   kDay + absl::Hours(2) + absl::Seconds(4), kDimDstAddr)),
      "1h/dst [01:00:00, 02:00:00) raw [02:00:00, 02:00:04)");
  // Within one minute: raw only.
  const absl::Time noon = kDay + absl::Hours(12);
  const TierChoice inside =
      Choose(noon + absl::Seconds(3), noon + absl::Seconds(50), kDimDstAddr);
  EXPECT_EQ(Parts(inside), "raw [12:00:03, 12:00:50)");
  EXPECT_EQ(inside.source, "raw");
}

TEST_F(TierChooserTest, TimeSeriesSplitsOnlyAtPointBoundaries) {
  // Hour steps from a whole hour: the partial last hour from 1m and raw.
  EXPECT_EQ(Parts(Choose(kDay + absl::Hours(1),
                         kDay + absl::Hours(3) + absl::Seconds(90), 0,
                         absl::Hours(1))),
            "1h/protocol [01:00:00, 03:00:00) "
            "1m/protocol [03:00:00, 03:01:00) "
            "raw [03:01:00, 03:01:30)");
  // From a whole minute, hour steps put point boundaries inside hour
  // buckets: minutes and raw only.
  EXPECT_EQ(Parts(Choose(kDay + absl::Minutes(30),
                         kDay + absl::Hours(3) + absl::Minutes(30), 0,
                         absl::Hours(1))),
            "1m/protocol [00:30:00, 03:30:00)");
  // From a second past the minute, no bucket fits a point: raw.
  EXPECT_EQ(Parts(Choose(kDay + absl::Hours(1) + absl::Seconds(1),
                         kDay + absl::Hours(3), 0, absl::Hours(1))),
            "raw [01:00:01, 03:00:00)");
}

TEST_F(TierChooserTest, PointsCountedFromAnEarlierOriginSplitOnItsGrid) {
  // Hour steps counted from 01:00 (a default step's epoch grid) over a
  // window from 01:17:23: its points' edges are whole hours, so the hours
  // inside are read from 1h.
  QueryNeeds needs;
  needs.step = absl::Hours(1);
  needs.step_origin = kDay + absl::Hours(1);
  absl::StatusOr<TierChoice> choice =
      ChooseTier({kDay + absl::Hours(1) + absl::Minutes(17) + absl::Seconds(23),
                  kDay + absl::Hours(4)},
                 now_, needs, retention_);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(Parts(*choice),
            "raw [01:17:23, 01:18:00) "
            "1m/protocol [01:18:00, 02:00:00) "
            "1h/protocol [02:00:00, 04:00:00)");
  // Counted from the window's start instead, no bucket fits a point.
  needs.step_origin =
      kDay + absl::Hours(1) + absl::Minutes(17) + absl::Seconds(23);
  choice = ChooseTier({needs.step_origin, kDay + absl::Hours(4)}, now_, needs,
                      retention_);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->source, "raw");
}

TEST_F(TierChooserTest, SeriesResolutionsNeedAViewAndRetention) {
  const TimeRange recent = {now_ - absl::Hours(24), now_};
  EXPECT_EQ(SeriesResolutions(recent, now_, kDimSrcAddr, retention_),
            (std::vector<absl::Duration>{absl::Hours(1), absl::Minutes(1)}));
  // Ten days back: only the hour tier still has the start.
  const TimeRange old = {now_ - absl::Hours(24 * 10), now_};
  EXPECT_EQ(SeriesResolutions(old, now_, kDimSrcAddr, retention_),
            (std::vector<absl::Duration>{absl::Hours(1)}));
  // No view keeps records: none.
  EXPECT_TRUE(SeriesResolutions(recent, now_, kDimRecords, retention_).empty());
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
  ASSERT_EQ(choice.parts.size(), 1u);
  EXPECT_EQ(choice.parts[0].range.start, kDay - absl::Hours(24 * 9));
  EXPECT_EQ(choice.parts[0].range.end,
            kDay - absl::Hours(24 * 9) + absl::Hours(3));

  // Minute-aligned, 2 days back: m1 for the partial hours, h1 between.
  const absl::Time recent = kDay - absl::Hours(24) + absl::Minutes(30);
  const TierChoice minutes =
      Choose(recent, recent + absl::Hours(2), kDimSrcAddr);
  EXPECT_EQ(minutes.source, "1h/src+1m/src");
  EXPECT_TRUE(minutes.exact);
  // Unaligned, 2 days back: raw is gone; the finest tier that has it,
  // widened.
  const TierChoice widened =
      Choose(recent + absl::Seconds(1), recent + absl::Hours(2), kDimSrcAddr);
  EXPECT_EQ(widened.source, "1m/src");
  EXPECT_FALSE(widened.exact);
  ASSERT_EQ(widened.parts.size(), 1u);
  EXPECT_EQ(widened.parts[0].range.start, recent);
  EXPECT_EQ(Counters(widened), "1m [00:30:00, 02:30:00)");

  // Hour-aligned in the middle, 2 days back: the edges' partial minutes
  // would come from raw, which no longer has them. The whole window falls
  // back as above rather than mixing exact and widened parts.
  const TierChoice split_too_old =
      Choose(recent + absl::Seconds(1), recent + absl::Hours(3), kDimSrcAddr);
  EXPECT_EQ(split_too_old.source, "1m/src");
  EXPECT_FALSE(split_too_old.exact);
}

TEST_F(TierChooserTest, HoursNotYetInTheHourTierComeFromMinutes) {
  QueryNeeds needs;
  needs.dimensions = kDimSrcAddr;
  // The last day, with hours from 22:00 on still only in m1.
  const absl::Time hour_end = kDay + absl::Hours(22);
  absl::StatusOr<TierChoice> choice = ChooseTier(
      {now_ - absl::Hours(24), now_}, now_, needs, retention_, hour_end);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(Parts(*choice),
            "raw [00:05:07, 00:06:00) "
            "1m/src [00:06:00, 01:00:00) "
            "1h/src [01:00:00, 22:00:00) "
            "1m/src [22:00:00, 00:05:00) "
            "raw [00:05:00, 00:05:07)");
  EXPECT_EQ(choice->source, "1h/src+1m/src+raw");
  EXPECT_TRUE(choice->exact);
  EXPECT_EQ(Counters(*choice),
            "1m [00:05:00, 00:06:00) "
            "1m [00:06:00, 01:00:00) "
            "1h [01:00:00, 22:00:00) "
            "1m [22:00:00, 00:05:00) "
            "1m [00:05:00, 00:06:00)");
  // An hour-aligned window with none of its hours in h1 yet: m1 only.
  choice = ChooseTier({kDay + absl::Hours(22), kDay + absl::Hours(24)}, now_,
                      needs, retention_, hour_end);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(Parts(*choice), "1m/src [22:00:00, 00:00:00)");
  // A bound inside an hour counts from that hour's start.
  choice = ChooseTier({kDay + absl::Hours(20), kDay + absl::Hours(24)}, now_,
                      needs, retention_, hour_end + absl::Minutes(30));
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(Parts(*choice),
            "1h/src [20:00:00, 22:00:00) 1m/src [22:00:00, 00:00:00)");
  // A time series with hour steps splits there too: the bound is a point
  // boundary.
  needs.step = absl::Hours(1);
  needs.step_origin = kDay;
  choice = ChooseTier({kDay + absl::Hours(20), kDay + absl::Hours(24)}, now_,
                      needs, retention_, hour_end);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(Parts(*choice),
            "1h/src [20:00:00, 22:00:00) 1m/src [22:00:00, 00:00:00)");
}

TEST_F(TierChooserTest, AWidenedHourWindowReadsLaterHoursFromMinutes) {
  // Ten days back to two days back: only h1 keeps the start, so the window
  // is widened to its hours; h1 holds them up to 4 days back, m1 the rest
  // exactly (it keeps every hour h1 does not hold yet).
  QueryNeeds needs;
  needs.dimensions = kDimSrcAddr;
  const absl::Time start = kDay - absl::Hours(24 * 9) + absl::Minutes(30);
  const absl::Time end = kDay - absl::Hours(24) + absl::Minutes(30);
  const absl::Time hour_end = kDay - absl::Hours(24 * 3);
  absl::StatusOr<TierChoice> choice =
      ChooseTier({start, end}, now_, needs, retention_, hour_end);
  ASSERT_TRUE(choice.ok()) << choice.status();
  ASSERT_EQ(choice->parts.size(), 2u);
  EXPECT_EQ(choice->parts[0].tier, Tier::kHour);
  EXPECT_EQ(choice->parts[0].range.start, kDay - absl::Hours(24 * 9));
  EXPECT_EQ(choice->parts[0].range.end, hour_end);
  EXPECT_EQ(choice->parts[1].tier, Tier::kMinute);
  EXPECT_EQ(choice->parts[1].range.start, hour_end);
  EXPECT_EQ(choice->parts[1].range.end, end);
  EXPECT_EQ(choice->source, "1h/src+1m/src");
  EXPECT_FALSE(choice->exact);
  // Without the bound: h1 alone, widened, as before.
  choice = ChooseTier({start, end}, now_, needs, retention_);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->source, "1h/src");
  ASSERT_EQ(choice->parts.size(), 1u);
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
