// The merge operator of the rollup families (m1, h1): a rollup flush adds
// its blocks of entries (rollup_block.h) and node counters with a Merge,
// never a read-modify-write.
//
// Values are value_codec.h rollup values. Merging blocks joins them as
// sorted runs and adds the totals of equal keys; merging totals or counters
// adds them (and takes min first_seen / max last_seen). All of it is
// associative and commutative, so RocksDB may combine operands in any
// grouping during reads, flushes and compactions and always reach the same
// totals.
//
// A value that cannot be decoded (unknown version, wrong size, or a kind
// that does not belong to its key's view) never crashes the process and
// never fails a compaction, which would stop all writes:
// - a partial merge refuses (returns false), so RocksDB keeps the operands
//   as they are and tries again with the full merge;
// - a full merge drops the undecodable operand, keeps every other one, and
//   sets the damaged flag on the result, so readers can say their totals are
//   a lower bound (Totals::damaged).

#ifndef WEIR_QUERYD_STORE_ROLLUP_MERGE_OPERATOR_H_
#define WEIR_QUERYD_STORE_ROLLUP_MERGE_OPERATOR_H_

#include <deque>
#include <string>

#include "rocksdb/merge_operator.h"
#include "rocksdb/slice.h"

namespace weir::store {

class RollupMergeOperator : public rocksdb::MergeOperator {
 public:
  // RocksDB records it in the OPTIONS file: pinned.
  static constexpr char kName[] = "weir.RollupMergeOperator";

  bool FullMergeV2(const MergeOperationInput& merge_in,
                   MergeOperationOutput* merge_out) const override;
  bool PartialMerge(const rocksdb::Slice& key,
                    const rocksdb::Slice& left_operand,
                    const rocksdb::Slice& right_operand, std::string* new_value,
                    rocksdb::Logger* logger) const override;
  bool PartialMergeMulti(const rocksdb::Slice& key,
                         const std::deque<rocksdb::Slice>& operand_list,
                         std::string* new_value,
                         rocksdb::Logger* logger) const override;
  const char* Name() const override { return kName; }
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_ROLLUP_MERGE_OPERATOR_H_
