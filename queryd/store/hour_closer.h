// Closing hours into the hour tier (format version 5): h1's flow views are
// summed from m1 when an hour closes, not merged into h1 with every rollup
// write (Store::kHourCloseDelay, Store::HourTierEnd). Owns the newest flow
// time that says which hours the stored flows have passed, and moves the
// hour tier's ends (TierBounds).

#ifndef WEIR_QUERYD_STORE_HOUR_CLOSER_H_
#define WEIR_QUERYD_STORE_HOUR_CLOSER_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "queryd/store/rocks_db.h"
#include "queryd/store/rollup_flusher.h"
#include "queryd/store/schema.h"
#include "queryd/store/store_reader.h"
#include "queryd/store/store_types.h"
#include "queryd/store/tier_bounds.h"
#include "rocksdb/snapshot.h"
#include "rocksdb/write_batch.h"

namespace weir::store {

class HourCloser {
 public:
  // `close_delay`: Store::kHourCloseDelay.
  HourCloser(const RocksDb& db, const StoreReader& reader,
             RollupFlusher& flusher, TierBounds& bounds,
             absl::Duration close_delay);

  // A write stored flows up to `newest_ns` (last_seen).
  void Stored(uint64_t newest_ns);

  // Where the stored flows say hours have closed: the start of the hour
  // that was open close_delay before the newest flow stored (or now, if
  // earlier). 0 before any flow.
  uint64_t ClosedByFlowsSec() const;
  // Whether the stored flows have passed an hour h1 does not hold yet.
  bool Due() const { return ClosedByFlowsSec() > bounds_.hour_end_sec.load(); }

  // Closes every hour before `end_sec` (a whole hour) that m1 holds flows
  // of and h1 does not hold yet (from the hour tier's end on), one at a
  // time: under the flusher's lock and retention_mu (exclusive), writes the
  // rollup buffer out, takes a snapshot and moves the merge end past the
  // hour, so every later write merges its flows into h1 as well; then, with
  // writers going on, sums the hour's minutes of the snapshot into h1
  // (merged: it holds only those later flows) and moves the hour tier's
  // end. Past the last hour with flows in m1 the end moves on, over hours
  // without any, to `skip_to_sec` at most. The summing skips the WAL, as
  // rollup writes do: a crash loses it only with every rollup write after
  // it, and the next open clears what a half-written hour left in h1
  // (ClearOpenHours) and closes it again. Sets *summed when an hour was
  // summed.
  absl::Status CloseHours(uint64_t end_sec, uint64_t skip_to_sec,
                          bool* summed = nullptr);
  // CloseHours for the hours the stored flows have passed.
  absl::Status CloseHoursPassed();

  // At open: deletes the flow views of h1 from the hour tier's end on,
  // which a crash while an hour was being summed can leave (m1 holds all
  // of them), so that closing those hours counts each flow once.
  absl::Status ClearOpenHours();

  // Before a read of `tier` over `range`: writes the rollup buffer out,
  // and for h1 closes the hours of the range that m1 holds flows of.
  absl::Status ReadyToRead(Tier tier, const TimeRange& range);

  // Store::HourTierEnd.
  absl::StatusOr<absl::Time> HourTierEnd(const TimeRange& range,
                                         absl::Time now);

 private:
  // Sums the blocks of one flow view in the minutes (in `snapshot`) of the
  // hour starting at `hour_sec` into h1 blocks, merged into `out`.
  absl::Status SumHourView(uint64_t hour_sec, View view,
                           const rocksdb::Snapshot* snapshot,
                           rocksdb::WriteBatch* out) const;

  const RocksDb& db_;
  const StoreReader& reader_;
  RollupFlusher& flusher_;
  TierBounds& bounds_;
  const absl::Duration close_delay_;
  // Taken before the flusher's lock: one closes hours at a time.
  absl::Mutex mu_;
  // The newest last_seen of a stored flow (ns; 0 for none since open).
  std::atomic<uint64_t> newest_flow_ns_{0};
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_HOUR_CLOSER_H_
