// Checks an ingest batch against the contract of ingest.proto before the
// store writes anything of it.

#ifndef WEIR_QUERYD_STORE_BATCH_VALIDATOR_H_
#define WEIR_QUERYD_STORE_BATCH_VALIDATOR_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "weir/v1/ingest.pb.h"

namespace weir::store {

// Longest node name accepted.
inline constexpr size_t kMaxNodeNameSize = 255;

// What one flow record may claim. A record is one flow on one interface,
// and no link carries more than its rate: packets and bytes may be at most
// what a link of kMaxLinkPacketsPerSecond / kMaxLinkBytesPerSecond carries
// in the record's span (last_seen - first_seen) plus kFlowSlackNanos, the
// span counted up to kMaxFlowSpanNanos.
// - 2^38 bytes/s is 2.2 Tb/s, above the fastest Ethernet link (800 Gb/s)
//   with room to spare; 2^33 packets/s is that rate in 32-byte packets,
//   shorter than any IP packet with its L2 header.
// - The slack covers a record whose packets share one timestamp (a single
//   GSO/BIG TCP super-packet of up to 512 KiB counts first == last) and
//   clock granularity.
// - A span over a day (a record drained long after it started, e.g. after a
//   collector outage with pinned maps) counts as a day.
// So one record holds at most about 2^54.4 bytes and 2^49.4 packets, and
// thousands of records must be summed before a 64-bit total could wrap;
// totals saturate instead of wrapping (common/saturating.h). Each entry of
// counters.losses may claim at most a day at the same rates.
inline constexpr uint64_t kMaxLinkBytesPerSecond = uint64_t{1} << 38;
inline constexpr uint64_t kMaxLinkPacketsPerSecond = uint64_t{1} << 33;
inline constexpr uint64_t kFlowSlackNanos = 1000000000;
inline constexpr uint64_t kMaxFlowSpanNanos = uint64_t{86400} * 1000000000;

// A record's span plus the slack, at most kMaxFlowSpanNanos.
uint64_t FlowAllowanceNanos(uint64_t span_ns);
// The most a record spanning `span_ns` may claim at `per_second`.
uint64_t FlowBound(uint64_t per_second, uint64_t span_ns);

// OK, or INVALID_ARGUMENT naming the first offending field the way a user
// finds it in the proto, e.g. "flows[3].src_addr: must be 4 or 16 bytes,
// got 5". Checks:
// - node non-empty (at most kMaxNodeNameSize bytes), seq >= 1;
// - interval_start_unix_nano set, interval_end_unix_nano not before it;
// - interfaces: names set and short enough to store, no ifindex twice;
// - every flow: ifindex listed in interfaces, direction set and known,
//   protocol, ports, ICMP type/code and TCP flags in their wire ranges,
//   addresses of 4 or 16 bytes and the same family on both sides, at least
//   one packet, first_seen and last_seen set and in order, packets and
//   bytes within FlowBound of the span between them;
// - counters: packets_exported and bytes_exported equal the sums over
//   flows, loss reasons known and each listed once, each loss count within
//   a day at the link rates above.
// Timestamps must fit in an int64 of nanoseconds (before year 2262).
absl::Status ValidateBatch(const weir::v1::FlowBatch& batch);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_BATCH_VALIDATOR_H_
