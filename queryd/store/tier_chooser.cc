#include "queryd/store/tier_chooser.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace weir::store {
namespace {

// Flow views from the fewest entries to the most: when several keep what a
// query needs, the first is read.
constexpr View kViewsBySize[] = {
    View::kProtocol, View::kNode, View::kDstPort, View::kSrcPort,
    View::kDst,      View::kSrc,  View::kPair,
};

bool IsMultiple(absl::Duration d, absl::Duration unit) {
  absl::Duration rem;
  absl::IDivDuration(d, unit, &rem);
  return rem == absl::ZeroDuration();
}

bool IsAligned(absl::Time t, absl::Duration unit) {
  return IsMultiple(t - absl::UnixEpoch(), unit);
}

absl::Time FloorTo(absl::Time t, absl::Duration unit) {
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), unit);
}

absl::Time CeilTo(absl::Time t, absl::Duration unit) {
  const absl::Time floor = FloorTo(t, unit);
  return floor == t ? t : floor + unit;
}

std::optional<View> FittingView(uint32_t dimensions) {
  for (View view : kViewsBySize) {
    if ((ViewDimensions(view) & dimensions) == dimensions) return view;
  }
  return std::nullopt;
}

TimeRange Widen(const TimeRange& range, Tier tier) {
  const absl::Duration resolution = TierResolution(tier);
  return {FloorTo(range.start, resolution), CeilTo(range.end, resolution)};
}

TierChoice Choice(Tier tier, View view, const TimeRange& range, bool exact,
                  absl::Time now, const Retention& retention) {
  TierChoice choice;
  choice.tier = tier;
  choice.view = view;
  choice.range = range;
  choice.exact = exact;
  choice.source = tier == Tier::kRaw
                      ? std::string{TierName(tier)}
                      : absl::StrCat(TierName(tier), "/", ViewName(view));
  if (tier == Tier::kRaw) {
    choice.counters_tier =
        range.start >= now - retention.minute ? Tier::kMinute : Tier::kHour;
    choice.counters_range = Widen(range, choice.counters_tier);
  } else {
    choice.counters_tier = tier;
    choice.counters_range = range;
  }
  return choice;
}

}  // namespace

absl::Duration Retention::For(Tier tier) const {
  switch (tier) {
    case Tier::kRaw:
      return raw;
    case Tier::kMinute:
      return minute;
    case Tier::kHour:
      return hour;
  }
  return raw;
}

uint32_t ViewDimensions(View view) {
  switch (view) {
    case View::kSrc:
      return kDimSrcAddr;
    case View::kDst:
      return kDimDstAddr;
    case View::kPair:
      return kDimSrcAddr | kDimDstAddr;
    case View::kSrcPort:
      return kDimProtocol | kDimSrcPort;
    case View::kDstPort:
      return kDimProtocol | kDimDstPort;
    case View::kProtocol:
      return kDimProtocol;
    case View::kNode:
      return kDimNode | kDimInterface | kDimDirection;
    case View::kNodeCounters:
      return 0;
  }
  return 0;
}

absl::StatusOr<TierChoice> ChooseTier(const TimeRange& range, absl::Time now,
                                      const QueryNeeds& needs,
                                      const Retention& retention) {
  if (range.start >= range.end) {
    return absl::InvalidArgumentError(absl::StrCat(
        "range: start (", absl::FormatTime(range.start),
        ") must be before end (", absl::FormatTime(range.end), ")"));
  }
  if (needs.step < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "step: must not be negative, got ", absl::FormatDuration(needs.step)));
  }
  auto covers_start = [&](Tier tier) {
    return range.start >= now - retention.For(tier);
  };
  const std::optional<View> view = FittingView(needs.dimensions);

  if (view.has_value()) {
    for (Tier tier : {Tier::kHour, Tier::kMinute}) {
      const absl::Duration resolution = TierResolution(tier);
      if (IsAligned(range.start, resolution) &&
          IsAligned(range.end, resolution) &&
          IsMultiple(needs.step, resolution) && covers_start(tier)) {
        return Choice(tier, *view, range, /*exact=*/true, now, retention);
      }
    }
  }
  if (covers_start(Tier::kRaw)) {
    return Choice(Tier::kRaw, View::kProtocol, range, /*exact=*/true, now,
                  retention);
  }
  if (view.has_value()) {
    for (Tier tier : {Tier::kMinute, Tier::kHour}) {
      if (!covers_start(tier)) continue;
      return Choice(tier, *view, Widen(range, tier), /*exact=*/false, now,
                    retention);
    }
  }
  return Choice(Tier::kRaw, View::kProtocol, range, /*exact=*/false, now,
                retention);
}

}  // namespace weir::store
