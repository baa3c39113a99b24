// Keys of every column family. Layouts are pinned: data directories hold
// them. All integers are fixed-width big-endian, so the byte order of keys
// (RocksDB's bytewise comparator) is time order.
//
// raw (format version 4): a block of one batch's flows (value_codec.h)
// per raw bucket (2^27 ns, ~134 ms, of last_seen), 20 bytes:
//   [0, 8)    bucket start, ns since the Unix epoch (a last_seen  u64 BE
//             with its low 27 bits cleared)
//   [8, 12)   node id (assigned by the store, kept in nodes)    u32 BE
//   [12, 20)  batch number: the node's count of stored batches  u64 BE
//             (unique across epochs, unlike seq)
//
// A flow's raw key, 24 bytes: the raw key of format versions 1 to 3 (one
// record per flow, read only to convert them) and the opaque page cursor
// of ScanRaw. Flows are listed in its order:
//   [0, 8)    last_seen of the flow, ns since the Unix epoch    u64 BE
//   [8, 12)   node id                                            u32 BE
//   [12, 20)  batch number                                       u64 BE
//   [20, 24)  index of the flow in its batch                    u32 BE
//   Unique, because (node, batch, index) is; ordered by time to the ns.
//
// m1, h1 (rollups). Flow views (format version 3): a block of entries
// (value_codec.h) per bucket, view and shard, 11 bytes:
//   [0, 8)    bucket start, seconds since the Unix epoch        u64 BE
//             (a multiple of 60 for m1, of 3600 for h1)
//   [8]       view id (schema.h View)                            u8
//   [9, 11)   shard: ShardOf(view, view key) of its entries      u16 BE
// Node counters, and flow view entries of format versions 1 and 2 (read
// only to convert them), one key per entry, 9 bytes + view key:
//   [0, 8)    bucket start                                       u64 BE
//   [8]       view id                                            u8
//   [9, ...)  view key:
//     kSrc, kDst        address, 16 bytes (IPv4 as IPv4-mapped IPv6)
//     kPair             src address 16 bytes, dst address 16 bytes
//     kSrcPort,kDstPort protocol u8, port u16 BE
//     kProtocol         protocol u8
//     kNode             node id u32 BE, direction u8, interface name
//                       (the rest of the key, may be empty)
//     kNodeCounters     node id u32 BE
//   Flows are bucketed by last_seen (like raw keys); node counters by the
//   batch's interval_start.
//
// nodes: the node name's bytes. meta: ASCII record names (schema.h).
//
// pending (a stored batch whose rollups are only in memory), 12 bytes:
//   [0, 4)    node id                                           u32 BE
//   [4, 12)   batch number (as in raw keys)                     u64 BE

#ifndef WEIR_QUERYD_STORE_KEY_CODEC_H_
#define WEIR_QUERYD_STORE_KEY_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "queryd/store/schema.h"
#include "queryd/store/store_types.h"

namespace weir::store {

inline constexpr size_t kRawKeySize = 24;
inline constexpr size_t kBucketPrefixSize = 8;
inline constexpr size_t kViewPrefixSize = 9;

struct RawKey {
  uint64_t last_seen_unix_nano = 0;
  uint32_t node_id = 0;
  uint64_t batch = 0;
  uint32_t index = 0;
};

void AppendRawKey(const RawKey& key, std::string* out);
std::string EncodeRawKey(const RawKey& key);
// False unless `in` is exactly a raw key.
bool DecodeRawKey(absl::string_view in, RawKey* out);

// 8-byte prefix: every raw key (flow or block) with a time (last_seen or
// bucket start) >= unix_nano sorts at or after it, every earlier one
// before it. Use as a scan bound.
std::string RawTimeBound(uint64_t unix_nano);

inline constexpr int kRawBucketBits = 27;
inline constexpr uint64_t kRawBucketNanos = uint64_t{1} << kRawBucketBits;
inline constexpr size_t kRawBlockKeySize = 20;

// Start (ns) of the raw bucket holding unix_nano.
inline uint64_t RawBucketStart(uint64_t unix_nano) {
  return unix_nano & ~(kRawBucketNanos - 1);
}

struct RawBlockKey {
  uint64_t bucket_unix_nano = 0;
  uint32_t node_id = 0;
  uint64_t batch = 0;
};

void AppendRawBlockKey(const RawBlockKey& key, std::string* out);
// False unless `in` is exactly a raw block key with a bucket start.
bool DecodeRawBlockKey(absl::string_view in, RawBlockKey* out);

struct RollupKey {
  uint64_t bucket_start_sec = 0;
  View view = View::kSrc;
  Address src_addr{};     // kSrc, kPair
  Address dst_addr{};     // kDst, kPair
  uint8_t protocol = 0;   // kSrcPort, kDstPort, kProtocol
  uint16_t port = 0;      // kSrcPort, kDstPort
  uint32_t node_id = 0;   // kNode, kNodeCounters
  uint8_t direction = 0;  // kNode (weir.v1.Direction)
  std::string ifname;     // kNode
};

// Appends the key of `key.view`; fields of other views are ignored.
void AppendRollupKey(const RollupKey& key, std::string* out);
std::string EncodeRollupKey(const RollupKey& key);
// False unless `in` is exactly a rollup key of a known view.
bool DecodeRollupKey(absl::string_view in, RollupKey* out);

// The view key alone: the bytes after the 9-byte prefix of
// AppendRollupKey, as block entries hold it.
void AppendViewKey(const RollupKey& key, std::string* out);
// Sets the fields of `view` from a view key; false unless `in` is exactly
// one. out->view is set, out->bucket_start_sec left alone.
bool DecodeViewKey(View view, absl::string_view in, RollupKey* out);
// Size of every view key of a flow view; 0 for kNode (variable: an
// interface name ends it).
size_t ViewKeySize(View view);

inline constexpr size_t kBlockKeySize = 11;

struct BlockKey {
  uint64_t bucket_start_sec = 0;
  View view = View::kSrc;
  uint16_t shard = 0;
};

void AppendBlockKey(const BlockKey& key, std::string* out);
// False unless `in` is exactly a block key of a flow view.
bool DecodeBlockKey(absl::string_view in, BlockKey* out);

// The shard of a view key in [0, ShardCount(view)): a 64-bit FNV-1a hash of
// its bytes, mixed (MurmurHash3's finalizer), modulo the count. Pinned:
// blocks on disk are placed by it.
uint16_t ShardOf(View view, absl::string_view view_key);

// 8-byte bucket prefix of rollup keys.
std::string BucketPrefix(uint64_t bucket_start_sec);
// 9-byte prefix of one view in one bucket.
std::string ViewPrefix(uint64_t bucket_start_sec, View view);
// The bucket of a rollup key (its first 8 bytes); false if too short.
bool DecodeBucket(absl::string_view key, uint64_t* bucket_start_sec);

inline constexpr size_t kPendingKeySize = 12;

struct PendingKey {
  uint32_t node_id = 0;
  uint64_t batch = 0;
};

void AppendPendingKey(const PendingKey& key, std::string* out);
// False unless `in` is exactly a pending key.
bool DecodePendingKey(absl::string_view in, PendingKey* out);

// Start, in Unix seconds, of the `tier` bucket holding `unix_nano`.
uint64_t BucketStartSec(uint64_t unix_nano, Tier tier);

// absl::Time to ns since the Unix epoch, clamped to [0, INT64_MAX].
uint64_t ToUnixNanosClamped(absl::Time t);
// Smallest whole Unix second at or after t, clamped to [0, INT64_MAX].
uint64_t CeilUnixSeconds(absl::Time t);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_KEY_CODEC_H_
