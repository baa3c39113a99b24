#include "queryd/store/rollup_merge_operator.h"

#include <deque>
#include <string>
#include <vector>

#include "queryd/store/key_codec.h"
#include "queryd/store/rollup_block.h"
#include "queryd/store/schema.h"
#include "queryd/store/store_types.h"
#include "queryd/store/value_codec.h"
#include "rocksdb/env.h"

namespace weir::store {
namespace {

// The kind of value a rollup key holds: blocks under block keys, counters
// under node counter keys, and per-entry totals under the flow view keys
// of format versions 1 and 2 (until Open converts them).
RollupKind KindForKey(const rocksdb::Slice& key, BlockKey* block) {
  if (DecodeBlockKey(absl::string_view(key.data(), key.size()), block)) {
    return RollupKind::kBlock;
  }
  if (key.size() > kBucketPrefixSize &&
      static_cast<uint8_t>(key[kBucketPrefixSize]) ==
          static_cast<uint8_t>(View::kNodeCounters)) {
    return RollupKind::kCounters;
  }
  return RollupKind::kTotals;
}

// Sums decodable values of one kind.
class Accumulator {
 public:
  explicit Accumulator(const rocksdb::Slice& key)
      : kind_(KindForKey(key, &block_key_)) {}

  // Adds one value; false (and nothing added) if it is not a value of this
  // accumulator's kind.
  bool Add(const rocksdb::Slice& value) {
    const absl::string_view in(value.data(), value.size());
    if (kind_ == RollupKind::kBlock) {
      // Parsed in place: the operands outlive the merge.
      blocks_.emplace_back();
      if (!blocks_.back().Parse(in) ||
          blocks_.back().key_size() != ViewKeySize(block_key_.view)) {
        blocks_.pop_back();
        return false;
      }
      return true;
    }
    if (kind_ == RollupKind::kTotals) {
      Totals totals;
      if (!DecodeTotalsValue(in, &totals)) return false;
      totals_ += totals;
      return true;
    }
    CounterVector counters;
    bool damaged = false;
    if (!DecodeCountersValue(in, &counters, &damaged)) return false;
    AddCounters(counters, &counters_);
    damaged_ = damaged_ || damaged;
    return true;
  }

  void MarkDamaged() { damaged_ = true; }

  void Encode(std::string* out) {
    out->clear();
    switch (kind_) {
      case RollupKind::kBlock: {
        BlockBuilder builder(ViewKeySize(block_key_.view));
        std::vector<const RollupBlock*> runs;
        runs.reserve(blocks_.size());
        for (const RollupBlock& block : blocks_) runs.push_back(&block);
        MergeBlocks(runs, [&](absl::string_view key, const Totals& totals) {
          builder.Add(key, totals);
          return true;
        });
        if (damaged_) builder.MarkDamaged();
        const absl::string_view value = builder.value();
        out->assign(value.data(), value.size());
        break;
      }
      case RollupKind::kTotals: {
        Totals totals = totals_;
        totals.damaged = totals.damaged || damaged_;
        AppendTotalsValue(totals, out);
        break;
      }
      case RollupKind::kCounters:
        AppendCountersValue(counters_, damaged_, out);
        break;
    }
  }

 private:
  BlockKey block_key_;
  const RollupKind kind_;
  // Blocks refer to the operands; a deque keeps them in place as it grows.
  std::deque<RollupBlock> blocks_;
  Totals totals_;
  CounterVector counters_;
  bool damaged_ = false;
};

void LogDropped(rocksdb::Logger* logger, const rocksdb::Slice& key,
                size_t size) {
  if (logger == nullptr) return;
  rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, logger,
               "weir rollup merge: dropped an undecodable operand of %zu "
               "bytes for key %s; the entry is marked damaged",
               size, key.ToString(/*hex=*/true).c_str());
}

}  // namespace

bool RollupMergeOperator::FullMergeV2(const MergeOperationInput& merge_in,
                                      MergeOperationOutput* merge_out) const {
  Accumulator sum(merge_in.key);
  if (merge_in.existing_value != nullptr &&
      !sum.Add(*merge_in.existing_value)) {
    LogDropped(merge_in.logger, merge_in.key, merge_in.existing_value->size());
    sum.MarkDamaged();
  }
  for (const rocksdb::Slice& operand : merge_in.operand_list) {
    if (!sum.Add(operand)) {
      LogDropped(merge_in.logger, merge_in.key, operand.size());
      sum.MarkDamaged();
    }
  }
  sum.Encode(&merge_out->new_value);
  return true;
}

bool RollupMergeOperator::PartialMerge(const rocksdb::Slice& key,
                                       const rocksdb::Slice& left_operand,
                                       const rocksdb::Slice& right_operand,
                                       std::string* new_value,
                                       rocksdb::Logger* /*logger*/) const {
  Accumulator sum(key);
  if (!sum.Add(left_operand) || !sum.Add(right_operand)) return false;
  sum.Encode(new_value);
  return true;
}

bool RollupMergeOperator::PartialMergeMulti(
    const rocksdb::Slice& key, const std::deque<rocksdb::Slice>& operand_list,
    std::string* new_value, rocksdb::Logger* /*logger*/) const {
  Accumulator sum(key);
  for (const rocksdb::Slice& operand : operand_list) {
    if (!sum.Add(operand)) return false;
  }
  sum.Encode(new_value);
  return true;
}

}  // namespace weir::store
