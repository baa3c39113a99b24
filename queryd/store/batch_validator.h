// Checks an ingest batch against the contract of ingest.proto before the
// store writes anything of it.

#ifndef WEIR_QUERYD_STORE_BATCH_VALIDATOR_H_
#define WEIR_QUERYD_STORE_BATCH_VALIDATOR_H_

#include <cstddef>

#include "absl/status/status.h"
#include "weir/v1/ingest.pb.h"

namespace weir::store {

// Longest node name accepted.
inline constexpr size_t kMaxNodeNameSize = 255;

// OK, or INVALID_ARGUMENT naming the first offending field the way a user
// finds it in the proto, e.g. "flows[3].src_addr: must be 4 or 16 bytes,
// got 5". Checks:
// - node non-empty (at most kMaxNodeNameSize bytes), seq >= 1;
// - interval_start_unix_nano set, interval_end_unix_nano not before it;
// - interfaces: names set and short enough to store, no ifindex twice;
// - every flow: ifindex listed in interfaces, direction set and known,
//   protocol, ports, ICMP type/code and TCP flags in their wire ranges,
//   addresses of 4 or 16 bytes and the same family on both sides, at least
//   one packet, first_seen and last_seen set and in order;
// - counters: packets_exported and bytes_exported equal the sums over
//   flows, loss reasons known and each listed once.
// Timestamps must fit in an int64 of nanoseconds (before year 2262).
absl::Status ValidateBatch(const weir::v1::FlowBatch& batch);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_BATCH_VALIDATOR_H_
