// Crash recovery of the rollup buffer. A stored batch's rollups may be only
// in memory (the buffer) or in memtables written without the WAL when
// queryd stops; its pending record (written with the batch, deleted with
// its rollups) says so. At open, the rollups of every pending batch are
// redone from its raw flows and counters, and written with the WAL.

#ifndef WEIR_QUERYD_STORE_ROLLUP_RECOVERY_H_
#define WEIR_QUERYD_STORE_ROLLUP_RECOVERY_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "queryd/store/node_registry.h"
#include "queryd/store/rocks_db.h"
#include "queryd/store/rollup_buffer.h"

namespace weir::store {

// Redoes the rollups of the pending batches, with the cutoffs their writes
// went by (`cutoff_sec`: retention as of the last batch stored; the
// cutoffs only grow with time, so a flow the buffer could not take then
// still cannot) and the hour tier's merge end. Says what it does through
// `progress` (may be empty). DATA_LOSS when raw does not hold every flow of
// a pending batch.
absl::Status RecoverRollups(
    const RocksDb& db, const NodeRegistry& nodes, const Cutoffs& cutoff_sec,
    uint64_t merge_end_sec,
    const std::function<void(absl::string_view line)>& progress);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_ROLLUP_RECOVERY_H_
