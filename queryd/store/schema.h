// The store's on-disk schema: format version, column families, tiers and
// views. Every number and name in this file reaches disk: never renumber or
// rename, only add (and bump kFormatVersion when a layout changes
// incompatibly).

#ifndef WEIR_QUERYD_STORE_SCHEMA_H_
#define WEIR_QUERYD_STORE_SCHEMA_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace weir::store {

// Format of a data directory as a whole, kept in the meta family under
// kFormatVersionKey. Store::Open refuses directories of a newer format.
// 2 added the pending family: an older weir-queryd would ignore the rollups
// it holds for recovery (a version 1 directory opens as it is).
// 3 keeps a flow view's entries of a bucket as sorted blocks, one per shard
// (key_codec.h), instead of one key per entry; Open converts the rollups of
// a version 1 or 2 directory.
// 4 keeps raw flows as blocks, one per batch and raw bucket (key_codec.h),
// instead of one key per flow; Open converts older directories' raw flows.
// 5 sums an hour's flow views into h1 from m1 once the hour has closed
// (kHourTierEndKey): h1 holds no later hour, which an older weir-queryd
// would read as empty. Open of an older directory starts the summing at
// the next hour (its h1 holds every hour before).
inline constexpr uint32_t kFormatVersion = 5;

// Key of the format version record in the meta family (value: u32 BE).
inline constexpr absl::string_view kFormatVersionKey = "format_version";

// Key of the hour tier's end in the meta family (value: u64 BE, Unix
// seconds, a whole hour): h1's flow views hold every hour before it; later
// hours are only in m1 until they close (Store::HourTierEnd).
inline constexpr absl::string_view kHourTierEndKey = "hour_tier_end";

// Column families. The names (FamilyName) are on disk; the numbers are not.
enum class Family : int {
  kRaw = 0,      // "raw": one record per flow, keyed by time (key_codec.h).
  kMinute = 1,   // "m1": 1-minute rollups, merge operator.
  kHour = 2,     // "h1": 1-hour rollups, merge operator.
  kNodes = 3,    // "nodes": per-node state, keyed by node name.
  kMeta = 4,     // "meta": format version and other store-wide records.
  kPending = 5,  // "pending": stored batches whose rollups are still only
                 // in memory (see Store's rollup buffer), for recovery.
};
inline constexpr int kFamilyCount = 6;

// "raw", "m1", "h1", "nodes", "meta", "pending".
absl::string_view FamilyName(Family family);

// Resolutions the store keeps. Queries name them in `source` ("1h/src").
enum class Tier : int {
  kRaw = 0,
  kMinute = 1,
  kHour = 2,
};
inline constexpr Tier kTiers[] = {Tier::kRaw, Tier::kMinute, Tier::kHour};

// "raw", "1m", "1h".
absl::string_view TierName(Tier tier);

// The column family holding a tier.
Family TierFamily(Tier tier);

// Width of a tier's time bucket: 1 s for raw (retention granularity; raw
// keys themselves are in nanoseconds), 1 min, 1 h.
absl::Duration TierResolution(Tier tier);

// Reduced keys of the rollup tiers (docs/design.md §4). The value is the view
// id byte in rollup keys: pinned.
enum class View : uint8_t {
  kSrc = 1,       // source address
  kDst = 2,       // destination address
  kPair = 3,      // source and destination address
  kSrcPort = 4,   // protocol and source port
  kDstPort = 5,   // protocol and destination port
  kProtocol = 6,  // protocol
  kNode = 7,      // node, direction and interface name
  // Not a flow view: the node's accounting (weir.v1.Counters) per bucket,
  // so answers can report losses for their window.
  kNodeCounters = 8,
};

// The views that hold flow totals (every view but kNodeCounters).
inline constexpr View kFlowViews[] = {
    View::kSrc,     View::kDst,      View::kPair, View::kSrcPort,
    View::kDstPort, View::kProtocol, View::kNode,
};

// How many blocks (shards) a flow view's entries of one bucket are spread
// over, by a hash of their view key (key_codec.h ShardOf): enough that a
// busy hour's block stays around 100 KB (~1500 entries at ~100 k distinct
// keys per view and hour), few enough that a quiet minute is not split
// into crumbs. Pinned: blocks on disk are placed by it.
uint16_t ShardCount(View view);

// "src", "dst", "pair", "src_port", "dst_port", "protocol", "node",
// "node_counters".
absl::string_view ViewName(View view);

// True for the values of View above.
bool IsKnownView(uint8_t id);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_SCHEMA_H_
