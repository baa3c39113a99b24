// Active connections: flows that saw a packet within the connection timeout,
// with their totals since they were first seen (the seeds' /api/live).
//
// Fed with every stored batch; entries whose last packet is older than the
// timeout are expired on access and when the table is full. Bounded: when
// full of active connections, new flows are counted in overflow() instead
// of being added, so memory stays fixed under a scan.
#ifndef WEIR_QUERYD_LIVE_TABLE_H_
#define WEIR_QUERYD_LIVE_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "queryd/query/flow_filter.h"
#include "queryd/store/store_types.h"
#include "weir/v1/ingest.pb.h"
#include "weir/v1/query.pb.h"

namespace weir::queryd {

struct LiveTableOptions {
  absl::Duration connection_timeout = absl::Seconds(60);
  size_t max_connections = 1 << 20;
  uint32_t default_limit = 50;
  uint32_t max_limit = 1000;
  // Paging (page_size, page_token): connections per page when a token
  // comes without page_size, and the most one page may ask for.
  uint32_t default_page_size = 100;
  uint32_t max_page_size = 1000;
};

class LiveTable {
 public:
  explicit LiveTable(LiveTableOptions options) : options_(options) {}

  LiveTable(const LiveTable&) = delete;
  LiveTable& operator=(const LiveTable&) = delete;

  // Adds the flows of a stored batch (store::FlowRecordsOf), received at
  // `now`. A flow of a connection not in the table is skipped when its last
  // packet is already older than the timeout; when the table is full,
  // connections past the timeout are expired before a new one is refused.
  void Add(const std::vector<store::FlowRecord>& flows, absl::Time now);

  // ListConnections: validates the request (INVALID_ARGUMENT naming the
  // field), then the matching active connections: the top `limit` by
  // order_by, or with page_size/page_token one page of every matching
  // connection in key order (see ListConnectionsRequest in query.proto for
  // what a walk guarantees while the table changes).
  absl::StatusOr<weir::v1::ListConnectionsResponse> List(
      const weir::v1::ListConnectionsRequest& request, absl::Time now);

  // Active connections at `now`.
  size_t Count(absl::Time now);

  // Flows not tracked because the table was full.
  uint64_t overflow() const;

 private:
  // Everything of a FlowRecord that identifies its flow.
  struct Key {
    uint32_t node;  // index in node_names_
    uint32_t ifindex;
    weir::v1::Direction direction;
    uint8_t protocol;
    store::Address src;
    store::Address dst;
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t icmp_type;
    uint8_t icmp_code;
    bool fragment;

    static Key Of(const store::FlowRecord& record, uint32_t node);
    // Every field: equality and hash go through it.
    auto Tie() const {
      return std::tie(node, ifindex, direction, protocol, src, dst, src_port,
                      dst_port, icmp_type, icmp_code, fragment);
    }
    bool operator==(const Key& other) const { return Tie() == other.Tie(); }
    template <typename H>
    friend H AbslHashValue(H h, const Key& key) {
      return H::combine(std::move(h), key.Tie());
    }
  };
  struct Entry {
    std::string ifname;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint64_t first_seen_unix_nano = 0;
    uint64_t last_seen_unix_nano = 0;
    uint8_t tcp_flags = 0;
  };

  // The key's bytes, in the order pages walk: node name (length first),
  // ifindex, direction, protocol, addresses, ports, ICMP type and code,
  // fragment; fixed-width fields big-endian. Two keys are equal exactly
  // when their bytes are, and the bytes depend on nothing but the key, so
  // the order holds across calls (and restarts).
  std::string PagingKeyLocked(const Key& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<weir::v1::ListConnectionsResponse> ListPage(
      const weir::v1::ListConnectionsRequest& request,
      const query::FlowFilter& filter, absl::Time now);

  void ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The index of a node's name in node_names_, added when new.
  uint32_t NodeIndexLocked(const std::string& node)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  store::FlowRecord ToRecordLocked(const Key& key, const Entry& entry) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LiveTableOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> table_ ABSL_GUARDED_BY(mu_);
  // Keys hold a node's index, not its name: a flow's key is then fixed-size,
  // hashed and compared without touching a string.
  std::vector<std::string> node_names_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> node_indexes_ ABSL_GUARDED_BY(mu_);
  uint64_t overflow_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_expiry_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_LIVE_TABLE_H_
