#include "queryd/store/tier_chooser.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

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

std::string PartName(const TierPart& part) {
  return part.tier == Tier::kRaw
             ? std::string{TierName(part.tier)}
             : absl::StrCat(TierName(part.tier), "/", ViewName(part.view));
}

// Appends parts that read `range` exactly: the whole buckets of tiers[0] in
// the middle, the edges around them from the finer tiers[1...], and raw for
// whatever no tier's buckets fit. `tiers` go from coarse to fine. The hour
// tier reads no hour at or after `hour_end`: those come from the finer
// tiers.
void Split(const TimeRange& range, absl::Span<const Tier> tiers, View view,
           absl::Time hour_end, std::vector<TierPart>* out) {
  if (range.start >= range.end) return;
  if (tiers.empty()) {
    out->push_back({Tier::kRaw, View::kProtocol, range});
    return;
  }
  const absl::Duration resolution = TierResolution(tiers[0]);
  const absl::Time first = CeilTo(range.start, resolution);
  absl::Time last = FloorTo(range.end, resolution);
  if (tiers[0] == Tier::kHour) last = std::min(last, hour_end);
  if (first >= last) {
    Split(range, tiers.subspan(1), view, hour_end, out);
    return;
  }
  Split({range.start, first}, tiers.subspan(1), view, hour_end, out);
  out->push_back({tiers[0], view, {first, last}});
  Split({last, range.end}, tiers.subspan(1), view, hour_end, out);
}

TierChoice Choice(std::vector<TierPart> parts, bool exact, absl::Time now,
                  const Retention& retention) {
  TierChoice choice;
  choice.parts = std::move(parts);
  choice.exact = exact;
  // Coarsest first, each name once.
  std::vector<std::string> names;
  for (Tier tier : {Tier::kHour, Tier::kMinute, Tier::kRaw}) {
    for (const TierPart& part : choice.parts) {
      if (part.tier != tier) continue;
      std::string name = PartName(part);
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(std::move(name));
      }
    }
  }
  choice.source = absl::StrJoin(names, "+");
  for (const TierPart& part : choice.parts) {
    if (part.tier != Tier::kRaw) {
      choice.counters.push_back({part.tier, part.range});
      continue;
    }
    const Tier tier = part.range.start >= now - retention.minute ? Tier::kMinute
                                                                 : Tier::kHour;
    choice.counters.push_back({tier, Widen(part.range, tier)});
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

std::vector<absl::Duration> SeriesResolutions(const TimeRange& range,
                                              absl::Time now,
                                              uint32_t dimensions,
                                              const Retention& retention) {
  std::vector<absl::Duration> resolutions;
  if (!FittingView(dimensions).has_value()) return resolutions;
  for (Tier tier : {Tier::kHour, Tier::kMinute}) {
    const absl::Duration resolution = TierResolution(tier);
    if (range.start >= now - retention.For(tier)) {
      resolutions.push_back(resolution);
    }
  }
  return resolutions;
}

absl::StatusOr<TierChoice> ChooseTier(const TimeRange& range, absl::Time now,
                                      const QueryNeeds& needs,
                                      const Retention& retention,
                                      absl::Time hour_end) {
  if (range.start >= range.end) {
    return absl::InvalidArgumentError(absl::StrCat(
        "range: start (", absl::FormatTime(range.start),
        ") must be before end (", absl::FormatTime(range.end), ")"));
  }
  if (needs.step < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "step: must not be negative, got ", absl::FormatDuration(needs.step)));
  }
  auto covers = [&](Tier tier, absl::Time start) {
    return start >= now - retention.For(tier);
  };
  const std::optional<View> view = FittingView(needs.dimensions);

  // Rollup tiers that may read part of the window, coarsest first.
  std::vector<Tier> tiers;
  if (view.has_value()) {
    for (Tier tier : {Tier::kHour, Tier::kMinute}) {
      const absl::Duration resolution = TierResolution(tier);
      if (needs.step == absl::ZeroDuration() ||
          (IsMultiple(needs.step, resolution) &&
           IsAligned(needs.step_origin, resolution))) {
        tiers.push_back(tier);
      }
    }
  }
  // Hours the hour tier does not hold yet are never read from it.
  if (hour_end != absl::InfiniteFuture()) {
    hour_end = FloorTo(hour_end, TierResolution(Tier::kHour));
  }
  std::vector<TierPart> parts;
  Split(range, tiers, view.value_or(View::kProtocol), hour_end, &parts);
  if (std::all_of(parts.begin(), parts.end(), [&](const TierPart& part) {
        return covers(part.tier, part.range.start);
      })) {
    return Choice(std::move(parts), /*exact=*/true, now, retention);
  }

  // Some edge is older than its tier keeps.
  const TierPart whole_raw = {Tier::kRaw, View::kProtocol, range};
  if (covers(Tier::kRaw, range.start)) {
    return Choice({whole_raw}, /*exact=*/true, now, retention);
  }
  if (view.has_value()) {
    for (Tier tier : {Tier::kMinute, Tier::kHour}) {
      if (!covers(tier, range.start)) continue;
      const TimeRange widened = Widen(range, tier);
      if (tier == Tier::kMinute || widened.end <= hour_end) {
        return Choice({{tier, *view, widened}}, /*exact=*/false, now,
                      retention);
      }
      // The hours the hour tier does not hold yet are in m1 (which keeps
      // every hour it has not given to h1): read exactly from there.
      if (hour_end <= widened.start) {
        return Choice({{Tier::kMinute, *view, Widen(range, Tier::kMinute)}},
                      /*exact=*/false, now, retention);
      }
      std::vector<TierPart> split = {{tier, *view, {widened.start, hour_end}}};
      Split({hour_end, range.end}, {Tier::kMinute}, *view, hour_end, &split);
      return Choice(std::move(split), /*exact=*/false, now, retention);
    }
  }
  return Choice({whole_raw}, /*exact=*/false, now, retention);
}

}  // namespace weir::store
