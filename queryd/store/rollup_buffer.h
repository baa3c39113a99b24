// The rollup buffer: a stored batch's m1 and h1 totals, summed in memory
// across batches before they are merged into RocksDB
// (StoreOptions::rollup_buffer_keys). Plain data and sums, no I/O.
//
// Per flow the buffer sums only four base views, in one tier's buckets; the
// other views and h1 are derived from them when the buffer is written
// (derived_views.h): src and dst from pair, protocol from src port, h1
// buckets from m1 ones. That is 4 map updates per flow instead of 14, with
// fixed-size keys.

#ifndef WEIR_QUERYD_STORE_ROLLUP_BUFFER_H_
#define WEIR_QUERYD_STORE_ROLLUP_BUFFER_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "queryd/store/schema.h"
#include "queryd/store/store_types.h"
#include "queryd/store/tied_key.h"
#include "queryd/store/value_codec.h"

namespace weir::store {

inline constexpr Tier kRollupTiers[] = {Tier::kMinute, Tier::kHour};

// Index of a rollup tier in per-rollup-tier arrays.
inline int RollupIndex(Tier tier) { return tier == Tier::kMinute ? 0 : 1; }

// Per tier (indexed by Tier), the first bucket (Unix seconds) a write may
// touch.
using Cutoffs = std::array<uint64_t, 3>;

// Keys of the base views and of the views derived from them. Tie() lists
// the fields in the order of the encoded rollup key: equality, hash and
// (DerivedViews) key order go through it (tied_key.h).
struct PairKey {
  uint64_t bucket_sec;
  Address src;
  Address dst;
  auto Tie() const { return std::tie(bucket_sec, src, dst); }
};

struct PortKey {
  uint64_t bucket_sec;
  uint8_t protocol;
  uint16_t port;
  auto Tie() const { return std::tie(bucket_sec, protocol, port); }
};

struct InterfaceKey {
  uint64_t bucket_sec;
  uint32_t node_id;
  uint8_t direction;
  std::string ifname;
  auto Tie() const { return std::tie(bucket_sec, node_id, direction, ifname); }
};

struct AddressKey {
  uint64_t bucket_sec;
  Address address;
  auto Tie() const { return std::tie(bucket_sec, address); }
};

struct ProtocolKey {
  uint64_t bucket_sec;
  uint8_t protocol;
  auto Tie() const { return std::tie(bucket_sec, protocol); }
};

// Node counters summed in memory, per rollup tier (RollupIndex) and encoded
// rollup key (one entry per batch and tier: kept encoded).
struct CounterSums {
  std::array<absl::flat_hash_map<std::string, CounterVector>, 2> counters;

  size_t size() const { return counters[0].size() + counters[1].size(); }
  void AddAll(const CounterSums& other);
};

// Adds a batch's counters to `sums`, per rollup tier, in the bucket of the
// batch's interval start when that is at or after the tier's cutoff.
void AddCounterRollups(const CounterVector& counters,
                       uint64_t interval_start_unix_nano, uint32_t node_id,
                       const Cutoffs& cutoff_sec, CounterSums* sums);

// Sums of the base views in one tier's buckets.
struct BaseSums {
  absl::flat_hash_map<PairKey, Totals> pair;
  absl::flat_hash_map<PortKey, Totals> src_port;
  absl::flat_hash_map<PortKey, Totals> dst_port;
  absl::flat_hash_map<InterfaceKey, Totals> interface;

  size_t size() const {
    return pair.size() + src_port.size() + dst_port.size() + interface.size();
  }

  // Adds `totals` of `flow` (of node `node_id`) in the bucket starting at
  // `bucket_sec` to every base view.
  void Add(uint64_t bucket_sec, const FlowRecord& flow, uint32_t node_id,
           const Totals& totals);

  // Room for as many keys as `other` holds, so that a buffer filling up
  // like the last one does not rehash its way there.
  void ReserveLike(const BaseSums& other);

  void AddAll(const BaseSums& other);
};

// Rollups of stored batches that are not yet in m1 and h1, and the pending
// keys of those batches.
struct RollupBuffer {
  // Flows both m1 and h1 keep, by minute bucket.
  BaseSums minute;
  // Flows only h1 keeps (older than m1's retention), by hour bucket.
  BaseSums hour_only;
  CounterSums counters;
  // Pending keys (key_codec.h) of the batches summed here.
  std::vector<std::string> pending;
  // The earliest last_seen among the raw flows of the pending batches:
  // what a recovery of them would read back (UINT64_MAX for none).
  uint64_t raw_from_ns = UINT64_MAX;

  size_t size() const {
    return minute.size() + hour_only.size() + counters.size();
  }

  void AddAll(const RollupBuffer& other);
};

// Whether the buffer can take a flow: h1 keeps it. (A flow m1 keeps but h1
// does not, under an hour retention shorter than the minute one, has no
// base tier and is written with its batch.)
bool Bufferable(const FlowRecord& flow, const Cutoffs& cutoff_sec);

// Adds a flow to the base sums of `sums`: by minute when m1 keeps it (h1
// is derived from those), by hour when only h1 does. Returns whether
// either keeps it.
bool AddFlow(const FlowRecord& flow, uint32_t node_id,
             const Cutoffs& cutoff_sec, RollupBuffer* sums);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_ROLLUP_BUFFER_H_
