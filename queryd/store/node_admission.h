// Which batches of a node the store takes: the exactly-once decision of
// WriteBatch (docs/design.md §3), apart from any I/O. A batch carries (epoch,
// seq); the store keeps, per node, the high-water seq of its current epoch.

#ifndef WEIR_QUERYD_STORE_NODE_ADMISSION_H_
#define WEIR_QUERYD_STORE_NODE_ADMISSION_H_

#include <cstdint>

#include "queryd/store/store_types.h"

namespace weir::store {

// A node's high-water mark as stored.
struct HighWater {
  // False until the node's first batch is stored.
  bool known = false;
  uint64_t epoch = 0;
  uint64_t seq = 0;
};

// What to do with a batch, and the seqs it skips.
struct Admission {
  IngestResult::Outcome outcome = IngestResult::Outcome::kStored;
  // kStored only: seqs between the high-water and the batch (in its epoch),
  // or before the batch's seq in a new epoch (which starts at seq 1). The
  // node's first batch skips nothing, whatever its seq.
  uint64_t skipped_seqs = 0;
};

// The decision for a batch (epoch, seq >= 1) of a node at `node`:
// - the node's first batch: stored;
// - an older epoch: kStaleEpoch (counted in the node's stale_batches);
// - the same epoch, seq at or below the high-water: kDuplicate (a replay);
// - the same epoch, a later seq: stored, skipping the seqs in between;
// - a newer epoch (the collector restarted): stored, the high-water starts
//   again, skipping the seqs before this one.
// A stored batch's (epoch, seq) becomes the node's high-water.
Admission Admit(const HighWater& node, uint64_t epoch, uint64_t seq);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_NODE_ADMISSION_H_
