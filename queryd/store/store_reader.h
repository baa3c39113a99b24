// Every read of the store: raw scans with page cursors, rollup scans, sums
// over runs of buckets and point lookups, node counters. Reads what is on
// disk (and in memtables) as it is: the store first writes the rollup
// buffer out and closes the hours a read of h1 needs (Store's contract).

#ifndef WEIR_QUERYD_STORE_STORE_READER_H_
#define WEIR_QUERYD_STORE_STORE_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "queryd/store/node_registry.h"
#include "queryd/store/rocks_db.h"
#include "queryd/store/schema.h"
#include "queryd/store/store_types.h"
#include "rocksdb/options.h"

namespace weir::store {

// INVALID_ARGUMENT unless tier and view name a flow view of a rollup tier.
absl::Status CheckFlowView(Tier tier, View view);

// DATA_LOSS: an entry of tier/view at the bucket does not decode.
absl::Status UndecodableEntry(Tier tier, View view, uint64_t bucket_start_sec);

// Entries of a view summed by MergeShards, their view keys one after the
// other in one string.
struct SummedList;

class StoreReader {
 public:
  // The same as Store's.
  using RawVisitor =
      absl::FunctionRef<bool(const FlowRecord& flow, absl::string_view cursor)>;
  using RollupVisitor = absl::FunctionRef<bool(const RollupEntry& entry)>;
  using CountersVisitor =
      absl::FunctionRef<bool(const NodeCountersEntry& entry)>;
  // Store::kMaxSummedBuckets.
  static constexpr int kMaxSummedBuckets = 64;

  StoreReader(const RocksDb& db, const NodeRegistry& nodes);
  ~StoreReader();

  // Store::ScanRaw; flows before `retained_from_ns` (what retention has
  // deleted, though whole raw buckets go only once wholly past) are hidden.
  absl::Status ScanRaw(const TimeRange& range, bool newest_first,
                       absl::string_view cursor, uint64_t retained_from_ns,
                       RawVisitor visit) const;
  // Store::ScanRollup, Store::SumRollup, Store::LookupRollup and
  // Store::ScanNodeCounters, of what is stored now.
  absl::Status ScanRollup(Tier tier, View view, const TimeRange& range,
                          RollupVisitor visit) const;
  absl::Status SumRollup(Tier tier, View view, const TimeRange& range,
                         RollupVisitor visit) const;
  absl::Status LookupRollup(Tier tier, View view, const TimeRange& range,
                            absl::Span<const RollupEntry> keys,
                            RollupVisitor visit) const;
  absl::Status ScanNodeCounters(Tier tier, const TimeRange& range,
                                CountersVisitor visit) const;

  // Merges the blocks of shards [shard_begin, shard_end) of one view in the
  // buckets [first, end) (`first` a bucket start): emit(view key, totals)
  // once per view key, with the totals of every bucket, shard by shard and
  // in key order within a shard, until emit returns false. `read` gives
  // the reads' snapshot and caching (its bounds are set here).
  absl::Status MergeShards(
      Tier tier, View view, uint64_t first, uint64_t end, uint64_t resolution,
      uint16_t shard_begin, uint16_t shard_end,
      absl::FunctionRef<bool(absl::string_view view_key, const Totals& totals)>
          emit,
      rocksdb::ReadOptions read = rocksdb::ReadOptions()) const;

 private:
  // The buckets of `range` from the first present to the last, as Unix
  // seconds [*first, *end); empty when none is.
  absl::Status PresentBuckets(Tier tier, const TimeRange& range,
                              uint64_t* first, uint64_t* end) const;
  // SumRollup over the buckets in [first, end) (Unix seconds, `first` a
  // bucket start, at most kMaxSummedBuckets of them); sets *more to false
  // when `visit` does.
  absl::Status SumRun(Tier tier, View view, uint64_t first, uint64_t end,
                      uint64_t resolution, RollupVisitor visit,
                      bool* more) const;
  // SumRun's list for the shards it merges on a second thread, kept from
  // one run to the next (one, for the query that finds it free; others
  // make their own): reusing its memory spares a day's top-N tens of MB of
  // fresh pages and vector growth per query.
  std::unique_ptr<SummedList> TakeSummedList() const;
  void GiveBackSummedList(std::unique_ptr<SummedList> list) const;
  // Visits the keys of one view of a rollup tier (blocks, or node counter
  // entries), bucket by bucket, with their bucket and value.
  absl::Status ScanView(
      Tier tier, View view, const TimeRange& range,
      absl::FunctionRef<absl::Status(uint64_t bucket, absl::string_view key,
                                     absl::string_view value,
                                     const NodeNames& names, bool* more)>
          visit) const;

  const RocksDb& db_;
  const NodeRegistry& nodes_;
  mutable absl::Mutex summed_mu_;
  mutable std::unique_ptr<SummedList> summed_list_ ABSL_GUARDED_BY(summed_mu_);
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_STORE_READER_H_
