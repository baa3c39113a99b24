// Values of every column family. Each starts with a format version byte;
// layouts are pinned (data directories hold them). Integers are fixed-width
// big-endian, as in keys (encoding.h).
//
// raw, version 1 (72 bytes + interface name):
//   [0] version 1  [1,5) ifindex u32  [5] direction u8 (weir.v1.Direction)
//   [6] protocol u8  [7] flags u8 (bit 0: fragment)
//   [8,24) src address  [24,40) dst address (16 bytes, IPv4-mapped for v4)
//   [40,42) src port  [42,44) dst port  [44] icmp type  [45] icmp code
//   [46] tcp flags  [47,55) packets u64  [55,63) bytes u64
//   [63,71) first_seen ns u64  [71] interface name length n  [72,72+n) name
//   (node and last_seen are in the key)
//
// raw blocks, version 2 (format version 4; raw keys are then block keys,
// key_codec.h): the flows of one batch in one raw bucket:
//   [0] version 2  [1,5) flow count n u32, then n flows in (last_seen,
//   index) order, each: last_seen ns u64, index in its batch u32, then the
//   flow as a version 1 raw value (72 bytes + interface name).
//
// m1, h1 rollups, version 1: [0] version 1  [1] kind  [2] flags (bit 0:
// damaged, see Totals::damaged), then by kind:
//   kTotals (flow views)       bytes, packets, flows, min first_seen ns,
//                              max last_seen ns: 5 x u64
//   kCounters (kNodeCounters)  [3] n u8, then n x u64: a counter vector
//   kBlock (flow views, format version 3; rollup_block.h)
//                              [3] key size k u8 (0: each key starts with
//                              its length u8)  [4,8) entry count n u32;
//                              then n entries in strictly increasing key
//                              order: view key (key_codec.h), bytes,
//                              packets, flows, min first_seen ns, max
//                              last_seen ns (5 x u64). The flags byte
//                              covers every entry.
// kTotals is the value of one entry per key of format versions 1 and 2;
// Open converts those to blocks.
// The merge operator (rollup_merge_operator.h) adds values of one kind
// (blocks: merged as sorted runs, summing equal keys).
//
// Counter vector, the form of weir.v1.Counters on disk: slot 0 packets_seen,
// 1 bytes_seen, 2 packets_exported, 3 bytes_exported, then for loss reason r
// (r >= 1) slot 2 + 2r packets and slot 3 + 2r bytes. Shorter vectors mean
// zeros in the missing slots, so new reasons need no new format.
//
// nodes, version 1:
//   [0] version 1  [1,5) node id u32  then u64s: epoch, seq, gaps,
//   stale batches, batches, flows, first_seen ns, last_seen ns; then
//   collector version (u16 length + bytes); then the counter vector (u8 n +
//   n x u64).
//
// pending, version 1 (a stored batch whose rollups are only in memory):
//   [0] version 1  then u64s: interval_start ns, raw flows (how many of the
//   batch's flows are in raw, under this batch number), min and max
//   last_seen ns of those flows; then the batch's counter vector (u8 n + n x
//   u64).

#ifndef WEIR_QUERYD_STORE_VALUE_CODEC_H_
#define WEIR_QUERYD_STORE_VALUE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "queryd/store/store_types.h"
#include "weir/v1/flow.pb.h"

namespace weir::store {

inline constexpr uint8_t kRawValueVersion = 1;
inline constexpr uint8_t kRollupValueVersion = 1;
inline constexpr uint8_t kNodeStateVersion = 1;

// Longest interface name a raw value holds (length is one byte).
inline constexpr size_t kMaxIfnameSize = 255;
// Longest collector version a node state holds.
inline constexpr size_t kMaxCollectorVersionSize = 255;
// Most slots in a counter vector (its length is one byte).
inline constexpr size_t kMaxCounterSlots = 255;

// Writes every FlowRecord field but node and last_seen (they are in the
// key). ifname longer than kMaxIfnameSize is cut (the validator refuses it
// before it gets here).
void AppendRawValue(const FlowRecord& flow, std::string* out);
// Fills every field but node and last_seen. False on a wrong version or
// size.
bool DecodeRawValue(absl::string_view in, FlowRecord* flow);

inline constexpr uint8_t kRawBlockVersion = 2;

// Writes a raw block. Flows must come in (last_seen, index) order.
class RawBlockBuilder {
 public:
  RawBlockBuilder() { Reset(); }
  // Empties the builder, keeping its memory.
  void Reset();
  void Add(uint64_t last_seen_unix_nano, uint32_t index,
           const FlowRecord& flow);
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The block so far: valid until the next Add or Reset.
  absl::string_view value();

 private:
  std::string data_;
  size_t count_ = 0;
};

// A raw block, read in place (it must outlive the reader).
class RawBlock {
 public:
  // False unless `value` is a whole raw block: every flow's record has its
  // size (each is decoded by Flow).
  bool Parse(absl::string_view value);
  size_t size() const { return records_.size(); }
  uint64_t last_seen(size_t i) const { return records_[i].last_seen; }
  uint32_t index(size_t i) const { return records_[i].index; }
  // Fills every field of flow i but node (last_seen included). False when
  // its record does not decode.
  bool Flow(size_t i, FlowRecord* flow) const;

 private:
  struct Record {
    uint64_t last_seen;
    uint32_t index;
    absl::string_view value;
  };
  std::vector<Record> records_;
};

enum class RollupKind : uint8_t {
  kTotals = 1,
  kCounters = 2,
  kBlock = 3,
};

inline constexpr uint8_t kDamagedFlag = 0x01;
inline constexpr size_t kTotalsValueSize = 3 + 5 * 8;

using CounterVector = std::vector<uint64_t>;

void AppendTotalsValue(const Totals& totals, std::string* out);
bool DecodeTotalsValue(absl::string_view in, Totals* totals);

void AppendCountersValue(const CounterVector& counters, bool damaged,
                         std::string* out);
bool DecodeCountersValue(absl::string_view in, CounterVector* counters,
                         bool* damaged);

// The kind of a rollup value; false if its version or kind is unknown.
bool PeekRollupKind(absl::string_view in, RollupKind* kind);

// Counter vector slots.
inline constexpr size_t kPacketsSeenSlot = 0;
inline constexpr size_t kBytesSeenSlot = 1;
inline constexpr size_t kPacketsExportedSlot = 2;
inline constexpr size_t kBytesExportedSlot = 3;
inline constexpr size_t LossPacketsSlot(int reason) { return 2 + 2 * reason; }
inline constexpr size_t LossBytesSlot(int reason) { return 3 + 2 * reason; }

// weir.v1.Counters as a vector. Losses with reasons that do not fit are
// left out (the validator allows only known reasons).
CounterVector CountersFromProto(const weir::v1::Counters& counters);
NodeCounters CountersFromVector(const CounterVector& counters);
// to[i] += from[i], growing `to` as needed.
void AddCounters(const CounterVector& from, CounterVector* to);

// What the store keeps per node (nodes family).
struct NodeState {
  uint32_t id = 0;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  uint64_t gaps = 0;
  uint64_t stale_batches = 0;
  uint64_t batches = 0;
  uint64_t flows = 0;
  uint64_t first_seen_unix_nano = 0;
  uint64_t last_seen_unix_nano = 0;
  std::string version;
  CounterVector counters;
};

void AppendNodeState(const NodeState& state, std::string* out);
bool DecodeNodeState(absl::string_view in, NodeState* state);

inline constexpr uint8_t kPendingBatchVersion = 1;

// What recovery needs to redo a stored batch's rollups: its flows are read
// back from raw (keys with its node id and batch number, last_seen in
// [min, max]); its counters are here.
struct PendingBatch {
  uint64_t interval_start_unix_nano = 0;
  uint64_t raw_flows = 0;
  uint64_t min_last_seen_unix_nano = 0;
  uint64_t max_last_seen_unix_nano = 0;
  CounterVector counters;
};

void AppendPendingBatch(const PendingBatch& pending, std::string* out);
bool DecodePendingBatch(absl::string_view in, PendingBatch* pending);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_VALUE_CODEC_H_
