#include "queryd/store/node_admission.h"

namespace weir::store {

Admission Admit(const HighWater& node, uint64_t epoch, uint64_t seq) {
  Admission admission;
  if (!node.known) return admission;
  if (epoch < node.epoch) {
    admission.outcome = IngestResult::Outcome::kStaleEpoch;
  } else if (epoch == node.epoch && seq <= node.seq) {
    admission.outcome = IngestResult::Outcome::kDuplicate;
  } else if (epoch == node.epoch) {
    admission.skipped_seqs = seq - node.seq - 1;
  } else {
    // A new epoch restarts seq at 1.
    admission.skipped_seqs = seq - 1;
  }
  return admission;
}

}  // namespace weir::store
