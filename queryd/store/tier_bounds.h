// Where each tier starts and the hour tier ends: what every write and read
// of the store goes by. Owned by the store; EnforceRetention alone moves
// the retention cutoffs, the hour closer (hour_closer.h) alone the hour
// tier's ends.

#ifndef WEIR_QUERYD_STORE_TIER_BOUNDS_H_
#define WEIR_QUERYD_STORE_TIER_BOUNDS_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "queryd/store/rollup_buffer.h"

namespace weir::store {

struct TierBounds {
  // Writers hold it shared, EnforceRetention and the hour closer
  // exclusively: no write can land below a cutoff once its DeleteRange is
  // written, and none picks its tiers by a merge end that is moving.
  mutable absl::Mutex retention_mu;
  // Per tier, the first bucket (Unix seconds) not yet deleted; 0 until the
  // first EnforceRetention of this process.
  Cutoffs retained_from_sec ABSL_GUARDED_BY(retention_mu) = {0, 0, 0};

  // The hour tier's end (kHourTierEndKey): h1's flow views hold every hour
  // before it. Only grows. Read by queries without a lock: any value they
  // see is one h1 holds.
  std::atomic<uint64_t> hour_end_sec{0};
  // Writes merge the flows of hours before it into h1 too; those of later
  // hours go to m1 only. At or past hour_end_sec (past it while an hour is
  // being summed). Only grows, and only with the rollup flusher's lock and
  // retention_mu held exclusively, so a writer holding either sees it
  // fixed.
  std::atomic<uint64_t> merge_end_sec{0};
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_TIER_BOUNDS_H_
