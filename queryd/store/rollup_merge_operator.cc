#include "queryd/store/rollup_merge_operator.h"

#include "queryd/store/key_codec.h"
#include "queryd/store/schema.h"
#include "queryd/store/store_types.h"
#include "queryd/store/value_codec.h"
#include "rocksdb/env.h"

namespace weir::store {
namespace {

// The kind of value a rollup key holds, from its view byte; kTotals when the
// key is not a rollup key (it always is: this operator only serves m1, h1).
RollupKind KindForKey(const rocksdb::Slice& key) {
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
  explicit Accumulator(RollupKind kind) : kind_(kind) {}

  // Adds one value; false (and nothing added) if it is not a value of this
  // accumulator's kind.
  bool Add(const rocksdb::Slice& value) {
    const absl::string_view in(value.data(), value.size());
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

  void Encode(std::string* out) const {
    out->clear();
    if (kind_ == RollupKind::kTotals) {
      Totals totals = totals_;
      totals.damaged = totals.damaged || damaged_;
      AppendTotalsValue(totals, out);
    } else {
      AppendCountersValue(counters_, damaged_, out);
    }
  }

 private:
  const RollupKind kind_;
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
  Accumulator sum(KindForKey(merge_in.key));
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
  Accumulator sum(KindForKey(key));
  if (!sum.Add(left_operand) || !sum.Add(right_operand)) return false;
  sum.Encode(new_value);
  return true;
}

bool RollupMergeOperator::PartialMergeMulti(
    const rocksdb::Slice& key, const std::deque<rocksdb::Slice>& operand_list,
    std::string* new_value, rocksdb::Logger* /*logger*/) const {
  Accumulator sum(KindForKey(key));
  for (const rocksdb::Slice& operand : operand_list) {
    if (!sum.Add(operand)) return false;
  }
  sum.Encode(new_value);
  return true;
}

}  // namespace weir::store
