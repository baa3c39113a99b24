// Plain values the store hands to the query layer. No RocksDB types here or
// anywhere in the store's public headers.

#ifndef WEIR_QUERYD_STORE_STORE_TYPES_H_
#define WEIR_QUERYD_STORE_STORE_TYPES_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "queryd/store/schema.h"
#include "weir/v1/flow.pb.h"
#include "weir/v1/ingest.pb.h"

namespace weir::store {

// An address as stored: 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d),
// docs/design.md §6. (To be replaced by //common:ip_address.)
using Address = std::array<uint8_t, 16>;

// True for ::ffff:0:0/96.
bool IsV4Mapped(const Address& address);

// 4 bytes (IPv4) or 16 bytes (IPv6, or IPv4-mapped IPv6) to an Address.
// False for any other length.
bool AddressFromBytes(absl::string_view bytes, Address* out);

// A window of time: [start, end).
struct TimeRange {
  absl::Time start;
  absl::Time end;
};

// One stored flow record (raw tier).
struct FlowRecord {
  std::string node;
  uint32_t ifindex = 0;
  std::string ifname;
  weir::v1::Direction direction = weir::v1::DIRECTION_UNSPECIFIED;
  uint8_t protocol = 0;
  Address src_addr{};
  Address dst_addr{};
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  bool fragment = false;
  uint8_t tcp_flags = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t first_seen_unix_nano = 0;
  // The record's time: raw keys and rollup buckets are by last_seen.
  uint64_t last_seen_unix_nano = 0;

  bool ipv4() const { return IsV4Mapped(src_addr); }
};

// The flow records of an ingested batch, in batch order (interface names
// from its interface table; empty for an ifindex it does not name).
std::vector<FlowRecord> FlowRecordsOf(const weir::v1::FlowBatch& batch);

// Totals of one rollup entry. first/last seen are the min and max over the
// flows added (0: none).
struct Totals {
  uint64_t bytes = 0;
  uint64_t packets = 0;
  uint64_t flows = 0;
  uint64_t first_seen_unix_nano = 0;
  uint64_t last_seen_unix_nano = 0;
  // Set when the merge operator met an operand it could not decode and
  // dropped it: the totals are then a lower bound. Never set in a healthy
  // store; answers should say so when it is.
  bool damaged = false;

  // Adds counters, takes min first_seen and max last_seen, ORs damaged.
  Totals& operator+=(const Totals& other);
};

// One entry of a flow view of a rollup tier. Only the fields of `view` are
// set: kSrc src_addr; kDst dst_addr; kPair both; kSrcPort and kDstPort
// protocol and port; kProtocol protocol; kNode node, direction, ifname.
struct RollupEntry {
  absl::Time bucket;  // start of the bucket
  View view = View::kSrc;
  Address src_addr{};
  Address dst_addr{};
  uint8_t protocol = 0;
  uint16_t port = 0;
  std::string node;
  weir::v1::Direction direction = weir::v1::DIRECTION_UNSPECIFIED;
  std::string ifname;
  Totals totals;
};

// Packets and bytes under one loss reason.
struct LossTotal {
  weir::v1::LossReason reason = weir::v1::LOSS_REASON_UNSPECIFIED;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

// A collector's accounting (weir.v1.Counters), summed.
struct NodeCounters {
  uint64_t packets_seen = 0;
  uint64_t bytes_seen = 0;
  uint64_t packets_exported = 0;
  uint64_t bytes_exported = 0;
  // Non-zero reasons only, ascending by reason.
  std::vector<LossTotal> losses;

  uint64_t lost_packets() const;
};

// One node's accounting in one bucket of a rollup tier.
struct NodeCountersEntry {
  absl::Time bucket;
  std::string node;
  NodeCounters counters;
  bool damaged = false;  // as Totals::damaged
};

// A collector as the store knows it.
struct NodeInfo {
  std::string name;
  std::string version;         // collector_version of its last stored batch
  absl::Time first_seen;       // when its first batch was stored
  absl::Time last_seen;        // when its last batch was stored
  uint64_t epoch = 0;          // current epoch
  uint64_t last_seq = 0;       // high-water seq in that epoch
  uint64_t gaps = 0;           // seqs skipped since first seen
  uint64_t stale_batches = 0;  // batches of an older epoch, dropped
  uint64_t batches = 0;        // batches stored
  uint64_t flows = 0;          // flow records stored
  NodeCounters counters;       // summed over every stored batch
};

// What WriteBatch did with a batch.
struct IngestResult {
  enum class Outcome {
    kStored,      // written durably
    kDuplicate,   // (epoch, seq) at or below the node's high-water: dropped
    kStaleEpoch,  // epoch older than the node's current one: dropped
  };
  Outcome outcome = Outcome::kStored;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  // Sequence numbers skipped by this batch (recorded in the node's gaps).
  uint64_t skipped_seqs = 0;
  // Flow records written.
  uint64_t flows = 0;
  // The batch's flows (FlowRecordsOf) when stored, empty otherwise: what
  // the store converted, for the caller's live table and watchers.
  std::vector<FlowRecord> records;

  // For weir.v1.Ack.duplicate: true when nothing was written.
  bool duplicate() const { return outcome != Outcome::kStored; }
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_STORE_TYPES_H_
