// Every view of both rollup tiers, derived from the rollup buffer's base
// sums (rollup_buffer.h) when the buffer is written, by sorting, not
// hashing. Per tier, the base entries are sorted and summed where keys
// meet; pair entries then give the pair view, and, as they come sorted by
// source, the source view by summing neighbours; source ports give
// protocols the same way; destinations are sorted on their own. The summed
// minute entries of closed hours (Store::HourTierEnd), each minute a sorted
// run, are merged into the hour tier's base entries; those of open hours go
// to m1 only. The result is blocks (rollup_block.h), handed to a sink that
// merges them into the store. No I/O here.

#ifndef WEIR_QUERYD_STORE_DERIVED_VIEWS_H_
#define WEIR_QUERYD_STORE_DERIVED_VIEWS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rollup_block.h"
#include "queryd/store/rollup_buffer.h"
#include "queryd/store/schema.h"
#include "queryd/store/store_types.h"

namespace weir::store {

// Takes one block of a rollup tier: merge `block` into the entry at
// `block_key` (key_codec.h BlockKey). Both are valid during the call only.
using BlockSink = absl::FunctionRef<void(Tier tier, absl::string_view block_key,
                                         absl::string_view block)>;

// The vectors keep their memory from one write to the next.
class DerivedViews {
 public:
  // Adds base sums in `base_tier` buckets: m1 for flows m1 keeps (h1 gets
  // them from m1), h1 for flows only h1 keeps.
  void Add(const BaseSums& base, Tier base_tier);

  // Bytes of the last write the views went into: the next one reserves as
  // much, so a write of many MiB is not copied over as it grows.
  size_t last_write_bytes = 0;

  // The blocks of every view of both tiers, of buckets at or after their
  // tier's cutoff, into `sink`: one per tier, bucket, view and shard
  // (each shard's entries in key order), m1's first. Minutes at or after
  // `hour_end_sec` (hours not closed yet) go to m1 only. Then empties
  // itself.
  void Append(const Cutoffs& cutoff_sec, uint64_t hour_end_sec, BlockSink sink);

 private:
  template <typename Key>
  using Entries = std::vector<std::pair<Key, Totals>>;

  // The base views of one tier.
  struct Base {
    Entries<PairKey> pair;
    Entries<PortKey> src_port;
    Entries<PortKey> dst_port;
    Entries<InterfaceKey> interface;
    // Run starts of each, while runs are merged (MergeRuns).
    std::array<std::vector<size_t>, 4> starts;

    void SortAndSum();
    void StartRuns();
    // Appends the entries of buckets before `end_sec` to `to`, with their
    // buckets widened to `width` seconds, each bucket a run.
    void AppendTo(Base* to, uint64_t width, uint64_t end_sec) const;
    void MergeRuns();
    void Clear();
  };

  // Writes a view's sorted, summed entries as blocks, spread over their
  // bucket's shards (each shard's entries still in key order): one block
  // per bucket and shard.
  struct Writer {
    uint64_t cutoff = 0;
    Tier tier = Tier::kMinute;
    const BlockSink* sink = nullptr;
    RollupKey key;
    std::string view_key;
    std::string block_key;
    std::vector<BlockBuilder> shards;

    template <typename Key, typename Fill>
    void Write(const Entries<Key>& entries, View view, Fill fill);
  };

  // Writes every view of one tier from its sorted, summed base entries.
  void WriteViews(const Base& base);

  std::array<Base, 2> base_;
  Entries<AddressKey> src_;
  Entries<AddressKey> dst_;
  Entries<ProtocolKey> protocol_;
  Writer writer_;
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_DERIVED_VIEWS_H_
