// Which stored tier and view answer a query: decided here and nowhere else,
// and named in the answer's `source` ("1h/src", "1m/node", "raw") so users
// know the resolution they got (DESIGN §6).

#ifndef WEIR_QUERYD_STORE_TIER_CHOOSER_H_
#define WEIR_QUERYD_STORE_TIER_CHOOSER_H_

#include <cstdint>
#include <string>

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
  // Time series step; zero when the query has none. A tier answers only if
  // its resolution divides the step.
  absl::Duration step = absl::ZeroDuration();
};

struct TierChoice {
  Tier tier = Tier::kRaw;
  // The view to scan; meaningless for raw.
  View view = View::kProtocol;
  // The window to scan: the query's own when exact; otherwise widened to the
  // tier's buckets.
  TimeRange range;
  // True when the data scanned is exactly the query's window and all of it
  // is still retained. False when the window had to be widened to whole
  // buckets, or starts before the retention of every tier that can answer
  // it (older data is gone).
  bool exact = true;
  // "raw", or "<tier>/<view>" such as "1h/src".
  std::string source;
  // Where the answer's loss counters come from (Store::ScanNodeCounters):
  // the chosen tier and range for a rollup; for raw, which keeps no
  // counters, the finest rollup tier still covering the start, with the
  // window widened to its buckets (losses are never under-reported).
  Tier counters_tier = Tier::kMinute;
  TimeRange counters_range;
};

// The coarsest tier that answers `range` exactly: its resolution divides the
// window's start, end and the step; its retention (measured from `now`)
// still covers the start; and one of its views keeps every needed
// dimension (the view with the fewest entries is picked). Raw answers every
// window exactly while its retention covers the start.
//
// When no tier answers exactly: the finest rollup tier that still covers the
// start and has a fitting view, with the window widened outward to whole
// buckets; failing that, raw (whose older part is gone). Either way
// `exact` is false.
//
// INVALID_ARGUMENT when the range is empty or reversed, or the step is
// negative.
absl::StatusOr<TierChoice> ChooseTier(const TimeRange& range, absl::Time now,
                                      const QueryNeeds& needs,
                                      const Retention& retention);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_TIER_CHOOSER_H_
