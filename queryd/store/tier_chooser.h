// Which stored tiers and views answer a query: decided here and nowhere
// else, and named in the answer's `source` ("1h/src", "1m/node", "raw",
// "1h/src+1m/src+raw") so users know the resolution they got (docs/design.md
// §4).

#ifndef WEIR_QUERYD_STORE_TIER_CHOOSER_H_
#define WEIR_QUERYD_STORE_TIER_CHOOSER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "queryd/store/schema.h"
#include "queryd/store/store_types.h"

namespace weir::store {

// How long each tier keeps its buckets.
struct Retention {
  absl::Duration raw = absl::Hours(24);
  absl::Duration minute = absl::Hours(24 * 7);
  absl::Duration hour = absl::Hours(24 * 90);

  absl::Duration For(Tier tier) const;
};

// What a query groups or filters by: a bit set of Dimension.
enum Dimension : uint32_t {
  kDimNode = 1u << 0,
  kDimInterface = 1u << 1,
  kDimDirection = 1u << 2,
  kDimProtocol = 1u << 3,
  kDimSrcAddr = 1u << 4,
  kDimDstAddr = 1u << 5,
  kDimSrcPort = 1u << 6,
  kDimDstPort = 1u << 7,
  // Anything only raw records have: individual flows (ListFlows), ICMP
  // type/code, TCP flags, fragments.
  kDimRecords = 1u << 8,
};

// The dimensions a view keeps. kNodeCounters keeps none.
uint32_t ViewDimensions(View view);

struct QueryNeeds {
  // Dimensions grouped or filtered by (Dimension bits). A filter on an
  // address or port "on either side" needs both sides' dimensions.
  uint32_t dimensions = 0;
  // Time series step; zero when the query has none. A rollup tier answers
  // only if its resolution divides the step and step_origin.
  absl::Duration step = absl::ZeroDuration();
  // Where the points' boundaries are counted from (step_origin + k * step),
  // at or before the window's start; read only with a step.
  absl::Time step_origin;
};

// One piece of a plan: a tier read over part of the window.
struct TierPart {
  Tier tier = Tier::kRaw;
  // The view to scan; meaningless for raw.
  View view = View::kProtocol;
  // Flows of raw, or buckets of a rollup tier, whose time lies in range.
  TimeRange range;
};

// Where part of an answer's loss counters come from (Store::ScanNodeCounters).
struct CountersPart {
  Tier tier = Tier::kMinute;
  TimeRange range;
};

struct TierChoice {
  // What to scan, in time order. The parts tile the scanned window without
  // overlapping, so every flow is read exactly once: the query's own window
  // when exact; otherwise the window widened to the buckets of one tier.
  std::vector<TierPart> parts;
  // True when the data scanned is exactly the query's window and all of it
  // is still retained. False when the window had to be widened to whole
  // buckets, or starts before the retention of every tier that can answer
  // it (older data is gone).
  bool exact = true;
  // The names of the parts' tiers, coarsest first, joined by "+": "raw",
  // "1h/src", or for a split window "1h/src+1m/src+raw".
  std::string source;
  // Where the answer's loss counters come from, covering the whole scanned
  // window: a rollup part's own tier and range; for a raw part, which keeps
  // no counters, the finest rollup tier still covering its start, with its
  // range widened to that tier's buckets (losses are never under-reported).
  std::vector<CountersPart> counters;
};

// The resolutions of the rollup tiers whose buckets could hold the points
// of a time series over `range` counted from the Unix epoch, coarsest
// first: one of their views keeps `dimensions` and their retention still
// covers the window's start. ChooseTier reads such a tier for a step that
// is a multiple of its resolution, so a default step is picked from these.
std::vector<absl::Duration> SeriesResolutions(const TimeRange& range,
                                              absl::Time now,
                                              uint32_t dimensions,
                                              const Retention& retention);

// How a window is read. A rollup tier can read a part of it when one of its
// views keeps every needed dimension (the view with the fewest entries is
// picked) and, for a time series, its resolution divides the step and the
// points' origin, so that no point boundary falls inside a bucket.
//
// The window is split: the whole buckets of the coarsest such tier in the
// middle, the partial buckets at the edges from the next finer tier, and so
// on down to raw for the partial minutes, all exact. An aligned window is
// one part ("1h/src"); "the last 24 h" ending at 10:17:23 reads raw from
// 10:17:23 the day before to 10:18, 1m to 11:00, 1h to 10:00 on the last
// day, 1m to 10:17 and raw for the last 23 s ("1h/src+1m/src+raw").
//
// Every part's start must be within its tier's retention (measured from
// `now`). When one is not, raw answers alone if its retention covers the
// start; failing that, the finest rollup tier that still covers the start
// and has a fitting view, with the window widened outward to whole buckets;
// failing that, raw (whose older part is gone). In those last two cases
// `exact` is false.
//
// The hour tier holds only the hours before `hour_end` (Store::HourTierEnd:
// an hour's flow views are summed from m1 once it has closed), so no part
// reads it at or after that; the minute tier, which keeps every hour not
// yet summed, reads those hours instead.
//
// INVALID_ARGUMENT when the range is empty or reversed, or the step is
// negative.
absl::StatusOr<TierChoice> ChooseTier(
    const TimeRange& range, absl::Time now, const QueryNeeds& needs,
    const Retention& retention, absl::Time hour_end = absl::InfiniteFuture());

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_TIER_CHOOSER_H_
